/**
 * Shared pieces of the fused WebGPU step's tests: one device per test file (the CI
 * machine's navigator.gpu is llvmpipe, so these run there), a tiny model, data whose
 * pixels are k/255 (palette upload) or arbitrary floats, and the CPU step as the oracle.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  disposeMlp,
  initialValues,
  type MlpConfig,
  mlpFromValues,
  readMlpValues,
} from "../../../models/mlp.ts";
import { createTrainStep } from "../../../models/train_step.ts";
import {
  type GpuContext,
  requestGpuDevice,
} from "../../../models/webgpu/device.ts";
import { probeAdapter } from "../../../models/adapter.ts";

/** The tiny model of these tests (1251 parameters: not a multiple of 4, so the padding of the vec4 Adam is covered). */
export const MODEL: MlpConfig = {
  inputSize: 20,
  hidden: [32, 16],
  classes: 3,
  dropout: 0.5,
};

/** Why the WebGPU tests are skipped, or null when an adapter exists (llvmpipe counts). */
export const SKIP_REASON: string | null = (await probeAdapter()) === null
  ? "no WebGPU adapter in this runtime (install mesa-vulkan-drivers for llvmpipe)"
  : null;
if (SKIP_REASON) console.warn(`tests/models/webgpu: skipped: ${SKIP_REASON}`);

let context: Promise<GpuContext> | null = null;
/** One device for the whole file. */
export function gpu(): Promise<GpuContext> {
  context ??= requestGpuDevice();
  return context;
}

/** Rows of data: pixels k/255 (`palette`) or sines (float32 upload). */
export function data(
  rows: number,
  options: { palette: boolean; seed: number; model?: MlpConfig },
): { images: Float32Array; labels: Int32Array } {
  const model = options.model ?? MODEL;
  let s = options.seed * 7919 + 17;
  const next = () => (s = (s * 48271) % 2147483647) / 2147483647;
  const images = Float32Array.from(
    { length: rows * model.inputSize },
    (_, i) =>
      options.palette
        ? Math.floor(next() * 256) / 255
        : Math.sin(i * 0.37 + options.seed),
  );
  const labels = Int32Array.from(
    { length: rows },
    () => Math.floor(next() * model.classes),
  );
  return { images, labels };
}

/** Batch k of a run over `count` rows in batches of `batch` (the last one partial). */
export function batchAt(
  k: number,
  count: number,
  batch: number,
): { start: number; size: number } {
  const perEpoch = Math.ceil(count / batch);
  const start = (k % perEpoch) * batch;
  return { start, size: Math.min(batch, count - start) };
}

/** Settings of a test run. */
export interface RunSettings {
  mode: "baseline" | "rdrop";
  steps: number;
  batch: number;
  seed: number;
  order: Int32Array | null;
  /** The model (default {@linkcode MODEL}). */
  model?: MlpConfig;
}

/** What a run ends with. */
export interface RunResult {
  losses: number[];
  values: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
}

/** The CPU step (tfjs cpu backend) over the same batches: the oracle. */
export async function cpuRun(
  set: { images: Float32Array; labels: Int32Array },
  settings: RunSettings,
): Promise<RunResult> {
  await tf.setBackend("cpu");
  const count = set.labels.length;
  const model = settings.model ?? MODEL;
  const params = mlpFromValues(model, initialValues(model, { seed: 1 }));
  const step = createTrainStep(params, {
    mode: settings.mode,
    alpha: 1,
    dropout: model.dropout,
    learningRate: 0.01,
    seed: settings.seed,
  });
  const losses: number[] = [];
  for (let k = 0; k < settings.steps; k++) {
    const { start, size } = batchAt(k, count, settings.batch);
    const rows = Array.from(
      { length: size },
      (_, i) => settings.order ? settings.order[start + i] : start + i,
    );
    const xs = new Float32Array(size * model.inputSize);
    rows.forEach((r, i) =>
      xs.set(
        set.images.subarray(r * model.inputSize, (r + 1) * model.inputSize),
        i * model.inputSize,
      )
    );
    const x = tf.tensor2d(xs, [size, model.inputSize]);
    const y = tf.tensor1d(Int32Array.from(rows, (r) => set.labels[r]), "int32");
    const loss = step.run(x, y);
    losses.push((await loss.data())[0]);
    tf.dispose([x, y, loss]);
  }
  const state = await step.getState();
  const values = await readMlpValues(params);
  step.dispose();
  disposeMlp(params);
  return { losses, values, m: state.m, v: state.v };
}

/** The largest absolute difference between two lists of arrays. */
export function maxDifference(
  a: ArrayLike<number>[],
  b: ArrayLike<number>[],
): number {
  let max = 0;
  a.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) {
      max = Math.max(max, Math.abs(x[j] - b[i][j]));
    }
  });
  return max;
}
