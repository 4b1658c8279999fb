/**
 * The experiment's params: one zod schema for the whole `params.json`, with the
 * reference experiment's values as defaults. `--set key.path=value` edits this
 * same tree before validation.
 *
 * @module
 */
import { z } from "zod";
import { DEFAULT_SOURCES } from "../data/fashion_mnist.ts";
import { matrixIssues } from "../pipeline/mod.ts";
import { machineMemory, paramsIssues } from "./plan_checks.ts";
import { SequentialDesign } from "./sequential/design.ts";

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
  /**
   * Training examples held out for validation (stratified by class, always the same ones);
   * training uses the rest and the per-epoch curves are drawn on them. 0 keeps the reference
   * protocol (no validation split; the curves are drawn on the test split).
   */
  validation: z.number().int().nonnegative().default(0),
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
   * How R-Drop's KL term is reduced over the batch: `sum` (the reference, PyTorch
   * KLDivLoss(reduction="sum")) grows with the batch size; `batchmean` divides by it, so alpha
   * carries over between batch sizes.
   */
  klReduction: z.enum(["sum", "batchmean"]).default("sum"),
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

const ParamsObject = z.strictObject({
  /** One training/evaluation run per seed; the report compares them pairwise. */
  seeds: z.array(z.number().int().nonnegative()).min(1).default([0]),
  download: DownloadParams.prefault({}),
  preprocess: PreprocessParams.prefault({}),
  train: TrainParams.prefault({}),
  /**
   * A sweep: the params tree again, with a LIST of values to try at each swept param,
   * e.g. `{"train": {"alpha": [0.01, 0.05]}}` (a list-valued param takes a list of lists).
   * One instance per combination and seed; stages a swept param does not change run once.
   */
  matrix: z.record(z.string(), z.unknown()).default({}),
  /**
   * A sequential experiment (see `stages/sequential/`): seeds are added in rounds until the
   * question is decided. Absent: every seed runs at once.
   */
  sequential: SequentialDesign.optional(),
  /**
   * Seeds per arm ("baseline" or the alpha) in the current round of a sequential experiment.
   * The decide stage's rounds set it; never set by hand.
   */
  roundSeeds: z.record(z.string(), z.number().int().nonnegative()).optional(),
});

/** The whole params file. */
export const Params = ParamsObject.superRefine((params, ctx) => {
  const issues = [
    ...matrixIssues(ParamsObject, params, "matrix"),
    ...paramsIssues(params, { memoryBytes: machineMemory() }),
  ];
  for (const issue of issues) {
    ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  }
  const design = params.sequential;
  if (design !== undefined) {
    const expected = Array.from({ length: design.maxSeeds }, (_, i) => i);
    if (JSON.stringify(params.seeds) !== JSON.stringify(expected)) {
      ctx.addIssue({
        code: "custom",
        path: ["seeds"],
        message:
          `a sequential experiment adds seeds 0, 1, 2, ... in rounds, so seeds must be 0..${
            design.maxSeeds - 1
          } (sequential.maxSeeds = ${design.maxSeeds}); set seeds to [${
            expected.join(", ")
          }]`,
      });
    }
  }
});
/** The validated params of a pipeline run. */
export type Params = z.output<typeof Params>;
