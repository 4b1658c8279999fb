/**
 * Where results live. A {@link Store} owns the layout of cached results (manifests by key,
 * objects by SHA-256), saving, restoring, checking out, verifying, garbage collection and what
 * happens when a cached result turns out corrupt. Nothing outside `store/` knows its folders.
 *
 * `local.ts` is the per-machine store under `.pipeline/` (always the first level); `s3.ts` is a
 * shared {@link RemoteStore} on S3-compatible storage, consulted when the local store misses and
 * published to after a stage ran.
 *
 * @module
 */
import type {
  CheckedOutRecord,
  Manifest,
  ManifestRead,
  OutputRecord,
} from "./manifest.ts";
import type { RunLock, RunLockOptions } from "./run_lock.ts";
import type { StaleReason } from "../plan/reasons.ts";
import type { InputHashes } from "../plan/key_record.ts";
import type { InputView } from "./inputs.ts";
import type { RemoteUnavailableError } from "./remote_retry.ts";
import type { UnpublishedEntry } from "./unpublished.ts";

export {
  cacheReason,
  CheckedOutRecord,
  CodeRecord,
  Manifest,
  MANIFEST_VERSION,
  type ManifestRead,
  OutputRecord,
  sealManifest,
} from "./manifest.ts";
export { RemoteUnavailableError, remoteUnavailableIn } from "./remote_retry.ts";
export type { UnpublishedEntry } from "./unpublished.ts";
export {
  checkInputsUnchanged,
  CorruptInputError,
  type InputView,
} from "./inputs.ts";
export {
  acquireRunLock,
  describeHolder,
  type RunLock,
  RunLockBusyError,
  RunLockInfo,
  type RunLockOptions,
} from "./run_lock.ts";

/** A result restored into a workspace, or why it could not be. */
export type RestoreResult =
  | {
    ok: true;
    manifest: Manifest;
    /** What was checked out (with mtimes for the lock file). */
    outputs: Record<string, CheckedOutRecord>;
  }
  | {
    ok: false;
    /** Why it is recomputed (shown as the stage's reason). */
    reason: StaleReason;
    /** Set when a cached result was found corrupt and removed (shown as a warning). */
    warning?: string;
  };

/** Options of {@link Store.restore}. */
export interface RestoreOptions {
  /** The outputs the stage declares (a manifest lacking one is corrupt). */
  declared: readonly string[];
  /** Absolute directory to check out into. */
  dir: string;
  /** Empty `dir` first (the engine owns default workspaces). */
  clean: boolean;
  /** Also look in the remote store when the local one misses. */
  remote?: boolean;
  /** The instance name, for messages. */
  name?: string;
}

/** The directories one stage run writes into. */
export interface RunDirs {
  /** Fresh empty directory for the declared outputs. */
  outDir: string;
  /** Persistent per-key scratch directory (checkpoints). */
  scratchDir: string;
  /** Directory for inputs a worker checks out for itself. */
  inputsDir: string;
}

/** Options of {@link Store.save}. */
export interface SaveOptions {
  /** Declared outputs, read from `outDir`. */
  declared: readonly string[];
  /** The manifest without its outputs and digest. */
  manifest: Omit<Manifest, "outputs" | "digest">;
  /** Runs after the outputs are stored and before the manifest is written; throw to publish nothing. */
  beforePublish?: () => Promise<void>;
}

/** What a store found for a key it was asked to make available locally. */
export type FetchResult =
  | { state: "local"; manifest: Manifest }
  | { state: "fetched"; manifest: Manifest }
  | { state: "missing"; reason: StaleReason; warning?: string };

/** One cached thing that gc removes. */
export interface GarbageItem {
  /** What it is. */
  kind: "manifest" | "object" | "scratch" | "temp";
  /** Path relative to the project root. */
  path: string;
  /** Bytes it takes. */
  bytes: number;
  /** Stage instance of a manifest, when known. */
  instance?: string;
}

/** One file of a stored result whose content is missing or no longer matches its hash. */
export interface ObjectProblem {
  /** Output path. */
  output: string;
  /** What is wrong. */
  problem: "missing" | "corrupt";
}

