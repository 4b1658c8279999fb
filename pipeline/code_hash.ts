/**
 * Code hashing: the local modules in a stage's import graph, found by a small scanner.
 *
 * The scanner reads `import`/`export ... from` and `import("...")` string literals (no
 * subprocess, no type checker), so computing every stage's key stays cheap enough for a no-op
 * rerun. Files under the engine's own folder are excluded so that editing the engine does not
 * invalidate results; bare specifiers are recorded with their import-map target so that bumping
 * a pinned npm version changes the key of stages that import it.
 *
 * @module
 */
import { join, relative, sep } from "node:path";
import {
  fileURLToPath as fromFileUrl,
  pathToFileURL as toFileUrl,
} from "node:url";
import { UserError } from "./errors.ts";
import { sha256Bytes } from "./hash.ts";

/** What a stage's code hash is made of. */
export interface CodeFingerprint {
  /** Root-relative path (forward slashes) -> SHA-256 of the file's bytes. */
  files: Record<string, string>;
  /** Bare specifier as imported (`zod`) -> its import-map target (`npm:zod@4.6.7`). */
  packages: Record<string, string>;
}

/**
 * Blanks out comments while keeping string literals and line structure, so that a commented-out
 * import is not mistaken for a dependency.
 */
export function stripComments(source: string): string {
  let out = "";
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      while (i < n && source[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      i += 2;
      while (i < n && !(source[i] === "*" && source[i + 1] === "/")) {
        if (source[i] === "\n") out += "\n";
        i++;
      }
      i += 2;
      out += " ";
    } else if (c === '"' || c === "'" || c === "`") {
      const start = i;
      i++;
      while (i < n && source[i] !== c) {
        if (source[i] === "\\") i++;
        else if (c !== "`" && source[i] === "\n") break;
        i++;
      }
      i++;
      out += source.slice(start, i);
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC_IMPORT =
  /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?["']([^"'\n]+)["']/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*["']([^"'\n]+)["']\s*[,)]/g;

/** The module specifiers a source file imports, in order of appearance, without duplicates. */
export function scanImports(source: string): string[] {
  const code = stripComments(source);
  const found: { index: number; spec: string }[] = [];
  for (const match of code.matchAll(STATIC_IMPORT)) {
    found.push({ index: match.index ?? 0, spec: match[1] });
  }
  for (const match of code.matchAll(DYNAMIC_IMPORT)) {
    found.push({ index: match.index ?? 0, spec: match[1] });
  }
  found.sort((a, b) => a.index - b.index);
  return [...new Set(found.map((entry) => entry.spec))];
}

/** Where {@link resolveSpecifier} resolves from. */
export interface ResolveOptions {
  /** URL of the importing module. */
  referrer: URL;
  /** deno.json "imports". */
  importMap: Readonly<Record<string, string>>;
  /** URL of deno.json (relative import-map targets resolve against it). */
  mapBase: URL;
}

/** How a specifier resolved. */
export type Resolved =
  | { kind: "file"; url: URL }
  | { kind: "package"; name: string; target: string }
  | { kind: "external" };

/**
 * Resolves a specifier: relative and file: specifiers to file URLs; bare specifiers through the
 * import map (exact key, then the longest `prefix/` key, then `name/` under an `npm:` entry).
 * Everything else (npm:, jsr:, https:, node:) is external; its version is in the importing file.
 */
export function resolveSpecifier(
  specifier: string,
  options: ResolveOptions,
): Resolved {
  const { referrer, importMap, mapBase } = options;
  if (
    specifier.startsWith("./") || specifier.startsWith("../") ||
    specifier.startsWith("/") || specifier.startsWith("file:")
  ) {
    return { kind: "file", url: new URL(specifier, referrer) };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return { kind: "external" };
  const exact = importMap[specifier];
  if (exact !== undefined) return fromTarget(specifier, exact, "", mapBase);
  let best: string | undefined;
  for (const key of Object.keys(importMap)) {
    if (
      key.endsWith("/") && specifier.startsWith(key) &&
      (best === undefined || key.length > best.length)
    ) best = key;
  }
  if (best !== undefined) {
    return fromTarget(
      best,
      importMap[best],
      specifier.slice(best.length),
      mapBase,
    );
  }
  for (const [key, target] of Object.entries(importMap)) {
    if (specifier.startsWith(`${key}/`) && /^(npm|jsr):/.test(target)) {
      return { kind: "package", name: key, target };
    }
  }
  return { kind: "package", name: specifier, target: "(not in import map)" };
}

function fromTarget(
  key: string,
  target: string,
  rest: string,
  mapBase: URL,
): Resolved {
  if (
    target.startsWith("./") || target.startsWith("../") ||
    target.startsWith("/") || target.startsWith("file:")
  ) {
    return { kind: "file", url: new URL(target + rest, mapBase) };
  }
  return { kind: "package", name: key, target };
}

/** Options of {@link CodeHasher}. */
export interface CodeHasherOptions {
  /** Absolute project root; only files under it are hashed and their paths are relative to it. */
  root: string;
  /** Import map (deno.json "imports"); read from `<root>/deno.json` when omitted. */
  importMap?: Record<string, string>;
  /** Root-relative folders whose files are neither hashed nor followed. Default `["pipeline/"]`. */
  exclude?: string[];
}

/**
 * Computes {@link CodeFingerprint}s, caching file hashes and scans for its lifetime (one CLI
 * invocation), since many stages share modules.
 */
export class CodeHasher {
  #root: string;
  #importMap: Record<string, string> | undefined;
  #exclude: string[];
  #files = new Map<string, Promise<FileInfo | undefined>>();

  /** Creates a hasher for one project root. */
  constructor(options: CodeHasherOptions) {
    this.#root = options.root;
    this.#importMap = options.importMap;
    this.#exclude = options.exclude ?? ["pipeline/"];
  }

  /** The fingerprint of the import graph of `entry` (a file: URL or path). */
  async fingerprint(entry: string | URL): Promise<CodeFingerprint> {
    const importMap = await this.#loadImportMap();
    const mapBase = toFileUrl(join(this.#root, "deno.json"));
    const start = typeof entry === "string" && !entry.includes("://")
      ? toFileUrl(entry)
      : new URL(entry);
    const files: Record<string, string> = {};
    const packages: Record<string, string> = {};
    const seen = new Set<string>();
    const queue: URL[] = [start];
    while (queue.length > 0) {
      const url = queue.pop() as URL;
      if (seen.has(url.href)) continue;
      seen.add(url.href);
      const rel = this.#relativeIfLocal(url);
      if (rel === undefined) continue;
      const info = await this.#file(url, rel);
      if (info === undefined) {
        if (url.href === start.href) {
          throw new UserError(
            `stage code ${rel} does not exist; set code: import.meta.url in the stage declaration`,
          );
        }
        continue; // A scanned specifier that is not a file (e.g. in a string) is not code.
      }
      files[rel] = info.sha256;
      for (const spec of info.imports) {
        const resolved = resolveSpecifier(spec, {
          referrer: url,
          importMap,
          mapBase,
        });
        if (resolved.kind === "file") queue.push(resolved.url);
        else if (resolved.kind === "package") {
          packages[resolved.name] = resolved.target;
        }
      }
    }
    return { files: sortRecord(files), packages: sortRecord(packages) };
  }

  /**
   * SHA-256 of root-relative data files a stage declares in `files` (read, not imported).
   * Throws a {@link UserError} naming a missing file.
   */
  async dataFiles(
    stage: string,
    paths: readonly string[],
  ): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const rel of paths) {
      const info = await this.#file(toFileUrl(join(this.#root, rel)), rel);
      if (info === undefined) {
        throw new UserError(
          `stage ${stage}: file ${rel} (in its files list) does not exist; create it or remove it from files`,
        );
      }
      out[rel] = info.sha256;
    }
    return out;
  }

  #relativeIfLocal(url: URL): string | undefined {
    if (url.protocol !== "file:") return undefined;
    const rel = relative(this.#root, fromFileUrl(url)).split(sep).join("/");
    if (rel.startsWith("../") || rel === ".." || rel.startsWith("/")) {
      return undefined;
    }
    if (this.#exclude.some((prefix) => rel.startsWith(prefix))) {
      return undefined;
    }
    return rel;
  }

  #file(url: URL, rel: string): Promise<FileInfo | undefined> {
    let promise = this.#files.get(rel);
    if (promise === undefined) {
      promise = readFileInfo(url);
      this.#files.set(rel, promise);
    }
    return promise;
  }

  async #loadImportMap(): Promise<Record<string, string>> {
    if (this.#importMap === undefined) {
      this.#importMap = await readImportMap(this.#root);
    }
    return this.#importMap;
  }
}

interface FileInfo {
  sha256: string;
  imports: string[];
}

async function readFileInfo(url: URL): Promise<FileInfo | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(url);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.IsADirectory
    ) return undefined;
    throw error;
  }
  const sha256 = await sha256Bytes(bytes);
  const isScript = /\.(m|c)?[jt]sx?$/.test(url.pathname);
  const imports = isScript ? scanImports(new TextDecoder().decode(bytes)) : [];
  return { sha256, imports };
}

/** Reads `"imports"` of `<root>/deno.json` (or deno.jsonc); empty when there is none. */
export async function readImportMap(
  root: string,
): Promise<Record<string, string>> {
  for (const name of ["deno.json", "deno.jsonc"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(join(root, name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    let config: unknown;
    try {
      config = JSON.parse(name.endsWith("c") ? stripComments(text) : text);
    } catch (error) {
      throw new UserError(
        `${name}: not valid JSON (${(error as Error).message})`,
      );
    }
    const imports = (config as { imports?: unknown })?.imports;
    if (imports === undefined) return {};
    if (
      imports === null || typeof imports !== "object" || Array.isArray(imports)
    ) {
      throw new UserError(`${name}: "imports" must be an object`);
    }
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(imports)) {
      if (typeof value === "string") out[key] = value;
    }
    return out;
  }
  return {};
}

function sortRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key];
  return out;
}
