/**
 * Code hashing: the local modules in a stage's import graph, each hashed as the code it runs as.
 *
 * Each script is normalised (`plan/normalise.ts`: TypeScript erased, printed without comments or
 * formatting) and its hash and imports are read from that, remembered by content
 * (`plan/code_memo.ts`) so that a no-op run only reads and hashes bytes. The graph follows
 * `import`/`export ... from` and literal `import("...")`; a module loaded through a computed
 * specifier is not followed, so a stage that loads one (a training backend) names it in its
 * declaration's `codeFor`, from the same table the loader uses. Files under the engine's own
 * folder are excluded so that editing the engine does not invalidate results; bare specifiers
 * are recorded with their import-map target so that bumping a pinned npm version changes the key
 * of stages that import it. A test checks the graph against `deno info --json`.
 *
 * @module
 */
import { join, relative, sep } from "node:path";
import {
  fileURLToPath as fromFileUrl,
  pathToFileURL as toFileUrl,
} from "node:url";
import { UserError } from "../errors.ts";
import type { CodeFingerprint } from "./key_record.ts";
import { sha256Bytes, sha256Text } from "./hash.ts";
import { CodeMemo } from "./code_memo.ts";
import { NORMALISER, normaliseScript } from "./normalise.ts";

export type { CodeFingerprint } from "./key_record.ts";

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

// `\s*` rather than `\s+`: normalised code has no space in `import{a}from"../a.ts"`.
const STATIC_IMPORT =
  /(?:^|[;\n}])\s*(?:import|export)\s*(?:type\s+)?(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"'\n]+)["']/g;
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
  /** Where normalised hashes are remembered between runs (see `plan/code_memo.ts`); none: memory. */
  memoPath?: string;
}

/** What a file looked like on disk when it was hashed (to tell later whether it changed). */
export interface FileStamp {
  /** Size in bytes. */
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  /** Status change time, ms since the epoch (whole seconds on Deno: see `code_stability.ts`). */
  ctimeMs: number;
}

/**
 * Computes {@link CodeFingerprint}s, caching file hashes and scans for its lifetime (one CLI
 * invocation), since many stages share modules. A script's hash is that of its normalised code
 * (`plan/normalise.ts`): comments, formatting and type-only code do not count; its imports are
 * read from the normalised code too, so an `import type` (erased when it runs) is not followed.
 */
export class CodeHasher {
  #root: string;
  #importMap: Record<string, string> | undefined;
  #exclude: string[];
  #memoPath: string | undefined;
  #memo: Promise<CodeMemo> | undefined;
  #files = new Map<string, Promise<FileInfo | undefined>>();

  /** Creates a hasher for one project root. */
  constructor(options: CodeHasherOptions) {
    this.#root = options.root;
    this.#importMap = options.importMap;
    this.#exclude = options.exclude ?? ["pipeline/"];
    this.#memoPath = options.memoPath;
  }

  /** The fingerprint of the import graphs of `entries` (file: URLs or paths), merged. */
  async fingerprint(
    entries: string | URL | readonly (string | URL)[],
  ): Promise<CodeFingerprint> {
    const importMap = await this.#loadImportMap();
    const mapBase = toFileUrl(join(this.#root, "deno.json"));
    const starts = (Array.isArray(entries) ? entries : [entries]).map((
      entry,
    ) =>
      typeof entry === "string" && !entry.includes("://")
        ? toFileUrl(entry)
        : new URL(entry)
    );
    const startHrefs = new Set(starts.map((url) => url.href));
    const files: Record<string, string> = {};
    const packages: Record<string, string> = {};
    const seen = new Set<string>();
    const queue: URL[] = [...starts].reverse();
    while (queue.length > 0) {
      const url = queue.pop() as URL;
      if (seen.has(url.href)) continue;
      seen.add(url.href);
      const rel = this.#relativeIfLocal(url);
      if (rel === undefined) continue;
      const info = await this.#file(url, rel);
      if (info === undefined) {
        if (startHrefs.has(url.href)) {
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
      const info = await this.#file(toFileUrl(join(this.#root, rel)), rel, {
        data: true,
      });
      if (info === undefined) {
        throw new UserError(
          `stage ${stage}: file ${rel} (in its files list) does not exist; create it or remove it from files`,
        );
      }
      out[rel] = info.sha256;
    }
    return out;
  }

  /** How each file hashed so far looked on disk when it was read (root-relative path -> stamp). */
  async stamps(): Promise<Map<string, FileStamp>> {
    const out = new Map<string, FileStamp>();
    for (const [rel, promise] of this.#files) {
      const info = await promise;
      if (info !== undefined) out.set(rel.replace(/^data:/, ""), info.stamp);
    }
    return out;
  }

  /** Writes the normalisation memo (call once planning is done). */
  async saveMemo(): Promise<void> {
    if (this.#memo !== undefined) await (await this.#memo).save();
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

  #file(
    url: URL,
    rel: string,
    options: { data?: boolean } = {},
  ): Promise<FileInfo | undefined> {
    // A data file is hashed as bytes even when it is also imported as a script.
    const id = options.data ? `data:${rel}` : rel;
    let promise = this.#files.get(id);
    if (promise === undefined) {
      this.#memo ??= CodeMemo.open(this.#memoPath, { normaliser: NORMALISER });
      promise = readFileInfo(url, rel, {
        memo: this.#memo,
        script: !options.data && isScript(url),
      });
      this.#files.set(id, promise);
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
  stamp: FileStamp;
}

function isScript(url: URL): boolean {
  return /\.(m|c)?[jt]sx?$/.test(url.pathname);
}

async function readFileInfo(
  url: URL,
  rel: string,
  options: { memo: Promise<CodeMemo>; script: boolean },
): Promise<FileInfo | undefined> {
  let bytes: Uint8Array;
  let stat: Deno.FileInfo;
  try {
    // Stat first: a write after it shows in a later stat, so the stamp never hides a change.
    stat = await Deno.stat(url);
    bytes = await Deno.readFile(url);
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.IsADirectory
    ) return undefined;
    throw error;
  }
  const stamp: FileStamp = {
    size: stat.size,
    mtimeMs: stat.mtime?.getTime() ?? 0,
    ctimeMs: stat.ctime?.getTime() ?? 0,
  };
  const raw = await sha256Bytes(bytes);
  if (!options.script) return { sha256: raw, imports: [], stamp };
  const memo = await options.memo;
  let entry = memo.get(raw);
  if (entry === undefined) {
    const { code } = await normaliseScript(new TextDecoder().decode(bytes), {
      path: rel,
    });
    entry = { sha256: await sha256Text(code), imports: scanImports(code) };
    memo.set(raw, entry);
  }
  return { sha256: entry.sha256, imports: entry.imports, stamp };
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