/** The result store an engine runs against. */
export interface Store {
  /** Where the store lives, for messages (e.g. `.pipeline/run.lock`). */
  readonly location: string;
  /** The remote level, when one is configured. */
  readonly remote: RemoteStore | undefined;
  /** Takes the store's run lock (one run or gc at a time). */
  lockRun(options: RunLockOptions): Promise<RunLock>;
  /** Removes what killed runs left (temp dirs and files); `dirs` adds workspace folders. Lock held. */
  removeLeftovers(dirs: readonly string[]): Promise<void>;
  /** Reads the local manifest of `key`. */
  readManifest(key: string): Promise<ManifestRead>;
  /**
   * One output of the cached result of `key`, read from the local store and checked against its
   * hash; undefined when the result or that output is not there intact. Writes nothing (status
   * and dry runs read a decision's round plan this way).
   */
  readOutput(key: string, output: string): Promise<Uint8Array | undefined>;
  /** Makes the result of `key` available locally (from the remote if needed), verified. */
  fetch(
    key: string,
    options: { declared: readonly string[]; remote?: boolean; name?: string },
  ): Promise<FetchResult>;
  /** Checks out the result of `key` into a workspace; a corrupt entry is removed and reported. */
  restore(key: string, options: RestoreOptions): Promise<RestoreResult>;
  /**
   * Checks the upstream outputs `inputs` names out into `dir/<instance>/`, each re-hashed; a
   * missing or corrupt object is removed with the result of `keys[instance]` that names it, and
   * throws a `CorruptInputError` (see `inputs.ts`).
   */
  linkInputs(
    inputs: InputHashes,
    dir: string,
    options: { keys: Readonly<Record<string, string>> },
  ): Promise<InputView>;
  /** Creates the directories of one stage run. */
  startRun(name: string, key: string): Promise<RunDirs>;
  /** Removes a finished run's temp directories (and, with `success`, its scratch dir). */
  endRun(dirs: RunDirs, options: { success: boolean }): Promise<void>;
  /** Stores `outDir`'s outputs and writes the manifest last; publishes it to the remote, if any. */
  save(outDir: string, options: SaveOptions): Promise<Manifest>;
  /** Publishes a locally cached result to the remote (`push`); false when it had one already. */
  publish(manifest: Manifest): Promise<"published" | "present">;
  /** Checks out stored outputs into `dir` (hard links where possible). */
  checkout(
    outputs: Record<string, OutputRecord>,
    dir: string,
    options: { clean: boolean },
  ): Promise<Record<string, CheckedOutRecord>>;
  /** Whether `path` is the stored object of `record` itself (a hard link), without hashing. */
  isStoredObject(path: string, record: OutputRecord): Promise<boolean>;
  /** Re-hashes the objects of `manifest`. */
  checkObjects(manifest: Manifest): Promise<ObjectProblem[]>;
  /** What gc would remove when only results of `keep` stay. */
  findGarbage(
    keep: ReadonlySet<string>,
    options: { tempDirs: readonly string[] },
  ): Promise<GarbageItem[]>;
  /** Removes what {@link findGarbage} found. */
  removeGarbage(items: readonly GarbageItem[]): Promise<void>;
  /** A directory for job logs (created). */
  logDir(): Promise<string>;
  /** Keeps what a coordinator tells the worker of `key` (also remotely, for other machines). */
  putJob(key: string, text: string): Promise<void>;
  /** What the coordinator told the worker of `key`; undefined when nothing was left. */
  getJob(key: string): Promise<string | undefined>;
  /** Copies the remote scratch files of `key` into `dir` (a requeued job resumes). */
  pullScratch(key: string, dir: string): Promise<number>;
  /** Copies changed files of `dir` to the remote scratch of `key`. */
  pushScratch(key: string, dir: string): Promise<number>;
  /** Forgets the remote scratch of `key` once its result is stored. */
  dropRemoteScratch(key: string): Promise<void>;
  /** Why the remote stopped answering in this process (after retries); undefined while it answers. */
  readonly remoteDown: RemoteUnavailableError | undefined;
  /** Results stored here but not published to the remote (it was down, or a worker died). */
  unpublished(): Promise<UnpublishedEntry[]>;
  /** Publishes what {@link unpublished} lists; returns the instances published. */
  publishPending(): Promise<string[]>;
}

/** A shared store on another machine (S3): objects by SHA-256, manifests by key. */
export interface RemoteStore {
  /** Where it is, e.g. `s3://bucket/prefix`. */
  readonly url: string;
  /**
   * Checks credentials and access once, before anything runs; throws a user error naming the
   * variable to set. With `publish`, also checks that create-only writes are enforced.
   */
  check(options: { publish: boolean }): Promise<void>;
  /** Reads the manifest of `key`. */
  readManifest(key: string): Promise<ManifestRead>;
  /** Downloads an object into `path` (the caller re-hashes it). */
  download(record: OutputRecord, path: string): Promise<void>;
  /** Uploads a local file as the object of `record`, unless present with that size. */
  upload(record: OutputRecord, path: string): Promise<void>;
  /** Writes a manifest only if none exists for its key; "exists" when another won. */
  createManifest(manifest: Manifest): Promise<"created" | "exists">;
  /** Removes a corrupt result: its manifest and the objects found bad. */
  removeCorrupt(key: string, records: readonly OutputRecord[]): Promise<void>;
  /** Stores a file of a running key (job spec, checkpoint), replacing any previous one. */
  putScratch(key: string, name: string, data: Uint8Array): Promise<void>;
  /** Reads a scratch file of `key`; undefined when absent. */
  getScratch(key: string, name: string): Promise<Uint8Array | undefined>;
  /** Names of the scratch files of `key`. */
  listScratch(key: string): Promise<string[]>;
  /** Removes the scratch files of `key` (its result is published). */
  removeScratch(key: string): Promise<void>;
}
