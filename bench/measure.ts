/**
 * Our side of the bench: times `createTrainStep` over real or synthetic batches the way the
 * trainer runs it (data uploaded once, batches sliced on the device, the loss read every
 * few steps only).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import process from "node:process";
import { DEFAULT_MLP_CONFIG, disposeMlp, initMlp } from "../models/mlp.ts";
import { createReferenceStep } from "../models/reference_step.ts";
import {
  createTrainStep,
  sliceRows,
  type TrainStepOptions,
} from "../models/train_step.ts";

/** Training data in memory: row-major images `[count, features]` and labels. */
export interface BenchData {
  images: Float32Array;
  labels: Int32Array;
  count: number;
  features: number;
  /** "fashion-mnist" or "synthetic". */
  source: string;
}

/** Settings of one measurement. */
export interface MeasureOptions {
  mode: "baseline" | "rdrop";
  /** Timed steps (after `warmup` untimed ones); batches wrap around the data like epochs. */
  steps: number;
  warmup?: number;
  batchSize: number;
  alpha: number;
  dropout: number;
  learningRate: number;
  seed: number;
  /** Read the loss back every this many steps (default 50), as the trainer does. */
  readEvery?: number;
  /**
   * "ours" (default): `createTrainStep`; "reference": the plain autodiff step of
   * `models/reference_step.ts` (tf.variableGrads + Adam as tfjs ops), for comparison.
   */
  step?: "ours" | "reference";
  /** Overrides of our step's implementation choices (for ablations). */
  variant?: Pick<TrainStepOptions, "adam" | "head">;
}

/** What one measurement found. */
export interface Measurement {
  backend: string;
  mode: "baseline" | "rdrop";
  steps: number;
  samples: number;
  wallSeconds: number;
  /** CPU seconds of this process (user + system) over the timed steps. */
  cpuSeconds: number;
  samplesPerSecond: number;
  /** The last loss read back (a sanity check that training progresses). */
  lastLoss: number;
}

/** Synthetic data: uniform pixels and labels, seeded (for runs without the dataset). */
export function syntheticData(count: number, seed: number): BenchData {
  const features = 784;
  const images = new Float32Array(count * features);
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < images.length; i++) images[i] = next();
  const labels = Int32Array.from(
    { length: count },
    () => Math.floor(next() * 10),
  );
  return { images, labels, count, features, source: "synthetic" };
}

/** Batch `k` (0-based, wrapping around epochs): its first row and its size. */
export function batchAt(
  k: number,
  count: number,
  batchSize: number,
): { start: number; size: number } {
  const perEpoch = Math.ceil(count / batchSize);
  const start = (k % perEpoch) * batchSize;
  return { start, size: Math.min(batchSize, count - start) };
}

/** Times `options.steps` training steps on the active tfjs backend. */
export async function measureTraining(
  data: BenchData,
  options: MeasureOptions,
): Promise<Measurement> {
  // JIT, heap growth and XNNPACK operator caches settle over the first few dozen steps.
  const warmup = options.warmup ?? 30;
  const readEvery = options.readEvery ?? 50;
  const total = warmup + options.steps;
  // Upload only the rows the run touches (all of them once it wraps).
  const rows = Math.min(data.count, total * options.batchSize);
  const x = tf.tensor2d(data.images.subarray(0, rows * data.features), [
    rows,
    data.features,
  ]);
  const y = tf.tensor1d(data.labels.subarray(0, rows), "int32");
  const params = initMlp({ ...DEFAULT_MLP_CONFIG, dropout: options.dropout }, {
    seed: options.seed,
  });
  const settings = {
    mode: options.mode,
    alpha: options.alpha,
    dropout: options.dropout,
    learningRate: options.learningRate,
    seed: options.seed,
  };
  const step = options.step === "reference"
    ? createReferenceStep(params, settings)
    : createTrainStep(params, { ...settings, ...options.variant });
  const runStep = (k: number): tf.Scalar => {
    const { start, size } = batchAt(k, rows, options.batchSize);
    return tf.tidy(() => {
      // Not tf.slice: on wasm it copies the whole uploaded dataset per batch.
      const xb = sliceRows(x, start, size);
      const yb = sliceRows(y, start, size);
      return step.run(xb, yb);
    });
  };
  try {
    for (let k = 0; k < warmup; k++) runStep(k).dispose();
    let lastLoss = NaN;
    let samples = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let k = warmup; k < total; k++) {
      samples += batchAt(k, rows, options.batchSize).size;
      const loss = runStep(k);
      if ((k - warmup + 1) % readEvery === 0 || k === total - 1) {
        lastLoss = (await loss.data())[0];
      }
      loss.dispose();
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      backend: tf.getBackend(),
      mode: options.mode,
      steps: options.steps,
      samples,
      wallSeconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      samplesPerSecond: samples / wallSeconds,
      lastLoss,
    };
  } finally {
    step.dispose();
    disposeMlp(params);
    x.dispose();
    y.dispose();
  }
}
