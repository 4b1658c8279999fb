/**
 * The params that decide a training result, shared by the train and evaluate stages
 * (kept apart from the training body so that evaluate's code key does not include it).
 *
 * @module
 */
import type { Params } from "./params.ts";

/**
 * The trained model's files, which an evaluation reads (models/mlp.ts's MODEL_JSON and
 * WEIGHTS_BIN; a test checks). Here rather than in train.ts so that the evaluate declaration
 * does not import the train declaration, and with it the training code, into its key.
 */
export const MODEL_FILES = ["model.json", "weights.bin"] as const;

/** The two training modes of the experiment. */
export type Mode = "baseline" | "rdrop";

/** A backend that actually runs (what `auto` resolves to). */
export type ResolvedBackend = "native" | "webgpu" | "wasm" | "cpu";

/** Options of the train and evaluate stage factories. */
export interface TrainStageOptions {
  /**
   * What `backend: auto` resolves to on this machine; absent where params are resolved before
   * planning (the CLI's pipeline replaces `auto` by what it probed, see auto_backend.ts).
   */
  autoBackend?: ResolvedBackend;
}

/** The params of one train instance, as its key sees them. */
export interface TrainInstanceParams {
  epochs: number;
  batchSize: number;
  learningRate: number;
  shuffle: boolean;
  hidden: number[];
  dropout: number;
  mode: Mode;
  alpha: number;
  /** How the KL term is reduced over a batch ("sum" for the baseline, which has none). */
  klReduction: "sum" | "batchmean";
  /** Training examples held out for validation (preprocess.validation). */
  validation: number;
  backend: ResolvedBackend;
  /**
   * OpenBLAS threads, for the native backend only: the thread count changes the float
   * summation order inside the matrix products, so it is part of what a run computes.
   */
  blasThreads?: number;
}

/**
 * Selects a train instance's params. `backend` is the resolved one: `auto` on a GPU machine
 * and on a CPU box are different computations, while `auto` and an explicit `wasm` on the
 * same CPU box are the same one (and share a cache entry). The baseline ignores alpha and the
 * KL reduction, so they are pinned there and sweeping them does not retrain the baseline.
 * `blasThreads` is only part of a native run's key.
 */
export function trainParams(
  p: Params,
  mode: Mode,
  options: TrainStageOptions,
): TrainInstanceParams {
  const { alpha, klReduction, backend, blasThreads, ...shared } = p.train;
  const resolved = backend === "auto" ? options.autoBackend : backend;
  if (resolved === undefined) {
    throw new Error(
      "backend auto reached a stage unresolved (resolveParams did not run)",
    );
  }
  return {
    ...shared,
    mode,
    alpha: mode === "rdrop" ? alpha : 0,
    klReduction: mode === "rdrop" ? klReduction : "sum",
    validation: p.preprocess.validation,
    backend: resolved,
    ...(resolved === "native" ? { blasThreads } : {}),
  };
}
