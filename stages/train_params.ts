/**
 * The params that decide a training result, shared by the train and evaluate stages
 * (kept apart from the training body so that evaluate's code key does not include it).
 *
 * @module
 */
import type { Params } from "./params.ts";

/** The two training modes of the experiment. */
export type Mode = "baseline" | "rdrop";

/** A backend that actually runs (what `auto` resolves to). */
export type ResolvedBackend = "native" | "webgpu" | "wasm" | "cpu";

/** Options of the train and evaluate stage factories. */
export interface TrainStageOptions {
  /** What `backend: auto` resolves to on this machine (probed once by the CLI). */
  autoBackend: ResolvedBackend;
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
  backend: ResolvedBackend;
}

/**
 * Selects a train instance's params. `backend` is the resolved one: `auto` on a GPU machine
 * and on a CPU box are different computations, while `auto` and an explicit `wasm` on the
 * same CPU box are the same one (and share a cache entry). The baseline ignores alpha, so
 * alpha is pinned to 0 there and changing it does not retrain the baseline.
 */
export function trainParams(
  p: Params,
  mode: Mode,
  options: TrainStageOptions,
): TrainInstanceParams {
  const { alpha, backend, blasThreads: _threads, ...shared } = p.train;
  return {
    ...shared,
    mode,
    alpha: mode === "rdrop" ? alpha : 0,
    backend: backend === "auto" ? options.autoBackend : backend,
  };
}
