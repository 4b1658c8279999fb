/**
 * evaluate_baseline / evaluate_rdrop: test accuracy, loss, per-class accuracy and the
 * confusion matrix of each trained model, one instance per seed.
 *
 * @module
 */
import {
  defineStage,
  importLater,
  itemValue,
  upstreamInstance,
} from "../pipeline/mod.ts";
import { evaluationEntry } from "../models/backends.ts";
import type { Params } from "./params.ts";
import { seedIncluded } from "./sequential/arms.ts";
import { PREPROCESSED_TEST_FILES } from "../data/preprocess.ts";
import {
  type Mode,
  MODEL_FILES,
  trainParams,
  type TrainStageOptions,
} from "./train_params.ts";

/**
 * The evaluation's run body, loaded when an instance runs; it and the backend's evaluation
 * entry (models/backends.ts, loaded by the body) are an evaluation's code.
 */
const EVALUATE_RUN = new URL("./evaluate_run.ts", import.meta.url);

/** Declares `evaluate_<mode>`, one instance per seed (paired with `train_<mode>@seed`). */
export function evaluateStage(mode: Mode, options: TrainStageOptions) {
  return defineStage({
    name: `evaluate_${mode}`,
    description: `evaluate train_${mode} on the test split`,
    deps: ["preprocess", `train_${mode}`],
    // Evaluation runs on the training backend: its float arithmetic decides ties in argmax.
    params: (p: Params) => ({
      mode,
      backend: trainParams(p, mode, options).backend,
    }),
    foreach: (p: Params) => p.seeds,
    foreachParam: "seeds",
    foreachKey: "seed",
    // Swept with its train instance (same item): its own params do not change with alpha.
    matrix: (p: Params) => p.matrix,
    // A sequential experiment: only the seeds this round has for this arm exist.
    include: (p: Params, item) => seedIncluded(p, mode, item),
    outputs: ["evaluation.json"],
    // The test split and the model, nothing else: retraining that reproduces the weights (its
    // history and run record carry timings) leaves the evaluation's key as it was.
    reads: {
      preprocess: PREPROCESSED_TEST_FILES,
      [`train_${mode}`]: MODEL_FILES,
    },
    code: import.meta.url,
    codeFor: (p) => [EVALUATE_RUN, evaluationEntry(p.backend)],
    async run(ctx) {
      const { runEvaluation } = await importLater<
        typeof import("./evaluate_run.ts")
      >(EVALUATE_RUN);
      await runEvaluation(ctx, {
        seed: Number(itemValue(ctx.item, "seed")),
        modelDir: upstreamInstance(ctx, `train_${mode}`, ctx.item).dir,
      });
    },
  });
}
