/**
 * Schemas of the files that stages write and later stages read back.
 *
 * Every JSON file a stage reads is parsed with one of these, so a hand-edited or
 * truncated artifact fails with a message naming the file instead of a TypeError later.
 *
 * @module
 */
import { z } from "zod";
import { EpochRecord } from "../models/epoch_record.ts";

/** One epoch of training (the trainer's own record, so the two cannot drift apart). */
export { EpochRecord };

/** `history.json`: the per-epoch history of one training run. */
export const TrainHistory = z.object({
  mode: z.enum(["baseline", "rdrop"]),
  alpha: z.number().nonnegative(),
  seed: z.number().int(),
  /**
   * Which split the per-epoch `testAccuracy`/`testLoss` were measured on: `validation` when
   * preprocess.validation held examples out, else `test` (absent in older histories: test).
   */
  curveSplit: z.enum(["test", "validation"]).default("test"),
  /** Validation examples held out (0: none). */
  validationExamples: z.number().int().nonnegative().default(0),
  /** KL reduction and the weight the step got (absent in older histories: sum, alpha). */
  kl: z.object({
    reduction: z.enum(["sum", "batchmean"]),
    weight: z.number().nonnegative(),
    partialBatch: z.object({ size: z.number().int(), factor: z.number() })
      .nullable(),
  }).optional(),
  epochs: z.array(EpochRecord),
});
/** The per-epoch history of one training run. */
export type TrainHistory = z.infer<typeof TrainHistory>;

/** The OpenBLAS a native training run used. */
export const BlasRecord = z.object({
  /** Path given to dlopen. */
  library: z.string(),
  /** `openblas_get_config()`: version, build options, detected core. */
  config: z.string(),
  /** OpenBLAS version, e.g. "0.3.21". */
  version: z.string().nullable(),
  /** Kernels in use (`openblas_get_corename()`), e.g. "Haswell", "SkylakeX", "Prescott". */
  coreName: z.string(),
  /** The user's OPENBLAS_CORETYPE (passed through to OpenBLAS), or null. */
  coreTypeOverride: z.string().nullable(),
  /** BLAS threads during training. */
  threads: z.number().int().positive(),
});
/** The OpenBLAS a native training run used. */
export type BlasRecord = z.infer<typeof BlasRecord>;

/** `run.json`: where and how a training run happened. */
export const RunRecord = z.object({
  mode: z.enum(["baseline", "rdrop"]),
  seed: z.number().int(),
  /** The backend that trained: "native" | "webgpu" | "wasm" | "cpu". */
  backend: z.string(),
  /** The backend param as requested ("auto" included). */
  requestedBackend: z.string(),
  /** WebGPU adapter description, or null when no adapter was used. */
  adapter: z.string().nullable(),
  deno: z.string(),
  tfjs: z.string(),
  /** Total seconds of the training loops (sum of epochSeconds). */
  trainSeconds: z.number().nonnegative(),
  /** Training samples per second over the whole run. */
  samplesPerSecond: z.number().nonnegative(),
  /** Number of epochs that were resumed from a checkpoint rather than run in this process. */
  resumedEpochs: z.number().int().nonnegative(),
  /** The BLAS library of backend "native" (null otherwise; absent in older records). */
  blas: BlasRecord.nullable().optional(),
});
/** Where and how a training run happened. */
export type RunRecord = z.infer<typeof RunRecord>;

/** `evaluation.json`: one trained model evaluated on the test split. */
export const Evaluation = z.object({
  model: z.enum(["baseline", "rdrop"]),
  seed: z.number().int(),
  testAccuracy: z.number().min(0).max(1),
  testLoss: z.number(),
  examples: z.number().int().positive(),
  classNames: z.array(z.string()),
  /** perClassAccuracy[c] = correct predictions of class c / examples of class c (null if none). */
  perClassAccuracy: z.array(z.number().min(0).max(1).nullable()),
  /** confusion[true][predicted] counts. */
  confusion: z.array(z.array(z.number().int().nonnegative())),
});
/** One trained model evaluated on the test split. */
export type Evaluation = z.infer<typeof Evaluation>;
