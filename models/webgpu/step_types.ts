/**
 * The fused step's interface: structurally the trainer's `BatchStep` (models/step.ts),
 * plus `attachTrainingSet` and `FusedBatch.source`, which let the trainer address batches
 * in the uploaded training set instead of sending them.
 *
 * @module
 */
import type { MlpConfig } from "../mlp.ts";

/** Settings of the fused step (the trainer's StepConfig, plus Adam's constants). */
export interface FusedStepConfig {
  /** Layer sizes and dropout rate. */
  model: MlpConfig;
  /** Loss mode. */
  mode: "baseline" | "rdrop";
  /** KL weight (R-Drop). */
  alpha: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Seed of the dropout masks. */
  seed: number;
  /** KL reduction: "sum" (default, as the reference) or "batchmean". */
  reduction?: "sum" | "batchmean";
  /** Adam's constants (default PyTorch's). */
  adam?: { beta1: number; beta2: number; epsilon: number };
}

/** A batch: host rows, or (after attachTrainingSet) a window of the uploaded set. */
export interface FusedBatch {
  /** Row-major `[rows, features]` (read during run() only; unused with `source`). */
  x: Float32Array;
  /** Labels (unused with `source`). */
  y: Int32Array;
  /** Number of rows. */
  rows: number;
  /** Rows `order[start .. start + rows)` of the attached training set (order null: identity). */
  source?: { start: number; order: Int32Array | null };
}

/** The training split as uploaded once. */
export interface TrainingSet {
  /** Row-major `[count, features]`. */
  images: Float32Array;
  /** Class per row. */
  labels: Int32Array;
  /** Rows. */
  count: number;
  /** Features per row. */
  features: number;
}

/** Sums over the steps since the last read. */
export interface FusedMetrics {
  /** Steps. */
  steps: number;
  /** Sum of the steps' batch-mean losses. */
  lossSum: number;
  /** Rows whose arg-max was the label (R-Drop: both passes). */
  correct: number;
  /** Rows counted (R-Drop: 2B per step). */
  rows: number;
}

/** Adam's state, `m` and `v` in the order w0, b0, w1, b1, .... */
export interface FusedAdamState {
  /** Steps taken so far. */
  step: number;
  /** First moments. */
  m: Float32Array[];
  /** Second moments. */
  v: Float32Array[];
}

/** The fused step (the trainer's BatchStep, plus the training-set hook). */
export interface FusedStep {
  /** "webgpu". */
  readonly kind: string;
  /** The adapter's description. */
  readonly adapter: string;
  /** Uploads the training split once; batches with `source` then address it. */
  attachTrainingSet(train: TrainingSet): void;
  /** Queues one Adam step; never waits for the GPU. */
  run(batch: FusedBatch): void;
  /** Loss and accuracy sums since the last call (then reset): the only read of a window. */
  takeMetrics(): Promise<FusedMetrics>;
  /** Copies of the parameters (w0, b0, w1, b1, ...). */
  getValues(): Promise<Float32Array[]>;
  /** Copies of Adam's state. */
  getState(): Promise<FusedAdamState>;
  /** Replaces parameters and Adam's state (resume); masks continue from `state.step`. */
  restore(values: Float32Array[], state: FusedAdamState): void;
  /** Frees every GPU buffer of the step. */
  dispose(): void;
}
