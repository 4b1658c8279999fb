/**
 * `deno task bench --webgpu`: the WebGPU training paths side by side, with the WebGPU calls
 * each makes per step (counted by wrapping the API: dispatches, queue submissions, buffer
 * maps, buffer writes):
 *
 * - "tfjs ops (before)": today's trainer loop on the tfjs webgpu backend (batches gathered
 *   on the device, `createTrainStep`, the loss summed as a tfjs scalar and read every 50
 *   steps);
 * - "fused (after)": the fused step of models/webgpu/, driven the way the trainer drives a
 *   BatchStep (training set attached once, batches by offset, metrics read every 50 steps
 *   without waiting for them before the next steps are queued).
 *
 * {@linkcode runFusedJob} is also the device bench's WebGPU side (bench/device/).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { describeEnvironment, selectBackend } from "../models/backend.ts";
import { DivergenceError } from "../models/errors.ts";
import { gatherBatch } from "../models/evaluate.ts";
import { evaluateModel } from "../models/evaluate.ts";
import {
  DEFAULT_MLP_CONFIG,
  disposeMlp,
  initialValues,
  initMlp,
  type MlpConfig,
  mlpFromValues,
} from "../models/mlp.ts";
import { createTrainStep } from "../models/train_step.ts";
import {
  createWebGpuStep,
  type FusedMetrics,
  type GpuCallCounts,
  installGpuCallCounter,
  tfjsGpuContext,
  type TrainingSet,
} from "../models/webgpu/mod.ts";
import {
  formatProfile,
  type FusedProfile,
  profileFusedStep,
} from "./webgpu_profile.ts";

/** A split in memory: row-major images `[count, features]` and labels. */
export type BenchSplit = TrainingSet;

/** Settings shared by the measurements. */
export interface WebGpuBenchSettings {
  mode: "baseline" | "rdrop";
  batchSize: number;
  alpha: number;
  learningRate: number;
  seed: number;
  /** Read the loss every this many steps (the trainer's 50). */
  readEvery: number;
}

/** One measured path. */
export interface WebGpuRow {
  path: "tfjs ops (before)" | "fused (after)";
  mode: "baseline" | "rdrop";
  steps: number;
  samplesPerSecond: number;
  msPerStep: number;
  /** WebGPU calls per timed step. */
  perStep: GpuCallCounts;
  /** Mean loss over the timed steps (a sanity check that training happens). */
  meanLoss: number;
}

const perStep = (c: GpuCallCounts, steps: number): GpuCallCounts => ({
  dispatches: c.dispatches / steps,
  submissions: c.submissions / steps,
  maps: c.maps / steps,
  writes: c.writes / steps,
});

