/**
 * `.pipeline/run.lock`: one run (or gc) at a time, enforced by an exclusive OS advisory lock
 * (`Deno.FsFile.tryLock`, i.e. `flock`) held for the whole run. The kernel drops the lock when the
 * holder exits or is killed, so there is no stale lock to take over and no guess whether a PID
 * is alive. The file's content (pid, host, start time, command) only names the holder in the
 * message a second run prints.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { DiskFullError, isDiskFull, UserError } from "../errors.ts";
import { readTextOrUndefined, removeIfExists, statOrUndefined } from "../fs.ts";

/** File name of the run lock inside the store directory. */
export const RUN_LOCK_FILE = "run.lock";

/** Another process holds `.pipeline/run.lock`. */
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
  /** Recorded in the lock for the message another run prints. */
  command?: string;
  /** Wait for the holder to finish instead of refusing at once. */
  wait?: boolean;
  /** Called once when waiting starts, with the holder (undefined if it could not be read). */
  onWait?: (holder: RunLockInfo | undefined) => void;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Milliseconds between attempts while waiting. Default 200. */
  pollMs?: number;
}

/** A held run lock. */
export interface RunLock {
  /** Path of the lock file. */
  readonly path: string;
  /** Releases the lock and removes the file. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes `.pipeline/run.lock` under `storeDir`, or throws a {@link RunLockBusyError} naming the
 * holder (with `wait`, polls until the holder is gone).
 */
export async function acquireRunLock(
  storeDir: string,
  options: RunLockOptions = {},
): Promise<RunLock> {
  await Deno.mkdir(storeDir, { recursive: true });
  const path = join(storeDir, RUN_LOCK_FILE);
  let waiting = false;
  while (true) {
    options.signal?.throwIfAborted();
    const file = await Deno.open(path, {
      read: true,
      write: true,
      create: true,
    });
    let held = false;
    try {
      held = await file.tryLock(true) && await sameFile(file, path);
      if (held) return await holdLock(file, path, options.command);
    } finally {
      if (!held) file.close();
    }
    const holder = await readHolder(path);
    if (!options.wait) {
      throw new RunLockBusyError(
        `another run holds ${path} (${describeHolder(holder)}); ` +
          `wait for it to finish, or rerun with --wait to start when it ends`,
      );
    }
    if (!waiting) {
      waiting = true;
      options.onWait?.(holder);
    }
    await sleep(options.pollMs ?? 200, options.signal);
  }
}

/** "pid 12 on host since 2026-...: run" (or a note that the holder is unknown). */
export function describeHolder(holder: RunLockInfo | undefined): string {
  if (holder === undefined) return "holder details not readable";
  const command = holder.command === undefined ? "" : `: ${holder.command}`;
  return `pid ${holder.pid} on ${holder.host} since ${holder.startedAt}${command}`;
}

/**
 * Whether the locked handle is still the file at `path`: a holder removes the file while
 * releasing, so a lock taken on the removed file would exclude nobody.
 */
async function sameFile(file: Deno.FsFile, path: string): Promise<boolean> {
  const [mine, current] = [await file.stat(), await statOrUndefined(path)];
  return current !== undefined && current.ino === mine.ino &&
    current.dev === mine.dev;
}

async function holdLock(
  file: Deno.FsFile,
  path: string,
  command: string | undefined,
): Promise<RunLock> {
  const info: RunLockInfo = {
    pid: Deno.pid,
    host: hostName(),
    startedAt: new Date().toISOString(),
    command,
  };
  try {
    await file.truncate(0);
    const bytes = new TextEncoder().encode(JSON.stringify(info) + "\n");
    let written = 0;
    while (written < bytes.length) {
      written += await file.write(bytes.subarray(written));
    }
  } catch (error) {
    // Not held after all: let go of the file (and the lock) rather than leak it.
    await removeIfExists(path).catch(() => {});
    file.close();
    if (isDiskFull(error)) throw new DiskFullError(path, error);
    throw error;
  }
  let released = false;
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      try {
        // Removed while still locked, so nobody can lock this file after we let go.
        await removeIfExists(path);
      } finally {
        file.close();
      }
    },
  };
}

/** The holder recorded in the lock file; retried briefly since a new holder writes it just after locking. */
async function readHolder(path: string): Promise<RunLockInfo | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const text = await readTextOrUndefined(path);
    if (text !== undefined && text.trim() !== "") {
      try {
        const parsed = RunLockInfo.safeParse(JSON.parse(text));
        if (parsed.success) return parsed.data;
      } catch {
        // Partly written: read again.
      }
    }
    await sleep(50);
  }
  return undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
