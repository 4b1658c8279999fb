/**
 * Error types of the engine.
 *
 * The CLI prints a {@link UserError} as one plain message (no stack) because the user can fix it;
 * anything else is a bug and keeps its stack.
 *
 * @module
 */

/** A mistake the user can fix (bad params, unknown stage, busy lock...). The message names the fix. */
export class UserError extends Error {
  /** Creates a user-facing error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UserError";
  }
}

/** The disk (or quota) filled up while the engine wrote `path`; nothing half-written was kept. */
export class DiskFullError extends UserError {
  /** The file that could not be written. */
  readonly path: string;
  /** Creates the error for `path`. */
  constructor(path: string, cause?: unknown) {
    super(
      `no space left on the device while writing ${path} (nothing half-written was kept); ` +
        `free some space (\`deno task pipeline gc --dry-run\` shows what gc would delete) and rerun`,
      { cause },
    );
    this.name = "DiskFullError";
    this.path = path;
  }
}

/** Whether `error` is the OS saying the disk or the quota is full (ENOSPC, EDQUOT). */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/**
 * A {@link UserError} for a path the process may not access (`Deno.errors.NotCapable`): the
 * pipeline task runs with the permissions written in `deno.json`, so the fix is there or in the path.
 */
export function permissionError(error: unknown): UserError | undefined {
  if (!(error instanceof Deno.errors.NotCapable)) return undefined;
  const what = error.message.replace(/, run again with the .*$/, "");
  const flag = /\bwrite access\b/.test(what)
    ? "--allow-write"
    : /\bread access\b/.test(what)
    ? "--allow-read"
    : "permission";
  return new UserError(
    `${what}: the pipeline runs with the permissions of the "pipeline" task in deno.json; ` +
      `use a path inside the project, or add its directory to that task's ${flag} in deno.json`,
    { cause: error },
  );
}

/**
 * A {@link UserError} naming the path and the fix for what the OS refused: a file or directory
 * the user may not write (EACCES, EPERM: a read-only `.pipeline/`), a read-only file system
 * (EROFS), or a full disk (ENOSPC, EDQUOT), whose message from Deno may not name the path.
 * `path` is the path the caller was writing, when Deno's message does not say.
 */
export function fileSystemError(
  error: unknown,
  path?: string,
): UserError | undefined {
  if (error instanceof UserError || !(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  const named = /'([^']+)'/.exec(error.message)?.[1] ?? path;
  const where = named === undefined ? "" : ` ${named}`;
  if (isDiskFull(error)) {
    return named === undefined
      ? new UserError(
        `no space left on the device (${error.message}); free some space ` +
          "(`deno task pipeline gc --dry-run` shows what gc would delete) and rerun",
        { cause: error },
      )
      : new DiskFullError(named, error);
  }
  if (
    error instanceof Deno.errors.PermissionDenied || code === "EACCES" ||
    code === "EPERM" || code === "EROFS"
  ) {
    const why = code === "EROFS"
      ? "the file system is read-only"
      : "permission denied";
    return new UserError(
      `cannot write${where}: ${why}; the pipeline writes its cache in .pipeline/ and its ` +
        "results in the project: make them writable (e.g. `chmod -R u+w .pipeline results " +
        "pipeline.lock`), or work in a copy of the project you can write",
      { cause: error },
    );
  }
  return undefined;
}

/** A stage's `run()` threw or did not write its declared outputs. */
export class StageFailedError extends Error {
  /** Instance name of the stage that failed, e.g. `train_rdrop@0`. */
  readonly stage: string;
  /** Creates the error for stage instance `stage` caused by `cause`. */
  constructor(stage: string, cause: unknown) {
    super(`stage ${stage} failed: ${errorMessage(cause)}`, { cause });
    this.name = "StageFailedError";
    this.stage = stage;
  }
}

/** The run was stopped by the abort signal (Ctrl-C). */
export class InterruptedError extends Error {
  /** Instance name of the stage that was running, or undefined when between stages. */
  readonly stage: string | undefined;
  /** Creates the error; `stage` is the instance that was running when the signal came. */
  constructor(stage: string | undefined) {
    super(
      stage === undefined
        ? "interrupted between stages"
        : `interrupted while running ${stage}`,
    );
    this.name = "InterruptedError";
    this.stage = stage;
  }
}

/**
 * Whether `error` is an error the user can fix. Layers that must not import the engine mark
 * theirs with a `userFacing: true` property (or a class name ending in `UserError`).
 */
export function isUserError(error: unknown): boolean {
  if (error instanceof UserError) return true;
  if (!(error instanceof Error)) return false;
  // A full disk or a missing permission is the user's to fix, and Deno's message names the path.
  if (isDiskFull(error) || error instanceof Deno.errors.NotCapable) return true;
  if ((error as { userFacing?: unknown }).userFacing === true) return true;
  return /UserError$/.test(error.name) ||
    /UserError$/.test(error.constructor?.name ?? "");
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