/** Today's path: the trainer's loop body over tfjs ops on the webgpu backend. */
export async function measureTfjsWebGpu(
  data: BenchSplit,
  settings: WebGpuBenchSettings & { steps: number; warmup: number },
): Promise<WebGpuRow> {
  await selectBackend("webgpu");
  const x = tf.tensor2d(data.images, [data.count, data.features]);
  const y = tf.tensor1d(data.labels, "int32");
  const params = initMlp(DEFAULT_MLP_CONFIG, { seed: settings.seed });
  const step = createTrainStep(params, {
    ...settings,
    dropout: DEFAULT_MLP_CONFIG.dropout,
  });
  const counter = installGpuCallCounter();
  try {
    let lossSum: tf.Scalar = tf.scalar(0);
    let total = 0;
    let t0 = 0;
    const all = settings.warmup + settings.steps;
    for (let k = 0; k < all; k++) {
      if (k === settings.warmup) {
        (await lossSum.data())[0];
        counter.reset();
        t0 = performance.now();
      }
      const start = (k * settings.batchSize) %
        (data.count - settings.batchSize);
      const [xb, yb] = gatherBatch({ x, y }, {
        order: null,
        start,
        size: settings.batchSize,
      });
      const loss = step.run(xb, yb);
      const sum = tf.add(lossSum, loss) as tf.Scalar;
      tf.dispose([xb, yb, loss, lossSum]);
      lossSum = sum;
      if (
        (k + 1 - settings.warmup) % settings.readEvery === 0 || k === all - 1
      ) {
        const value = (await lossSum.data())[0];
        if (k >= settings.warmup) total = value;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const counts = counter.read();
    lossSum.dispose();
    return {
      path: "tfjs ops (before)",
      mode: settings.mode,
      steps: settings.steps,
      samplesPerSecond: (settings.steps * settings.batchSize) / seconds,
      msPerStep: (1000 * seconds) / settings.steps,
      perStep: perStep(counts, settings.steps),
      meanLoss: total / all,
    };
  } finally {
    counter.uninstall();
    step.dispose();
    disposeMlp(params);
    tf.dispose([x, y]);
  }
}

/** Options of {@linkcode runFusedJob}. */
export interface FusedJobOptions extends WebGpuBenchSettings {
  /** Epochs over the training split. */
  epochs: number;
  /** Stop each epoch after this many steps (the bench's short runs); default: whole epochs. */
  stepsPerEpoch?: number;
  /** Evaluate on the test split after each epoch (needs `test`). */
  test?: BenchSplit;
  /** Model shape (default the reference MLP). */
  model?: MlpConfig;
}

/** One epoch of {@linkcode runFusedJob}. */
export interface FusedEpoch {
  epoch: number;
  steps: number;
  seconds: number;
  samplesPerSecond: number;
  trainLoss: number;
  trainAccuracy: number;
  testAccuracy: number | null;
  testLoss: number | null;
}

/** What {@linkcode runFusedJob} measured. */
export interface FusedJobResult {
  adapter: string;
  epochs: FusedEpoch[];
  /** WebGPU calls per training step over all epochs (evaluation excluded). */
  perStep: GpuCallCounts;
  trainSeconds: number;
  samplesPerSecond: number;
}

/**
 * Trains with the fused step on tfjs' webgpu backend the way the trainer drives a step:
 * the training split attached once, batches addressed by offset, metrics read every
 * `readEvery` steps and awaited one window later (the GPU always has a window queued), a
 * non-finite loss stopping the run, tfjs evaluation of `getValues()` after each epoch.
 */
export async function runFusedJob(
  train: BenchSplit,
  options: FusedJobOptions,
): Promise<FusedJobResult> {
  await selectBackend("webgpu");
  const model = options.model ?? DEFAULT_MLP_CONFIG;
  const step = createWebGpuStep(initialValues(model, { seed: options.seed }), {
    model,
    mode: options.mode,
    alpha: options.alpha,
    learningRate: options.learningRate,
    seed: options.seed,
  });
  const counter = installGpuCallCounter();
  const totals: GpuCallCounts = {
    dispatches: 0,
    submissions: 0,
    maps: 0,
    writes: 0,
  };
  let allSteps = 0;
  const epochs: FusedEpoch[] = [];
  try {
    step.attachTrainingSet(train);
    const perEpoch = Math.ceil(train.count / options.batchSize);
    const steps = Math.min(perEpoch, options.stepsPerEpoch ?? perEpoch);
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      counter.reset();
      const sums = { steps: 0, lossSum: 0, correct: 0, rows: 0 };
      const add = (m: FusedMetrics, at: number) => {
        if (!Number.isFinite(m.lossSum)) {
          throw new DivergenceError(
            { epoch, step: at, loss: m.lossSum },
            options,
          );
        }
        sums.steps += m.steps;
        sums.lossSum += m.lossSum;
        sums.correct += m.correct;
        sums.rows += m.rows;
      };
      let inFlight: { read: Promise<FusedMetrics>; at: number } | null = null;
      let samples = 0;
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) {
        const start = s * options.batchSize;
        const rows = Math.min(options.batchSize, train.count - start);
        samples += rows;
        step.run({
          x: train.images,
          y: train.labels,
          rows,
          source: { start, order: null },
        });
        if ((s + 1) % options.readEvery === 0 || s + 1 === steps) {
          const previous = inFlight;
          inFlight = { read: step.takeMetrics(), at: s + 1 };
          if (previous) add(await previous.read, previous.at);
        }
      }
      if (inFlight) add(await inFlight.read, inFlight.at);
      const seconds = (performance.now() - t0) / 1000;
      const counts = counter.read();
      for (const key of Object.keys(totals) as (keyof GpuCallCounts)[]) {
        totals[key] += counts[key];
      }
      allSteps += steps;
      let testAccuracy: number | null = null;
      let testLoss: number | null = null;
      if (options.test) {
        const params = mlpFromValues(model, await step.getValues());
        try {
          const result = await evaluateModel(params, {
            images: options.test.images,
            labels: options.test.labels,
            count: options.test.count,
            features: options.test.features,
          }, { classes: model.classes });
          testAccuracy = result.accuracy;
          testLoss = result.loss;
        } finally {
          disposeMlp(params);
        }
      }
      epochs.push({
        epoch,
        steps,
        seconds,
        samplesPerSecond: samples / seconds,
        trainLoss: sums.lossSum / sums.steps,
        trainAccuracy: sums.correct / sums.rows,
        testAccuracy,
        testLoss,
      });
    }
  } finally {
    counter.uninstall();
    step.dispose();
  }
  const trainSeconds = epochs.reduce((s, e) => s + e.seconds, 0);
  const samples = epochs.reduce(
    (s, e) => s + e.samplesPerSecond * e.seconds,
    0,
  );
  return {
    adapter: step.adapter,
    epochs,
    perStep: perStep(totals, allSteps),
    trainSeconds,
    samplesPerSecond: samples / trainSeconds,
  };
}

