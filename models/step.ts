/**
 * The training step as the trainer sees it: one optimiser step per batch of host memory,
 * whatever runs it (native BLAS, tfjs on wasm/cpu/WebGPU, a fused WebGPU step).
 *
 * A step owns the model's parameters and Adam's state while training runs: the trainer
 * gives it the initial values and reads values and state back at epoch ends (evaluation,
 * checkpoints). Loss and accuracy are accumulated by the step where its work happens (on
 * the device for tfjs/WebGPU) and read only when the trainer asks, so that no step waits
 * for a device round trip.
 *
 * @module
 */
import { ModelError } from "./errors.ts";
import type { Split } from "./evaluate.ts";
import type { MlpConfig } from "./mlp.ts";

/** The two training modes of the experiment. */
export type TrainMode = "baseline" | "rdrop";

/**
 * Settings of one training run. models/ takes them as explicit values: the defaults live
 * in the params schema (stages/params.ts), not here.
 */
export interface TrainConfig {
  /** "baseline": NLL of one pass; "rdrop": NLL of two dropout passes + alpha * symmetric KL. */
  mode: TrainMode;
  /** Weight of the symmetric KL term, summed over batch and classes (ignored by "baseline"). */
  alpha: number;
  /** Number of epochs. */
  epochs: number;
  /** Batch size; the last partial batch is kept. */
  batchSize: number;
  /** Adam learning rate (betas and epsilon are PyTorch's: {@linkcode ADAM_CONSTANTS}). */
  learningRate: number;
  /** Seed of initialisation, dropout masks and shuffling. */
  seed: number;
  /** Shuffle the training set every epoch with a seeded permutation. */
  shuffle: boolean;
}

/** Adam's fixed hyper-parameters: PyTorch's defaults, as the reference experiment uses. */
export const ADAM_CONSTANTS: Readonly<
  { beta1: number; beta2: number; epsilon: number }
> = Object.freeze({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });

/** What a step needs to know: the model's shape and the run's optimiser settings. */
export interface StepConfig {
  /** Layer sizes and dropout rate. */
  model: MlpConfig;
  /** Loss mode and its KL weight. */
  mode: TrainMode;
  /** KL weight (R-Drop). */
  alpha: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Seed of the dropout masks (a pure function of seed, step index and layer). */
  seed: number;
}

/** One batch in host memory. */
export interface Batch {
  /** Row-major `[rows, features]`; may be a view into the dataset: read it during run() only. */
  x: Float32Array;
  /** Class index per row. */
  y: Int32Array;
  /** Number of rows. */
  rows: number;
  /**
   * For a step that holds the training set itself ({@link BatchStep.attachTrainingSet}):
   * the batch is rows `order[start .. start + rows)` of that set (`order` null: in order),
   * and `x`/`y` may be empty.
   */
  source?: { start: number; order: Int32Array | null };
}

/** Adam's state; `m` and `v` in the order w0, b0, w1, b1, .... */
export interface AdamState {
  /** Number of steps taken so far (the next step uses index `step`, Adam's t = step + 1). */
  step: number;
  /** First moments. */
  m: Float32Array[];
  /** Second moments. */
  v: Float32Array[];
}

/** Sums over the steps since the last {@linkcode BatchStep.takeMetrics}. */
export interface StepMetrics {
  /** Number of steps. */
  steps: number;
  /** Sum of the steps' losses (each the batch's mean loss, as PyTorch reports it). */
  lossSum: number;
  /** Rows whose arg-max logit was the label (R-Drop: over both passes). */
  correct: number;
  /** Rows counted in `correct` (R-Drop: twice the batch). */
  rows: number;
}

/**
 * One optimiser step at a time over a model whose parameters the step holds.
 *
 * Parameter arrays are in the order w0, b0, w1, b1, ...; weights row-major
 * `[fanIn, fanOut]` (as `initialValues` and `readMlpValues` of mlp.ts).
 */
export interface BatchStep {
  /** What runs the step, for run records (e.g. "native", "wasm", "webgpu"). */
  readonly kind: string;
  /** Runs one Adam step on the batch (dropout masks of step index = steps taken so far). */
  run(batch: Batch): void;
  /** Loss and accuracy sums since the last call (resets them); the only device read. */
  takeMetrics(): Promise<StepMetrics>;
  /** Copies of the current parameter values. */
  getValues(): Promise<Float32Array[]>;
  /** Copies of Adam's state. */
  getState(): Promise<AdamState>;
  /** Replaces parameters and Adam's state (a resumed run); masks continue from `state.step`. */
  restore(values: Float32Array[], state: AdamState): void;
  /**
   * Logits `[rows, classes]` (row-major) of `x` `[rows, features]` in evaluation mode (no
   * dropout) from the current parameters. Optional: steps that have a faster forward pass
   * than tfjs offer it, and the trainer's per-epoch evaluation uses it.
   */
  predictLogits?(x: Float32Array, rows: number): Float32Array;
  /**
   * Takes the training split once, before the first run(), for a step that keeps it on its
   * device (WebGPU): batches then come as {@link Batch.source} windows, not host rows.
   */
  attachTrainingSet?(train: Split): void;
  /** Frees what the step holds. */
  dispose(): void;
}

/** Creates a step from the initial parameter values (which it copies). */
export type BatchStepFactory = (
  values: Float32Array[],
  config: StepConfig,
) => BatchStep;

/** The settings every step checks, whatever its config's shape. */
export interface StepSettings {
  /** Loss mode. */
  mode: TrainMode;
  /** KL weight. */
  alpha: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Dropout rate. */
  dropout: number;
  /** Mask seed. */
  seed: number;
}

/** Checks a step's settings: the one check of them in models/ (a {@linkcode ModelError}). */
export function checkStepSettings(settings: StepSettings): void {
  const bad = (what: string) => {
    throw new ModelError(`invalid training setting: ${what}`);
  };
  if (settings.mode !== "baseline" && settings.mode !== "rdrop") {
    bad(`mode must be "baseline" or "rdrop", got ${String(settings.mode)}`);
  }
  if (!(settings.alpha >= 0)) bad(`alpha must be >= 0, got ${settings.alpha}`);
  if (!(settings.learningRate > 0)) {
    bad(`learningRate must be > 0, got ${settings.learningRate}`);
  }
  if (!(settings.dropout >= 0 && settings.dropout < 1)) {
    bad(`dropout must be in [0, 1), got ${settings.dropout}`);
  }
  if (!Number.isInteger(settings.seed)) {
    bad(`seed must be an integer, got ${settings.seed}`);
  }
}

/** {@linkcode checkStepSettings} of a {@linkcode StepConfig}. */
export function checkStepConfig(config: StepConfig): void {
  checkStepSettings({ ...config, dropout: config.model.dropout });
}
