/**
 * `pipeline.lock`: what each instance last produced and where it is checked out (like dvc.lock).
 * The run lock (one run at a time) is `run_lock.ts`.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { ItemSchema } from "./plan/items.ts";
import { UserError } from "./errors.ts";
import {
  readTextOrUndefined,
  writeFileAtomic,
  type WriteOptions,
} from "./fs.ts";
import { canonicalJson } from "./plan/hash.ts";
import { CheckedOutRecord, CodeRecord } from "./store/manifest.ts";

/** One instance in `pipeline.lock`. */
export const LockEntry = z.strictObject({
  stage: z.string(),
  item: ItemSchema.nullable(),
  key: z.string(),
  params: z.unknown(),
  code: CodeRecord,
  /** Direct upstream instance -> output file -> SHA-256 it read (the inputs in its key). */
  inputs: z.record(z.string(), z.record(z.string(), z.string())),
  workspace: z.string(),
  outputs: z.record(z.string(), CheckedOutRecord),
  /** Seconds the computation took when it ran. */
  seconds: z.number().nonnegative().optional(),
});
/** One instance in `pipeline.lock`. */
export type LockEntry = z.infer<typeof LockEntry>;

/** The lock format this engine writes (1: keys made of upstream keys). */
export const LOCK_VERSION = 2;

/** `pipeline.lock`. */
export const LockFile = z.strictObject({
  version: z.literal(LOCK_VERSION),
  instances: z.record(z.string(), LockEntry),
});
/** `pipeline.lock`, as read: `olderFormat` names the instances an older format recorded. */
export type LockFile = z.infer<typeof LockFile> & {
  /** Instances recorded by an older lock format (their entries are dropped). */
  olderFormat?: ReadonlySet<string>;
};

/** Name of the lock file at the root. */
export const LOCK_FILE = "pipeline.lock";

/** Reads `pipeline.lock`; an absent file is an empty lock. */
export async function readLockFile(root: string): Promise<LockFile> {
  const text = await readTextOrUndefined(join(root, LOCK_FILE));
  if (text === undefined) return { version: LOCK_VERSION, instances: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalidLock((error as Error).message);
  }
  const older = OlderLock.safeParse(json);
  if (older.success) {
    // Its keys mean something else: every instance recomputes, saying why.
    return {
      version: LOCK_VERSION,
      instances: {},
      olderFormat: new Set(Object.keys(older.data.instances)),
    };
  }
  const parsed = LockFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidLock(`${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

/** A lock of an older format, as far as telling which instances it recorded. */
const OlderLock = z.object({
  version: z.number().int().min(1).max(LOCK_VERSION - 1),
  instances: z.record(z.string(), z.unknown()),
});

function invalidLock(reason: string): UserError {
  return new UserError(
    `${LOCK_FILE} is invalid (${reason}); delete it and rerun (results stay cached in .pipeline/)`,
  );
}

/** Writes `pipeline.lock` atomically, keys sorted so diffs stay small. */
export async function writeLockFile(
  root: string,
  lock: LockFile,
  options: WriteOptions = {},
): Promise<void> {
  const { olderFormat: _older, ...file } = lock;
  const sorted = JSON.parse(canonicalJson(file));
  await writeFileAtomic(
    join(root, LOCK_FILE),
    JSON.stringify(sorted, null, 2) + "\n",
    options,
  );
}
