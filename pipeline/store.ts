/**
 * The content-addressed store under `.pipeline/`: objects by SHA-256 (read-only files), one
 * manifest per stage key, and checkout of outputs into workspace directories.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { z } from "zod";
import { ItemSchema } from "./items.ts";
import {
  readTextOrUndefined,
  removeIfExists,
  statOrUndefined,
  tempPathFor,
  type WriteFile,
  writeFileAtomic,
} from "./fs.ts";
import { sha256File } from "./hash.ts";
import { DiskFullError, isDiskFull, UserError } from "./errors.ts";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One stored output file. */
export const OutputRecord = z.strictObject({
  sha256: Sha256,
  size: z.number().int().nonnegative(),
});
/** One stored output file. */
export type OutputRecord = z.infer<typeof OutputRecord>;

/** The code part of a key record. */
export const CodeRecord = z.strictObject({
  files: z.record(z.string(), Sha256),
  packages: z.record(z.string(), z.string()),
});

/** `.pipeline/runs/<key>.json`: what a finished stage instance produced. Written last. */
export const Manifest = z.strictObject({
  version: z.literal(1),
  key: Sha256,
  stage: z.string(),
  instance: z.string(),
  item: ItemSchema.nullable(),
  params: z.unknown(),
  code: CodeRecord,
  upstream: z.record(z.string(), Sha256),
  outputs: z.record(z.string(), OutputRecord),
  seconds: z.number().nonnegative(),
  finishedAt: z.string(),
});
/** A validated manifest. */
export type Manifest = z.infer<typeof Manifest>;

/** A checked-out output: the stored record plus the workspace file's mtime (ms). */
export const CheckedOutRecord = z.strictObject({
  sha256: Sha256,
  size: z.number().int().nonnegative(),
  mtime: z.number(),
});
/** A checked-out output. */
export type CheckedOutRecord = z.infer<typeof CheckedOutRecord>;

/** Result of reading a manifest. */
export type ManifestRead =
  | { state: "missing" }
  | { state: "invalid"; reason: string }
  | { state: "ok"; manifest: Manifest };

/** The one reason a result that is needed is not in the cache (no manifest for its key). */
export const NOT_IN_CACHE = "not in cache";

/** Why the result of a key cannot be restored, from its manifest read; undefined when it can. */
export function cacheReason(read: ManifestRead): string | undefined {
  switch (read.state) {
    case "ok":
      return undefined;
    case "missing":
      return NOT_IN_CACHE;
    case "invalid":
      return `cache entry corrupt (manifest: ${read.reason})`;
  }
}

/** Options of {@link Store}. */
export interface StoreOptions {
  /** Writes manifests; default `Deno.writeFile` (tests inject faults). */
  writeFile?: WriteFile;
}

/** The store of one project root. */
export class Store {
  /** Absolute `.pipeline` directory. */
  readonly dir: string;
  #writeFile: WriteFile | undefined;

  /** Opens (lazily creates) the store under `<root>/.pipeline`. */
  constructor(root: string, options: StoreOptions = {}) {
    this.dir = join(root, ".pipeline");
    this.#writeFile = options.writeFile;
  }

  /** Path of the object with hash `sha256`. */
  objectPath(sha256: string): string {
    return join(this.dir, "objects", sha256.slice(0, 2), sha256.slice(2));
  }

  /** Path of the manifest of `key`. */
  manifestPath(key: string): string {
    return join(this.dir, "runs", `${key}.json`);
  }

  /** Persistent scratch directory of `key`. */
  scratchPath(key: string): string {
    return join(this.dir, "scratch", key);
  }

  /** A fresh empty temp directory on the store's file system (so renames into it are atomic). */
  async makeTempDir(prefix: string): Promise<string> {
    const parent = join(this.dir, "tmp");
    await Deno.mkdir(parent, { recursive: true });
    return await Deno.makeTempDir({ dir: parent, prefix: `${prefix}-` });
  }

