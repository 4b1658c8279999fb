/**
 * The per-machine store under `.pipeline/`: objects by SHA-256 (read-only files) in
 * `objects/`, one manifest per stage key in `runs/`, scratch dirs per key, temp dirs, the run
 * lock, and checkout of outputs into workspace directories. With a {@link RemoteStore} it is the
 * first level: a miss is looked up remotely, and what runs here is published there.
 *
 * @module
 */
import { dirname, join } from "node:path";
import {
  readTextOrUndefined,
  removeIfExists,
  removeTempFiles,
  statOrUndefined,
  type WriteFile,
  writeFileAtomic,
} from "../fs.ts";
import { sha256Bytes, sha256File } from "../plan/hash.ts";
import { UserError } from "../errors.ts";
import type { StaleReason } from "../plan/reasons.ts";
import {
  type CheckedOutRecord,
  type Manifest,
  type ManifestRead,
  manifestText,
  type OutputRecord,
  parseManifest,
  sealManifest,
} from "./manifest.ts";
import { checkoutObjects } from "./checkout.ts";
import { type InputView, linkInputs } from "./inputs.ts";
import type { InputHashes } from "../plan/key_record.ts";
import { findGarbage } from "./local_gc.ts";
import { ScratchFiles } from "./scratch.ts";
import { pullResult } from "./pull.ts";
import {
  type RemoteUnavailableError,
  remoteUnavailableIn,
} from "./remote_retry.ts";
import { type UnpublishedEntry, UnpublishedList } from "./unpublished.ts";
import {
  acquireRunLock,
  type RunLock,
  type RunLockOptions,
} from "./run_lock.ts";
import type {
  FetchResult,
  GarbageItem,
  ObjectProblem,
  RemoteStore,
  RestoreOptions,
  RestoreResult,
  RunDirs,
  SaveOptions,
  Store,
} from "./mod.ts";

/** Where planning remembers normalised code hashes (see `plan/code_memo.ts`) under `root`. */
export function codeMemoPath(root: string): string {
  return join(root, ".pipeline", "code", "normalised.json");
}

/** Options of {@link LocalStore}. */
export interface LocalStoreOptions {
  /** Writes manifests; default `Deno.writeFile` (tests inject faults). */
  writeFile?: WriteFile;
  /** The shared second level. */
  remote?: RemoteStore;
  /** Called when a remote result was found corrupt and healed, or a publish lost a race. */
  onWarning?: (message: string) => void;
}

/** The store of one project root, under `<root>/.pipeline`. */
export class LocalStore implements Store {
  /** Absolute `.pipeline` directory. */
  readonly dir: string;
  /** The remote level, if configured. */
  readonly remote: RemoteStore | undefined;
  readonly #root: string;
  #writeFile: WriteFile | undefined;
  #scratch: ScratchFiles;
  #onWarning: (message: string) => void;
  #unpublished: UnpublishedList;
  #down: RemoteUnavailableError | undefined;

  /** Opens (lazily creates) the store under `<root>/.pipeline`. */
  constructor(root: string, options: LocalStoreOptions = {}) {
    this.#root = root;
    this.dir = join(root, ".pipeline");
    this.remote = options.remote;
    this.#writeFile = options.writeFile;
    this.#onWarning = options.onWarning ?? (() => {});
    this.#scratch = new ScratchFiles(join(this.dir, "jobs"), this.remote);
    this.#unpublished = new UnpublishedList(join(this.dir, "unpublished"));
  }

  /** Why the remote stopped answering in this process; undefined while it answers. */
  get remoteDown(): RemoteUnavailableError | undefined {
    return this.#down;
  }

