/**
 * `pipeline.lock` (what each instance last produced, like dvc.lock) and `.pipeline/run.lock`
 * (one run at a time).
 *
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { z } from "zod";
import { UserError } from "./errors.ts";
import {
  readTextOrUndefined,
  removeIfExists,
  tempPathFor,
  writeFileAtomic,
} from "./fs.ts";
import { canonicalJson } from "./hash.ts";
import { CheckedOutRecord, CodeRecord } from "./store.ts";

/** One instance in `pipeline.lock`. */
export const LockEntry = z.strictObject({
  stage: z.string(),
  item: z.union([z.string(), z.number()]).nullable(),
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
): Promise<void> {
  const sorted = JSON.parse(canonicalJson(lock));
  await writeFileAtomic(
    join(root, LOCK_FILE),
    JSON.stringify(sorted, null, 2) + "\n",
  );
}

/** Another live process holds `.pipeline/run.lock`. */
export class RunLockBusyError extends UserError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "RunLockBusyError";
  }
}

/** What `.pipeline/run.lock` records about its holder. */
export const RunLockInfo = z.object({
  pid: z.number().int(),
  host: z.string(),
  startedAt: z.string(),
  command: z.string().optional(),
});
/** What `.pipeline/run.lock` records. */
export type RunLockInfo = z.infer<typeof RunLockInfo>;

/** Whether process `pid` exists on this host. */
export function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  if (Deno.build.os === "linux") {
    try {
      Deno.statSync(`/proc/${pid}`);
      return true;
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/**
 * This machine's host name, or `"unknown"` without `--allow-sys=hostname` (checked first so
 * that a terminal never gets a permission prompt for it).
 */
export function hostName(): string {
  try {
    const state =
      Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state;
    return state === "granted" ? Deno.hostname() : "unknown";
  } catch {
    return "unknown";
  }
}

/** Options of {@link acquireRunLock}. */
export interface RunLockOptions {
  /** Recorded in the lock for humans. */
  command?: string;
  /** Tells the caller a dead holder's lock was taken over. */
  onTakeover?: (previous: RunLockInfo) => void;
}

/**
 * Takes `.pipeline/run.lock` or throws a {@link UserError} naming the holder. The lock is created
 * with its content in one step (hard link of a complete temp file), so it is never seen empty.
 * A lock whose holder is dead (same host, no such PID) is taken over.
 * @returns a function that releases the lock.
 */
export async function acquireRunLock(
  storeDir: string,
  options: RunLockOptions = {},
): Promise<() => Promise<void>> {
  await Deno.mkdir(storeDir, { recursive: true });
  const path = join(storeDir, "run.lock");
  const info: RunLockInfo = {
    pid: Deno.pid,
    host: hostName(),
    startedAt: new Date().toISOString(),
    command: options.command,
  };
  const temp = tempPathFor(path);
  await Deno.writeTextFile(temp, JSON.stringify(info) + "\n");
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await Deno.link(temp, path);
        return async () => {
          const current = await readRunLock(path);
          if (current?.pid === info.pid && current.host === info.host) {
            await removeIfExists(path);
          }
        };
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      const holder = await readRunLock(path);
      if (holder === undefined) continue; // Released between our attempts.
      if (holder.host === info.host && !processAlive(holder.pid)) {
        options.onTakeover?.(holder);
        await removeIfExists(path);
        continue;
      }
      throw new RunLockBusyError(
        `another run holds ${path} (pid ${holder.pid} on ${holder.host} since ${holder.startedAt}); ` +
          `wait for it to finish, or delete the file if that process is gone`,
      );
    }
    throw new UserError(`could not take ${path}; try again`);
  } finally {
    await removeIfExists(temp);
  }
}

async function readRunLock(path: string): Promise<RunLockInfo | undefined> {
  const text = await readTextOrUndefined(path);
  if (text === undefined) return undefined;
  try {
    const parsed = RunLockInfo.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through: an unreadable lock has no live holder we can name
  }
  return { pid: -1, host: hostName(), startedAt: "unknown" };
}
