/**
 * Typed errors of the models layer.
 *
 * A {@linkcode ModelError} is something the user can fix (a bad option, a corrupt model or
 * checkpoint file, a backend that is not available); the message names the thing and the
 * fix, so callers can print it without a stack trace.
 *
 * @module
 */

/** A problem with model options, model files or backends that the user can fix. */
export class ModelError extends Error {
  /** The user can fix it: CLIs print the message alone, without a stack. */
  readonly userFacing = true;
  /** Creates the error; `options.cause` keeps the underlying error for debugging. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ModelError";
  }
}

/** Training produced a NaN or infinite loss. */
export class DivergenceError extends ModelError {
  /** 1-based epoch in which the non-finite loss was seen. */
  readonly epoch: number;
  /** 1-based step within the epoch at which it was seen (losses are read every few steps). */
  readonly step: number;
  /** The loss value read from the device (NaN or +-Infinity). */
  readonly loss: number;

  /** Builds the message from where the loss was seen and the run's settings. */
  constructor(
    where: { epoch: number; step: number; loss: number },
    settings: { mode: string; alpha: number; learningRate: number },
  ) {
    const hint = settings.mode === "rdrop"
      ? `alpha (${settings.alpha}) or the learning rate (${settings.learningRate}) is probably too large; lower one of them`
      : `the learning rate (${settings.learningRate}) is probably too large; lower it`;
    super(
      `training diverged: the loss became ${where.loss} in epoch ${where.epoch} at step ${where.step}; ${hint}`,
    );
    this.name = "DivergenceError";
    this.epoch = where.epoch;
    this.step = where.step;
    this.loss = where.loss;
  }
}
