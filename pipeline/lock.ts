/**
 * `pipeline.lock`: what each instance last produced and where it is checked out (like dvc.lock).
 * The run lock (one run at a time) is `run_lock.ts`.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { ItemSchema } from "./items.ts";
import { UserError } from "./errors.ts";
import {
  readTextOrUndefined,
  writeFileAtomic,
  type WriteOptions,
} from "./fs.ts";
import { canonicalJson } from "./hash.ts";
import { CheckedOutRecord, CodeRecord } from "./store/manifest.ts";

/** One instance in `pipeline.lock`. */
export const LockEntry = z.strictObject({
  stage: z.string(),
  item: ItemSchema.nullable(),
  key: z.string(),
  params: z.unknown(),
  code: CodeRecord,
  upstream: z.record(z.string(), z.string()),
  workspace: z.string(),
  outputs: z.record(z.string(), CheckedOutRecord),
  /** Seconds the computation took when it ran. */
  seconds: z.number().nonnegative().optional(),
});
/** One instance in `pipeline.lock`. */
export type LockEntry = z.infer<typeof LockEntry>;

/** `pipeline.lock`. */
export const LockFile = z.strictObject({
  version: z.literal(1),
  instances: z.record(z.string(), LockEntry),
});
/** `pipeline.lock`. */
export type LockFile = z.infer<typeof LockFile>;

/** Name of the lock file at the root. */
export const LOCK_FILE = "pipeline.lock";

/** Reads `pipeline.lock`; an absent file is an empty lock. */
export async function readLockFile(root: string): Promise<LockFile> {
  const text = await readTextOrUndefined(join(root, LOCK_FILE));
  if (text === undefined) return { version: 1, instances: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalidLock((error as Error).message);
  }
  const parsed = LockFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidLock(`${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

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
  const sorted = JSON.parse(canonicalJson(lock));
  await writeFileAtomic(
    join(root, LOCK_FILE),
    JSON.stringify(sorted, null, 2) + "\n",
    options,
  );
}
