/**
 * train_baseline / train_rdrop: one declaration, instantiated per mode and fanned out per seed.
 *
 * @module
 */
import { defineStage, importLater, itemValue } from "../pipeline/mod.ts";
import { trainingEntry } from "../models/backends.ts";
import type { Params } from "./params.ts";
import { seedIncluded } from "./sequential/arms.ts";
import {
  type Mode,
  MODEL_FILES,
  trainParams,
  type TrainStageOptions,
} from "./train_params.ts";

/** Files a train instance writes: the model, then its history and run record (with timings). */
export const TRAIN_OUTPUTS = [
  ...MODEL_FILES,
  "history.json",
  "run.json",
] as const;

/**
 * The training's run body, loaded when an instance runs; it and the resolved backend's
 * training entry (models/backends.ts, loaded by the body) are a training's code.
 */
const TRAIN_RUN = new URL("./train_run.ts", import.meta.url);

/** Declares `train_<mode>`, one instance per seed (and per swept combination that changes it). */
export function trainStage(mode: Mode, options: TrainStageOptions) {
  return defineStage({
    name: `train_${mode}`,
    description: mode === "rdrop"
      ? "train the MLP with the R-Drop loss (batch fed twice, symmetric KL)"
      : "train the MLP with plain NLL (the baseline)",
    deps: ["preprocess"],
    params: (p: Params) => trainParams(p, mode, options),
    foreach: (p: Params) => p.seeds,
    foreachParam: "seeds",
    foreachKey: "seed",
    matrix: (p: Params) => p.matrix,
    // A sequential experiment: only the seeds this round has for this arm exist.
    include: (p: Params, item) => seedIncluded(p, mode, item),
    // A native training uses its BLAS threads' cores; the default --jobs divides by this.
    resources: (p: Params) => ({
      cpus: trainParams(p, mode, options).backend === "native"
        ? p.train.blasThreads
        : 1,
    }),
    outputs: TRAIN_OUTPUTS,
    code: import.meta.url,
    codeFor: (p) => [TRAIN_RUN, trainingEntry(p.backend)],
    async run(ctx) {
      const { runTraining } = await importLater<
        typeof import("./train_run.ts")
      >(TRAIN_RUN);
      await runTraining(ctx, { seed: Number(itemValue(ctx.item, "seed")) });
    },
  });
}