  /** Reads and validates the manifest of `key`. */
  async readManifest(key: string): Promise<ManifestRead> {
    const text = await readTextOrUndefined(this.manifestPath(key));
    if (text === undefined) return { state: "missing" };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return { state: "invalid", reason: (error as Error).message };
    }
    const parsed = Manifest.safeParse(json);
    if (!parsed.success) {
      return {
        state: "invalid",
        reason: parsed.error.issues[0]?.message ?? "invalid",
      };
    }
    if (parsed.data.key !== key) {
      return { state: "invalid", reason: "key does not match file name" };
    }
    return { state: "ok", manifest: parsed.data };
  }

  /** Writes a manifest atomically (call it last, after every object is stored). */
  async writeManifest(manifest: Manifest): Promise<void> {
    await writeFileAtomic(
      this.manifestPath(manifest.key),
      JSON.stringify(manifest, null, 2) + "\n",
      { writeFile: this.#writeFile },
    );
  }

  /** Removes the manifest of `key` (a result found corrupt). */
  async removeManifest(key: string): Promise<void> {
    await removeIfExists(this.manifestPath(key));
  }

  /**
   * Moves the declared outputs out of `outDir` into the object store and returns their records.
   * Throws a {@link UserError} listing declared outputs that run() did not write.
   */
  async putOutputs(
    outDir: string,
    outputs: readonly string[],
  ): Promise<Record<string, OutputRecord>> {
    const missing: string[] = [];
    for (const output of outputs) {
      const info = await statOrUndefined(join(outDir, output));
      if (info === undefined || !info.isFile) missing.push(output);
      else if ((await Deno.lstat(join(outDir, output))).isSymlink) {
        // Moving a link into the store would store the link, not the content.
        throw new UserError(
          `output ${output} is a symbolic link; write a regular file (copy the content)`,
        );
      }
    }
    if (missing.length > 0) {
      throw new UserError(
        `did not write its declared output${missing.length > 1 ? "s" : ""} ${
          missing.join(", ")
        }`,
      );
    }
    const records: Record<string, OutputRecord> = {};
    for (const output of outputs) {
      const source = join(outDir, output);
      const record = await sha256File(source);
      const target = this.objectPath(record.sha256);
      await Deno.mkdir(dirname(target), { recursive: true });
      // Read-only objects guard against edits through a hard-linked checkout.
      if (Deno.build.os !== "windows") await Deno.chmod(source, 0o444);
      // Renaming over an existing object replaces it atomically, which also heals a corrupt one.
      await Deno.rename(source, target);
      records[output] = record;
    }
    return records;
  }

  /** Output paths of `manifest` whose object is missing or no longer matches its hash (full re-hash). */
  async corruptObjects(manifest: Manifest): Promise<string[]> {
    const bad: string[] = [];
    for (const [output, record] of Object.entries(manifest.outputs)) {
      const path = this.objectPath(record.sha256);
      const info = await statOrUndefined(path);
      if (info === undefined || info.size !== record.size) {
        bad.push(output);
        continue;
      }
      const actual = await sha256File(path);
      if (actual.sha256 !== record.sha256) bad.push(output);
    }
    return bad;
  }

  /** Removes the objects of the given outputs (found corrupt) so they are recomputed. */
  async removeObjects(records: Iterable<OutputRecord>): Promise<void> {
    for (const record of records) {
      await removeIfExists(this.objectPath(record.sha256));
    }
  }

  /**
   * Checks out outputs into `dir`: a hardlink to the object when possible, else a copy.
   * With `clean`, the directory is emptied first (the engine owns default workspaces).
   */
  async checkout(
    outputs: Record<string, OutputRecord>,
    dir: string,
    options: { clean: boolean },
  ): Promise<Record<string, CheckedOutRecord>> {
    if (options.clean) await removeIfExists(dir);
    const result: Record<string, CheckedOutRecord> = {};
    for (const [output, record] of Object.entries(outputs)) {
      const target = join(dir, output);
      await Deno.mkdir(dirname(target), { recursive: true });
      await removeIfExists(target);
      const object = this.objectPath(record.sha256);
      try {
        await Deno.link(object, target);
      } catch {
        await copyAtomic(object, target);
      }
      const info = await Deno.stat(target);
      result[output] = {
        sha256: record.sha256,
        size: info.size,
        mtime: info.mtime?.getTime() ?? 0,
      };
    }
    return result;
  }
}

/** Copies `source` to `target` through a temp file; a full disk names `target` and keeps nothing. */
async function copyAtomic(source: string, target: string): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await Deno.copyFile(source, temp);
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o644);
    await Deno.rename(temp, target);
  } catch (error) {
    await removeIfExists(temp);
    if (isDiskFull(error)) throw new DiskFullError(target, error);
    throw error;
  }
}

/** Declared outputs whose checked-out file is missing or has another size or mtime (no hashing). */
export async function changedOutputs(
  dir: string,
  options: {
    recorded: Record<string, CheckedOutRecord>;
    declared: readonly string[];
  },
): Promise<string[]> {
  const { recorded: outputs, declared } = options;
  const changed: string[] = [];
  for (const output of declared) {
    const record = outputs[output];
    const info = await statOrUndefined(join(dir, output));
    if (
      record === undefined || info === undefined || !info.isFile ||
      info.size !== record.size || (info.mtime?.getTime() ?? 0) !== record.mtime
    ) changed.push(output);
  }
  return changed;
}

/** Throws a user error when `path` exists but is not a directory. */
export async function ensureDirectory(path: string): Promise<void> {
  const info = await statOrUndefined(path);
  if (info !== undefined && !info.isDirectory) {
    throw new UserError(`${path} exists and is not a directory; move it away`);
  }
  await Deno.mkdir(path, { recursive: true });
}