/** The fused path over `steps` steps (one short epoch), as a table row. */
export async function measureFused(
  data: BenchSplit,
  settings: WebGpuBenchSettings & { steps: number },
): Promise<WebGpuRow> {
  // Pipelines are compiled on the first step: warm up on a short run first.
  await runFusedJob(data, { ...settings, epochs: 1, stepsPerEpoch: 3 });
  const result = await runFusedJob(data, {
    ...settings,
    epochs: 1,
    stepsPerEpoch: settings.steps,
  });
  const [epoch] = result.epochs;
  return {
    path: "fused (after)",
    mode: settings.mode,
    steps: epoch.steps,
    samplesPerSecond: epoch.samplesPerSecond,
    msPerStep: (1000 * epoch.seconds) / epoch.steps,
    perStep: result.perStep,
    meanLoss: epoch.trainLoss,
  };
}

/** Profiles the fused step's kernels on tfjs' webgpu device (see webgpu_profile.ts). */
export async function profileOnTfjsDevice(
  options: { mode: "baseline" | "rdrop"; batchSize: number; repeats: number },
): Promise<FusedProfile> {
  await selectBackend("webgpu");
  return await profileFusedStep(
    tfjsGpuContext(describeEnvironment().adapter),
    options,
  );
}

/** The rows as a Markdown table. */
export function formatWebGpuTable(rows: WebGpuRow[]): string {
  const lines = [
    "| path | mode | steps | samples/s | ms/step | dispatches/step | submissions/step | maps/step | writes/step |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  for (const r of rows) {
    lines.push(
      `| ${r.path} | ${r.mode} | ${r.steps} | ${
        r.samplesPerSecond.toFixed(1)
      } | ${r.msPerStep.toFixed(1)} | ${n(r.perStep.dispatches)} | ${
        n(r.perStep.submissions)
      } | ${n(r.perStep.maps)} | ${n(r.perStep.writes)} |`,
    );
  }
  return lines.join("\n");
}

/** Runs both paths for each mode, prints the table and the speed-up; 0 on success. */
export async function benchWebGpu(
  data: BenchSplit,
  options: {
    modes: ("baseline" | "rdrop")[];
    beforeSteps: number;
    afterSteps: number;
    settings: Omit<WebGpuBenchSettings, "mode">;
  },
): Promise<WebGpuRow[]> {
  const rows: WebGpuRow[] = [];
  for (const mode of options.modes) {
    const settings = { ...options.settings, mode };
    const before = await measureTfjsWebGpu(data, {
      ...settings,
      steps: options.beforeSteps,
      warmup: 2,
    });
    console.log(
      `webgpu ${mode} ${before.path}: ${
        before.samplesPerSecond.toFixed(1)
      } samples/s`,
    );
    const after = await measureFused(data, {
      ...settings,
      steps: options.afterSteps,
    });
    console.log(
      `webgpu ${mode} ${after.path}: ${
        after.samplesPerSecond.toFixed(1)
      } samples/s ` +
        `(${(after.samplesPerSecond / before.samplesPerSecond).toFixed(1)}x)`,
    );
    rows.push(before, after);
    const profile = await profileOnTfjsDevice({
      mode,
      batchSize: settings.batchSize,
      repeats: 5,
    });
    console.log(`webgpu ${mode} fused step profile: ${formatProfile(profile)}`);
  }
  console.log("");
  console.log(formatWebGpuTable(rows));
  return rows;
}
