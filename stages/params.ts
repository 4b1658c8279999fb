/**
 * The experiment's params: one zod schema for the whole `params.json`, with the
 * reference experiment's values as defaults. `--set key.path=value` edits this
 * same tree before validation.
 *
 * @module
 */
import { z } from "zod";
import { DEFAULT_SOURCES } from "../data/fashion_mnist.ts";

/** Where Fashion-MNIST comes from, in order of preference. */
export const DownloadParams = z.strictObject({
  /** Directories, `file://` URLs or `http(s)://` base URLs; the first verified file wins. */
  sources: z.array(z.string().min(1)).min(1).default([...DEFAULT_SOURCES]),
  /** Seconds before an HTTP request (or a stalled body) is given up. */
  timeoutSeconds: z.number().positive().default(60),
  /** Extra attempts per HTTP source after a network error or a 5xx answer. */
  retries: z.number().int().nonnegative().default(3),
});

/** How the IDX files become tensors. */
export const PreprocessParams = z.strictObject({
  /** Keep only the first N examples of each split (quick runs, tests); null keeps all. */
  limit: z.number().int().positive().nullable().default(null),
});

/** The model and optimiser shared by both training modes. */
export const TrainParams = z.strictObject({
  epochs: z.number().int().positive().default(10),
  batchSize: z.number().int().positive().default(32),
  learningRate: z.number().positive().default(1e-3),
  /** Shuffle the training set each epoch (seeded); off in the reference experiment. */
  shuffle: z.boolean().default(false),
  hidden: z.array(z.number().int().positive()).min(1).default([512, 512]),
  dropout: z.number().min(0).lt(1).default(0.5),
  /** R-Drop's weight of the symmetric KL term (unused by the baseline). */
  alpha: z.number().nonnegative().default(0.05),
  /**
   * `auto` picks WebGPU on a hardware GPU, else `native` (OpenBLAS through FFI) when the
   * library loads, else the wasm backend.
   */
  backend: z.enum(["auto", "native", "webgpu", "wasm", "cpu"]).default("auto"),
  /**
   * OpenBLAS threads per training run (backend native; part of a native run's key, as it
   * changes the summation order). One by default: parallel train instances use the cores,
   * and at batch 32 a second thread does not pay.
   */
  blasThreads: z.number().int().positive().default(1),
});

/** The whole params file. */
export const Params = z.strictObject({
  /** One training/evaluation run per seed; the report compares them pairwise. */
  seeds: z.array(z.number().int().nonnegative()).min(1).default([0]),
  download: DownloadParams.prefault({}),
  preprocess: PreprocessParams.prefault({}),
  train: TrainParams.prefault({}),
});
/** The validated params of a pipeline run. */
export type Params = z.output<typeof Params>;
