/**
 * The body of an evaluate instance (loaded lazily, like the training body).
 *
 * @module
 */
import type { StageContext } from "../pipeline/mod.ts";
import { loadPreprocessed } from "../data/preprocess.ts";
import { selectBackend } from "../models/backend.ts";
import { evaluateModel } from "../models/evaluate.ts";
import { disposeMlp, loadModelArtifacts } from "../models/mlp.ts";
import { Evaluation } from "./artifacts.ts";
import { writeJson } from "./json_files.ts";
import type { Mode, ResolvedBackend } from "./train_params.ts";

/** Evaluates the model of `options.trainStage` and writes `evaluation.json`. */
export async function runEvaluation(
  ctx: StageContext<{ mode: Mode; backend: ResolvedBackend }>,
  options: { seed: number; trainStage: string },
): Promise<void> {
  await selectBackend(ctx.params.backend);
  const data = await loadPreprocessed(ctx.inputs.preprocess);
  const { params } = await loadModelArtifacts(ctx.inputs[options.trainStage]);
  try {
    const classes = data.meta.classNames.length;
    const result = await evaluateModel(params, data.test, { classes });
    await writeJson(`${ctx.outDir}/evaluation.json`, Evaluation, {
      model: ctx.params.mode,
      seed: options.seed,
      testAccuracy: result.accuracy,
      testLoss: result.loss,
      examples: result.examples,
      classNames: data.meta.classNames,
      perClassAccuracy: result.perClassAccuracy,
      confusion: result.confusion,
    });
    ctx.log(
      `test accuracy ${(result.accuracy * 100).toFixed(2)} %, loss ${
        result.loss.toFixed(4)
      }`,
    );
  } finally {
    disposeMlp(params);
  }
}
