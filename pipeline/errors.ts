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
  if ((error as { userFacing?: unknown }).userFacing === true) return true;
  return /UserError$/.test(error.name) ||
    /UserError$/.test(error.constructor?.name ?? "");
}

/** The message of any thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
