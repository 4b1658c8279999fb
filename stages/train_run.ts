/**
 * The body of a train instance, loaded only when one runs so that `status` and `dag` never
 * pay for loading TensorFlow.js.
 *
 * @module
 */
import type { StageContext } from "../pipeline/mod.ts";
import { loadPreprocessed } from "../data/preprocess.ts";
import { startTrainingBackend } from "../models/backends.ts";
import { describeEnvironment } from "../models/tfjs_backend.ts";
import {
  describeResume,
  fileCheckpointStore,
} from "../models/checkpoint_store.ts";
import { disposeMlp, saveModelArtifacts } from "../models/mlp.ts";
import { train } from "../models/trainer.ts";
import { RunRecord, TrainHistory } from "./artifacts.ts";
import type { TrainInstanceParams } from "./train_params.ts";
import { writeJson } from "./json_files.ts";
import { klWeight } from "./kl_weight.ts";
import { holdOutValidation } from "../data/validation.ts";

/** Trains one (mode, seed) and writes weights, history and run record into `ctx.outDir`. */
export async function runTraining(
  ctx: StageContext<TrainInstanceParams>,
  options: { seed: number },
): Promise<void> {
  const p = ctx.params;
  // Only keyed params: `auto` and an explicit backend that resolve alike share a cache entry,
  // so what was asked for is not part of the result.
  const requestedBackend = p.backend;
  // Only a native run's key holds the thread count; other steps use no BLAS.
  const blasThreads = p.blasThreads ?? 1;
  // `p.backend` is resolved (auto was decided when the key was computed): the backend that
  // runs is the one whose entry the key holds (train.ts's codeFor), or it fails to start.
  const selection = await startTrainingBackend(p.backend, { blasThreads });
  const { createStep } = selection;
  if (selection.blas) {
    const { info } = selection.blas;
    ctx.log(
      `native backend: OpenBLAS ${
        info.version ?? "?"
      }, ${info.coreName} kernels` +
        (info.coreTypeOverride
          ? ` (OPENBLAS_CORETYPE=${info.coreTypeOverride})`
          : "") +
        `, ${blasThreads} thread${
          blasThreads === 1 ? "" : "s"
        }, ${info.library}`,
    );
  }
  const data = await loadPreprocessed(ctx.inputs.preprocess);
  // With a validation split the per-epoch curves are drawn on it; the test split stays unseen.
  const classes = data.meta.classNames.length;
  const held = p.validation > 0
    ? holdOutValidation(data.train, p.validation, { classes })
    : undefined;
  const trainSplit = held?.train ?? data.train;
  const kl = klWeight(p.alpha, {
    reduction: p.klReduction,
    batchSize: p.batchSize,
    examples: trainSplit.count,
  });

  let bar: ReturnType<typeof ctx.progress> | null = null;
  let stepsInEpoch = 0;
  const result = await train({
    train: trainSplit,
    test: held?.validation ?? data.test,
  }, {
    mode: p.mode,
    alpha: kl.weight,
    epochs: p.epochs,
    batchSize: p.batchSize,
    learningRate: p.learningRate,
    seed: options.seed,
    shuffle: p.shuffle,
    model: {
      inputSize: data.meta.features,
      hidden: p.hidden,
      dropout: p.dropout,
      classes,
    },
    checkpoint: fileCheckpointStore(`${ctx.scratchDir}/checkpoint.bin`),
    createStep,
    signal: ctx.signal,
    // Also when a checkpoint failed its checksum: which one was used instead, or none.
    onResume(outcome) {
      ctx.log(describeResume(outcome));
    },
    onStep(info) {
      stepsInEpoch = info.steps;
      if (info.step === 1 || !bar) {
        bar = ctx.progress({
          label: `epoch ${info.epoch}/${p.epochs}`,
          total: info.steps,
          unit: "steps",
        });
      }
      // Loss and accuracy first: a narrow terminal drops the last fields.
      const fields: Record<string, string | number> = {};
      if (info.loss !== undefined) fields.loss = info.loss.toFixed(4);
      if (info.accuracy !== undefined) {
        fields.acc = `${(info.accuracy * 100).toFixed(2)} %`;
      }
      fields["samples/s"] = Math.round(info.samplesPerSecond);
      bar.update(info.step, fields);
    },
    onEpoch(record) {
      const split = held ? "val" : "test";
      const results =
        `${split} acc ${(record.testAccuracy * 100).toFixed(2)} %  ` +
        `${split} loss ${record.testLoss.toFixed(4)}`;
      const fields = {
        loss: record.trainLoss.toFixed(4),
        "samples/s": Math.round(record.samplesPerSecond),
      };
      if (bar) {
        // The bar's last line carries the epoch's figures; no second summary line.
        bar.update(stepsInEpoch, fields);
        bar.done(results);
      } else {
        ctx.log(
          `epoch ${record.epoch}/${p.epochs}  loss ${fields.loss}  ${results}  ` +
            `${record.epochSeconds.toFixed(1)}s  ${
              fields["samples/s"]
            } samples/s`,
        );
      }
      bar = null;
    },
  });
  try {
    await saveModelArtifacts(ctx.outDir, result.params, { dropout: p.dropout });
  } finally {
    disposeMlp(result.params);
  }
  const trainSeconds = result.history.reduce((s, e) => s + e.epochSeconds, 0);
  const environment = describeEnvironment();
  await writeJson(`${ctx.outDir}/history.json`, TrainHistory, {
    mode: p.mode,
    alpha: p.alpha,
    seed: options.seed,
    curveSplit: held ? "validation" : "test",
    validationExamples: held?.validation.count ?? 0,
    kl: {
      reduction: kl.reduction,
      weight: kl.weight,
      partialBatch: kl.partialBatch,
    },
    epochs: result.history,
  });
  await writeJson(`${ctx.outDir}/run.json`, RunRecord, {
    mode: p.mode,
    seed: options.seed,
    backend: selection.backend,
    requestedBackend,
    adapter: environment.adapter,
    deno: environment.deno,
    tfjs: environment.tfjs,
    trainSeconds,
    samplesPerSecond: trainSeconds > 0
      ? trainSplit.count * result.history.length / trainSeconds
      : 0,
    resumedEpochs: result.resumedEpochs,
    blas: selection.blas
      ? {
        ...selection.blas.info,
        threads: selection.blas.threads(),
      }
      : null,
  });
}