  /**
   * Runs a call to the remote. Once one gave up (the remote is unreachable after its retries),
   * later ones fail at once with the same error: each would wait as long again.
   */
  async #remoteCall<T>(call: () => Promise<T>): Promise<T> {
    if (this.#down !== undefined) throw this.#down;
    try {
      return await call();
    } catch (error) {
      const down = remoteUnavailableIn(error);
      if (down !== undefined && this.#down === undefined) {
        this.#down = down;
        this.#onWarning(
          `${down.message}; results are computed and kept here, and published when it answers ` +
            `again (the next run or \`push\` does it)`,
        );
      }
      throw error;
    }
  }

  /** Where the store lives. */
  get location(): string {
    return ".pipeline/";
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

  /** Takes `.pipeline/run.lock`. */
  lockRun(options: RunLockOptions): Promise<RunLock> {
    return acquireRunLock(this.dir, options);
  }

  /** Removes `.pipeline/tmp` and temp files next to manifests and in `dirs`. */
  async removeLeftovers(dirs: readonly string[]): Promise<void> {
    await removeIfExists(join(this.dir, "tmp"));
    const all = new Set([this.dir, join(this.dir, "runs"), ...dirs]);
    for (const dir of all) await removeTempFiles(dir);
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
    return parseManifest(text, key);
  }

  /** See {@link Store.readOutput}. */
  async readOutput(
    key: string,
    output: string,
  ): Promise<Uint8Array | undefined> {
    const read = await this.readManifest(key);
    if (read.state !== "ok") return undefined;
    const record = read.manifest.outputs[output];
    if (record === undefined) return undefined;
    let data: Uint8Array;
    try {
      data = await Deno.readFile(this.objectPath(record.sha256));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    return await sha256Bytes(data) === record.sha256 ? data : undefined;
  }

  /** Writes a manifest atomically (call it last, after every object is stored). */
  async writeManifest(manifest: Manifest): Promise<void> {
    await writeFileAtomic(
      this.manifestPath(manifest.key),
      manifestText(manifest),
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
      await this.adoptObject(source, record);
      records[output] = record;
    }
    return records;
  }

  /** Moves a file whose hash is `record` into the object store (atomically; heals a corrupt one). */
  async adoptObject(source: string, record: OutputRecord): Promise<void> {
    const target = this.objectPath(record.sha256);
    await Deno.mkdir(dirname(target), { recursive: true });
    // Read-only objects guard against edits through a hard-linked checkout.
    if (Deno.build.os !== "windows") await Deno.chmod(source, 0o444);
    await Deno.rename(source, target);
  }

  /** Output paths of `manifest` whose object is missing or no longer matches its hash (full re-hash). */
  async corruptObjects(manifest: Manifest): Promise<string[]> {
    return (await this.checkObjects(manifest)).map((p) => p.output);
  }

  /** Objects of `manifest` that are missing or no longer match their hash. */
  async checkObjects(manifest: Manifest): Promise<ObjectProblem[]> {
    const bad: ObjectProblem[] = [];
    for (const [output, record] of Object.entries(manifest.outputs)) {
      const path = this.objectPath(record.sha256);
      const info = await statOrUndefined(path);
      if (info === undefined) {
        bad.push({ output, problem: "missing" });
      } else if (
        info.size !== record.size ||
        (await sha256File(path)).sha256 !== record.sha256
      ) {
        bad.push({ output, problem: "corrupt" });
      }
    }
    return bad;
  }

  async #hasObject(record: OutputRecord): Promise<boolean> {
    const path = this.objectPath(record.sha256);
    const info = await statOrUndefined(path);
    return info !== undefined && info.size === record.size &&
      (await sha256File(path)).sha256 === record.sha256;
  }

  /** Removes the objects of the given outputs (found corrupt) so they are recomputed. */
  async removeObjects(records: Iterable<OutputRecord>): Promise<void> {
    for (const record of records) {
      await removeIfExists(this.objectPath(record.sha256));
    }
  }

  /** Whether `path` is the object of `record` itself (same inode), without hashing. */
  async isStoredObject(path: string, record: OutputRecord): Promise<boolean> {
    const [object, info] = await Promise.all([
      statOrUndefined(this.objectPath(record.sha256)),
      statOrUndefined(path),
    ]);
    return object !== undefined && info !== undefined && object.ino !== null &&
      object.ino === info.ino && object.dev === info.dev;
  }

  /**
   * The local result of `key`, verified; else, with a remote, the remote one downloaded and
   * re-hashed. A corrupt local entry is removed; a corrupt remote one is reported and healed.
   */
  async fetch(
    key: string,
    options: { declared: readonly string[]; remote?: boolean; name?: string },
  ): Promise<FetchResult> {
    const local = await this.#verifiedLocal(
      key,
      options.declared,
      options.name ?? key,
    );
    if (local.ok) return { state: "local", manifest: local.manifest };
    if (this.remote === undefined || options.remote === false) {
      return { state: "missing", reason: local.reason, warning: local.warning };
    }
    const remote = this.remote;
    const pulled = await this.#remoteCall(() =>
      pullResult(remote, key, {
        declared: options.declared,
        tempDir: () => this.makeTempDir("pull"),
        adopt: (path, record) => this.adoptObject(path, record),
        has: (record) => this.#hasObject(record),
      })
    ).catch((error) => {
      // Unreachable (said once by #remoteCall): a miss here, computed and published later.
      if (remoteUnavailableIn(error) !== undefined) {
        return { state: "missing" as const, warning: undefined };
      }
      throw error;
    });
    if (pulled.state !== "ok") {
      const warning = [local.warning, pulled.warning].filter(Boolean).join(
        "; ",
      );
      return {
        state: "missing",
        reason: local.reason,
        warning: warning === "" ? undefined : warning,
      };
    }
    await this.writeManifest(pulled.manifest);
    return { state: "fetched", manifest: pulled.manifest };
  }

  async #verifiedLocal(
    key: string,
    declared: readonly string[],
    name: string,
  ): Promise<
    { ok: true; manifest: Manifest } | {
      ok: false;
      reason: StaleReason;
      warning?: string;
    }
  > {
    const read = await this.readManifest(key);
    if (read.state === "missing") {
      return { ok: false, reason: { kind: "not-in-cache" } };
    }
    if (read.state === "old-format") {
      return { ok: false, reason: { kind: "key-format" } };
    }
    if (read.state === "invalid") {
      await this.removeManifest(key);
      return {
        ok: false,
        reason: { kind: "cached-result-invalid" },
        warning: `manifest of ${name} is invalid (${read.reason})`,
      };
    }
    const manifest = read.manifest;
    const corrupt = [
      ...declared.filter((o) => !(o in manifest.outputs)),
      ...await this.corruptObjects(manifest),
    ];
    if (corrupt.length === 0) return { ok: true, manifest };
    await this.removeObjects(
      corrupt.flatMap((o) => manifest.outputs[o] ? [manifest.outputs[o]] : []),
    );
    await this.removeManifest(key);
    return {
      ok: false,
      reason: { kind: "cached-result-corrupt", outputs: corrupt },
      warning: `cached result of ${name} is corrupt (${
        corrupt.join(", ")
      }): its content no longer matches its hash`,
    };
  }

  /** Restores `key` into `options.dir`; see {@link Store.restore}. */
  async restore(key: string, options: RestoreOptions): Promise<RestoreResult> {
    const found = await this.fetch(key, {
      declared: options.declared,
      remote: options.remote ?? false,
      name: options.name,
    });
    if (found.state === "missing") {
      return { ok: false, reason: found.reason, warning: found.warning };
    }
    const outputs = await this.checkout(found.manifest.outputs, options.dir, {
      clean: options.clean,
    });
    return { ok: true, manifest: found.manifest, outputs };
  }

  /** Checks verified inputs out into `dir` (see {@link Store.linkInputs}). */
  linkInputs(
    inputs: InputHashes,
    dir: string,
    options: { keys: Readonly<Record<string, string>> },
  ): Promise<InputView> {
    return linkInputs(inputs, dir, {
      objectPath: (sha256) => this.objectPath(sha256),
      discard: async ({ sha256, instance }) => {
        await removeIfExists(this.objectPath(sha256));
        const key = options.keys[instance];
        if (key !== undefined) await this.removeManifest(key);
      },
    });
  }

  /** Creates a run's temp output dir, scratch dir and inputs dir. */
  async startRun(name: string, key: string): Promise<RunDirs> {
    const outDir = await this.makeTempDir(name.replace("@", "-"));
    const inputsDir = await this.makeTempDir(`${name.replace("@", "-")}-in`);
    const scratchDir = this.scratchPath(key);
    await Deno.mkdir(scratchDir, { recursive: true });
    return { outDir, scratchDir, inputsDir };
  }

  /** Removes a run's temp dirs; its scratch dir only on success. */
  async endRun(dirs: RunDirs, options: { success: boolean }): Promise<void> {
    await removeIfExists(dirs.outDir);
    await removeIfExists(dirs.inputsDir);
    if (options.success) await removeIfExists(dirs.scratchDir);
  }

  /** Stores outputs, runs `beforePublish`, writes the manifest last, then publishes it remotely. */
  async save(outDir: string, options: SaveOptions): Promise<Manifest> {
    const outputs = await this.putOutputs(outDir, options.declared);
    await options.beforePublish?.();
    const manifest = sealManifest({ ...options.manifest, outputs });
    // The manifest is written last: without it nothing above counts as a result.
    await this.writeManifest(manifest);
    if (this.remote === undefined) return manifest;
    // Listed before publishing: a worker killed in between leaves it listed for the next run.
    await this.#unpublished.add({
      instance: manifest.instance,
      key: manifest.key,
    });
    let published: "published" | "present";
    try {
      published = await this.publish(manifest);
    } catch (error) {
      // Kept here and listed; the run names it and the next run or `push` publishes it.
      if (remoteUnavailableIn(error) !== undefined) return manifest;
      throw error;
    }
    if (published === "published") return manifest;
    return await this.#adopt(manifest, options.declared);
  }

  /** Another machine published this key first: its result wins and this one adopts it. */
  async #adopt(
    ours: Manifest,
    declared: readonly string[],
  ): Promise<Manifest> {
    const theirs = await this.#remoteCall(() =>
      (this.remote as RemoteStore).readManifest(ours.key)
    );
    if (theirs.state !== "ok") return ours;
    const same = Object.entries(ours.outputs).every(([output, record]) =>
      theirs.manifest.outputs[output]?.sha256 === record.sha256
    );
    if (same) return ours;
    await this.removeManifest(ours.key);
    const found = await this.fetch(ours.key, { declared });
    if (found.state === "missing") {
      await this.writeManifest(ours);
      return ours;
    }
    this.#onWarning(
      `${ours.instance}: another machine published this key first; its result is used`,
    );
    return found.manifest;
  }

  /** Uploads the objects of a local result, then creates its remote manifest (first wins). */
  async publish(manifest: Manifest): Promise<"published" | "present"> {
    const remote = this.remote;
    if (remote === undefined) {
      throw new UserError(
        "no remote store is configured; set PIPELINE_REMOTE=s3://bucket/prefix",
      );
    }
    const created = await this.#remoteCall(async () => {
      for (const record of Object.values(manifest.outputs)) {
        await remote.upload(record, this.objectPath(record.sha256));
      }
      return await remote.createManifest(manifest);
    });
    await this.#unpublished.remove(manifest.key);
    return created === "created" ? "published" : "present";
  }

  /** Results stored here whose publication has not happened (see `unpublished.ts`). */
  unpublished(): Promise<UnpublishedEntry[]> {
    return this.#unpublished.entries();
  }

  /**
   * Publishes the listed results (computed while the remote was down); returns the instances
   * published. Stops at the first unreachable call (what is left stays listed).
   */
  async publishPending(): Promise<string[]> {
    if (this.remote === undefined) return [];
    const published: string[] = [];
    for (const entry of await this.#unpublished.entries()) {
      const read = await this.readManifest(entry.key);
      if (read.state !== "ok") {
        // No longer here (gc, found corrupt): nothing to publish.
        await this.#unpublished.remove(entry.key);
        continue;
      }
      try {
        if (await this.publish(read.manifest) === "published") {
          published.push(entry.instance);
        }
      } catch (error) {
        if (remoteUnavailableIn(error) !== undefined) break;
        throw error;
      }
    }
    return published;
  }

  /** Checks out outputs into `dir` (hard links to the objects where possible, else copies). */
  checkout(
    outputs: Record<string, OutputRecord>,
    dir: string,
    options: { clean: boolean },
  ): Promise<Record<string, CheckedOutRecord>> {
    return checkoutObjects(outputs, dir, {
      ...options,
      objectPath: (sha256) => this.objectPath(sha256),
    });
  }

  /** `.pipeline/logs`. */
  async logDir(): Promise<string> {
    const dir = join(this.dir, "logs");
    await Deno.mkdir(dir, { recursive: true });
    return dir;
  }

  /** Writes `.pipeline/jobs/<key>.json` (and the remote copy). */
  putJob(key: string, text: string): Promise<void> {
    return this.#remoteCall(() => this.#scratch.putJob(key, text));
  }

  /** Reads the job of `key`, locally or from the remote. */
  getJob(key: string): Promise<string | undefined> {
    return this.#scratch.getJob(key);
  }

  /** Downloads the remote scratch files (checkpoints) of `key` into `dir`. */
  pullScratch(key: string, dir: string): Promise<number> {
    return this.#scratch.pull(key, dir);
  }

  /** Removes the remote scratch files (job spec, checkpoints) of a finished key. */
  async dropRemoteScratch(key: string): Promise<void> {
    await this.remote?.removeScratch(key);
  }

  /** Uploads files of `dir` changed since the last push to the remote scratch of `key`. */
  pushScratch(key: string, dir: string): Promise<number> {
    return this.#scratch.push(key, dir);
  }

  /** Manifests, objects, scratch and temp items that results of `keep` do not use. */
  findGarbage(
    keep: ReadonlySet<string>,
    options: { tempDirs: readonly string[] },
  ): Promise<GarbageItem[]> {
    return findGarbage(this, { root: this.#root, keep, ...options });
  }

  /** Removes what {@link findGarbage} found. */
  async removeGarbage(items: readonly GarbageItem[]): Promise<void> {
    for (const item of items) {
      await removeIfExists(join(this.#root, item.path));
    }
  }
}
