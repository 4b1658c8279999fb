/**
 * train_baseline / train_rdrop: one declaration, instantiated per mode and fanned out per seed.
 *
 * @module
 */
import { defineStage } from "../pipeline/mod.ts";
import type { Params } from "./params.ts";
import type { BackendName } from "../models/backend.ts";

/** The two training modes of the experiment. */
export type Mode = "baseline" | "rdrop";

/** Files a train instance writes. */
export const TRAIN_OUTPUTS = [
  "model.json",
  "weights.bin",
  "history.json",
  "run.json",
] as const;

/** Options of {@linkcode trainStage}. */
export interface TrainStageOptions {
  /** What `backend: auto` resolves to on this machine (probed once by the CLI). */
  autoBackend: BackendName;
}

/**
 * The params that decide a training result. `backend` is the resolved one: `auto` on a GPU
 * machine and on a CPU box are different computations, while `auto` and an explicit `wasm`
 * on the same CPU box are the same one (and share a cache entry).
 */
export function trainParams(p: Params, mode: Mode, options: TrainStageOptions) {
  const { alpha, backend, ...shared } = p.train;
  return {
    ...shared,
    mode,
    alpha: mode === "rdrop" ? alpha : 0,
    backend: backend === "auto" ? options.autoBackend : backend,
  };
}

/** Declares `train_<mode>`, one instance per seed. */
export function trainStage(mode: Mode, options: TrainStageOptions) {
  return defineStage({
    name: `train_${mode}`,
    description: mode === "rdrop"
      ? "train the MLP with the R-Drop loss (batch fed twice, symmetric KL)"
      : "train the MLP with plain NLL (the baseline)",
    deps: ["preprocess"],
    params: (p: Params) => trainParams(p, mode, options),
    foreach: (p: Params) => p.seeds,
    outputs: TRAIN_OUTPUTS,
    code: import.meta.url,
    async run(ctx) {
      const { runTraining } = await import("./train_run.ts");
      await runTraining(ctx, { seed: Number(ctx.item) });
    },
  });
}
