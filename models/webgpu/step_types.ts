/**
 * The fused step's interface: the trainer's `BatchStep` (models/step.ts) with the training-set
 * hook required (batches are addressed in the uploaded set instead of sent) and the adapter
 * named. The names below are the fused step's words for the trainer's types.
 *
 * @module
 */
import type { Split } from "../evaluate.ts";
import type {
  AdamState,
  Batch,
  BatchStep,
  StepConfig,
  StepMetrics,
} from "../step.ts";

/** Settings of the fused step (the trainer's StepConfig, plus Adam's constants). */
export interface FusedStepConfig extends StepConfig {
  /** KL reduction: "sum" (default, as the reference) or "batchmean". */
  reduction?: "sum" | "batchmean";
  /** Adam's constants (default PyTorch's). */
  adam?: { beta1: number; beta2: number; epsilon: number };
}

/** A batch: host rows, or (after attachTrainingSet) a window of the uploaded set. */
export type FusedBatch = Batch;

/** The training split as uploaded once. */
export type TrainingSet = Split;

/** Sums over the steps since the last read. */
export type FusedMetrics = StepMetrics;

/** Adam's state, `m` and `v` in the order w0, b0, w1, b1, .... */
export type FusedAdamState = AdamState;

/** The fused step (the trainer's BatchStep, with the training-set hook). */
export interface FusedStep extends BatchStep {
  /** The adapter's description. */
  readonly adapter: string;
  /** Uploads the training split once; batches with `source` then address it. */
  attachTrainingSet(train: TrainingSet): void;
}
