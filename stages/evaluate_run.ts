/**
 * The body of an evaluate instance (loaded lazily, like the training body).
 *
 * @module
 */
import type { StageContext } from "../pipeline/mod.ts";
import { loadSplit, readPreprocessMeta } from "../data/preprocess.ts";
import { startEvaluationBackend } from "../models/backends.ts";
import { evaluateModel } from "../models/evaluate.ts";
import { disposeMlp, loadModelArtifacts } from "../models/mlp.ts";
import { Evaluation } from "./artifacts.ts";
import { writeJson } from "./json_files.ts";
import type { Mode, ResolvedBackend } from "./train_params.ts";

/** Evaluates the model saved in `options.modelDir` and writes `evaluation.json`. */
export async function runEvaluation(
  ctx: StageContext<{ mode: Mode; backend: ResolvedBackend }>,
  options: { seed: number; modelDir: string },
): Promise<void> {
  await startEvaluationBackend(ctx.params.backend);
  // Only the test split: the 188 MB training images are not needed to evaluate.
  const meta = await readPreprocessMeta(ctx.inputs.preprocess);
  const test = await loadSplit(ctx.inputs.preprocess, "test", { meta });
  const { params } = await loadModelArtifacts(options.modelDir);
  try {
    const classes = meta.classNames.length;
    const result = await evaluateModel(params, test, { classes });
    await writeJson(`${ctx.outDir}/evaluation.json`, Evaluation, {
      model: ctx.params.mode,
      seed: options.seed,
      testAccuracy: result.accuracy,
      testLoss: result.loss,
      examples: result.examples,
      classNames: meta.classNames,
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
