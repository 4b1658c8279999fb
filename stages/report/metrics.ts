/**
 * `metrics.json`: the report's numbers in machine-readable form, and how they are computed
 * from the validated input. Accuracies and differences are fractions (0.8534, not 85.34).
 *
 * @module
 */
import { z } from "zod";
import {
  ReportEnvironment,
  type ReportRun,
  StageTiming,
  type ValidatedInput,
} from "./input.ts";
import { Provenance } from "./provenance.ts";
import {
  findEnvironmentNotes,
  findMixedSettings,
  findParamMismatches,
  findReferenceDifferences,
} from "./consistency.ts";
import { mean, pairedTInterval, sampleStd, verdictOf } from "./stats.ts";

const ModelName = z.enum(["baseline", "rdrop"]);

/** The split a per-epoch curve was measured on. */
export const CurveSplit = z.enum(["test", "validation"]);
/** The split a per-epoch curve was measured on. */
export type CurveSplit = z.infer<typeof CurveSplit>;

/** Mean and sample standard deviation (null for a single value) over n runs. */
const Stat = z.object({
  mean: z.number(),
  std: z.number().nonnegative().nullable(),
  n: z.number().int().positive(),
});
/** Mean, sample std and count. */
export type Stat = z.infer<typeof Stat>;

const RunMetrics = z.object({
  model: ModelName,
  seed: z.number().int(),
  testAccuracy: z.number().min(0).max(1),
  testLoss: z.number(),
  trainSeconds: z.number().nonnegative(),
  samplesPerSecond: z.number().nonnegative(),
  backend: z.string(),
  requestedBackend: z.string(),
  adapter: z.string().nullable(),
  epochs: z.number().int().nonnegative(),
  alpha: z.number().nonnegative(),
  resumedEpochs: z.number().int().nonnegative(),
  examples: z.number().int().positive(),
});

/** One model's results aggregated over its seeds. */
const ModelSummary = z.object({
  model: ModelName,
  seeds: z.array(z.number().int()),
  testAccuracy: Stat,
  testLoss: Stat,
  trainSeconds: Stat,
  samplesPerSecond: Stat,
  backends: z.array(z.string()),
});
/** One model's results aggregated over its seeds. */
export type ModelSummary = z.infer<typeof ModelSummary>;

/** The paired R-Drop - baseline comparison. */
const Comparison = z.object({
  /** Seeds both models ran; the difference is paired on these. */
  pairedSeeds: z.array(z.number().int()).min(1),
  perSeed: z.array(z.object({
    seed: z.number().int(),
    baseline: z.number().min(0).max(1),
    rdrop: z.number().min(0).max(1),
    difference: z.number(),
  })),
  /** Mean of rdrop - baseline test accuracy over paired seeds. */
  meanDifference: z.number(),
  stdDifference: z.number().nonnegative().nullable(),
  /** Mean of rdrop - baseline test loss over paired seeds. */
  meanLossDifference: z.number(),
  /** 95 % paired Student-t interval with n - 1 df; null with a single pair. */
  interval: z.object({
    method: z.literal("paired-t"),
    level: z.number().gt(0).lt(1),
    df: z.number().int().positive(),
    tQuantile: z.number().positive(),
    low: z.number(),
    high: z.number(),
  }).nullable(),
  verdict: z.enum(["helped", "hurt", "unclear", "single-run"]),
});
/** The paired R-Drop - baseline comparison. */
export type Comparison = z.infer<typeof Comparison>;

/** Schema of `metrics.json`; {@link renderReport} validates with it before writing. */
export const Metrics = z.object({
  /** 2: curves name their split (`accuracy` on `curveSplit`), per-class intervals. */
  schemaVersion: z.literal(2),
  generatedAt: z.string(),
  models: z.array(ModelSummary).min(1),
  comparison: Comparison.nullable(),
  published: z.object({
    baseline: z.number().min(0).max(1),
    rdrop: z.number().min(0).max(1),
    difference: z.number(),
    source: z.string(),
    /** Where the published figures can be checked. */
    url: z.string().optional(),
    /** Params that differ from the setting the published figures belong to. */
    settingDifferences: z.array(z.string()),
  }),
  runs: z.array(RunMetrics).min(1),
  classNames: z.array(z.string()),
  /** Per-class test accuracy, mean over each model's seeds (null: model absent or no examples). */
  perClass: z.array(z.object({
    index: z.number().int().nonnegative(),
    name: z.string(),
    baseline: z.number().min(0).max(1).nullable(),
    rdrop: z.number().min(0).max(1).nullable(),
  })),
  /** Confusion matrices [true][predicted], summed over each model's seeds. */
  confusion: z.object({
    baseline: z.array(z.array(z.number().int().nonnegative())).nullable(),
    rdrop: z.array(z.array(z.number().int().nonnegative())).nullable(),
  }),
  /**
   * The split the per-epoch curves were measured on: the held-out validation examples when
   * the runs had some (preprocess.validation > 0), else the test split.
   */
  curveSplit: CurveSplit,
  /** Per-epoch means over seeds, for the learning curves (accuracy and loss on `curveSplit`). */
  curves: z.array(z.object({
    model: ModelName,
    epoch: z.number().int().positive(),
    seeds: z.number().int().positive(),
    accuracy: z.number().min(0).max(1),
    loss: z.number(),
    trainLoss: z.number(),
  })),
  /** Settings that differ between runs beyond the seed (empty when comparable). */
  warnings: z.array(z.string()),
  /** Harmless differences worth knowing (e.g. runs trained by an earlier process). */
  notes: z.array(z.string()),
  stages: z.array(StageTiming),
  environment: ReportEnvironment,
  params: z.json(),
  /** Commit, command, machine and versions of the run that made the report. */
  provenance: Provenance.nullable().optional(),
});
/** The content of `metrics.json`. */
export type Metrics = z.infer<typeof Metrics>;

function stat(values: number[]): Stat {
  return { mean: mean(values), std: sampleStd(values), n: values.length };
}

/** Sorts object keys recursively so the printed params do not depend on key order. */
export function canonicalJson(
  value: unknown,
): z.infer<ReturnType<typeof z.json>> {
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, z.infer<ReturnType<typeof z.json>>> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonicalJson(v);
    }
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    return String(value);
  }
  if (value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") {
    return String(value);
  }
  return value as string | number | boolean | null;
}

function summarize(
  model: "baseline" | "rdrop",
  runs: ReportRun[],
): ModelSummary {
  return {
    model,
    seeds: runs.map((r) => r.seed),
    testAccuracy: stat(runs.map((r) => r.evaluation.testAccuracy)),
    testLoss: stat(runs.map((r) => r.evaluation.testLoss)),
    trainSeconds: stat(runs.map((r) => r.run.trainSeconds)),
    samplesPerSecond: stat(runs.map((r) => r.run.samplesPerSecond)),
    backends: [...new Set(runs.map((r) => r.run.backend))].sort(),
  };
}

/** Paired comparison over the seeds both models ran; null if there are none. */
export function compare(
  baseline: readonly ReportRun[],
  rdrop: readonly ReportRun[],
): Comparison | null {
  const bySeed = new Map(baseline.map((r) => [r.seed, r]));
  const pairs = rdrop.filter((r) => bySeed.has(r.seed)).map((r) => ({
    seed: r.seed,
    base: bySeed.get(r.seed)!.evaluation,
    rdrop: r.evaluation,
  }));
  if (pairs.length === 0) return null;
  const diffs = pairs.map((p) => p.rdrop.testAccuracy - p.base.testAccuracy);
  const interval = pairs.length >= 2
    ? pairedTInterval(diffs, { level: 0.95 })
    : null;
  return {
    pairedSeeds: pairs.map((p) => p.seed),
    perSeed: pairs.map((p, i) => ({
      seed: p.seed,
      baseline: p.base.testAccuracy,
      rdrop: p.rdrop.testAccuracy,
      difference: diffs[i],
    })),
    meanDifference: mean(diffs),
    stdDifference: sampleStd(diffs),
    meanLossDifference: mean(
      pairs.map((p) => p.rdrop.testLoss - p.base.testLoss),
    ),
    interval: interval && {
      method: "paired-t",
      level: interval.level,
      df: interval.df,
      tQuantile: interval.tQuantile,
      low: interval.low,
      high: interval.high,
    },
    verdict: interval ? verdictOf(interval) : "single-run",
  };
}

function perClassMean(runs: ReportRun[], c: number): number | null {
  const values = runs.map((r) => r.evaluation.perClassAccuracy[c])
    .filter((v): v is number => v !== null && v !== undefined);
  return values.length > 0 ? mean(values) : null;
}

function sumConfusion(runs: ReportRun[], k: number): number[][] | null {
  if (runs.length === 0) return null;
  const total = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const r of runs) {
    r.evaluation.confusion.forEach((row, i) =>
      row.forEach((count, j) => {
        if (i < k && j < k) total[i][j] += count;
      })
    );
  }
  return total;
}

function curves(
  model: "baseline" | "rdrop",
  runs: ReportRun[],
): Metrics["curves"] {
  const maxEpochs = Math.max(0, ...runs.map((r) => r.history.epochs.length));
  const out: Metrics["curves"] = [];
  for (let e = 1; e <= maxEpochs; e++) {
    const records = runs.map((r) => r.history.epochs.find((x) => x.epoch === e))
      .filter((x) => x !== undefined);
    if (records.length === 0) continue;
    out.push({
      model,
      epoch: e,
      seeds: records.length,
      // history.json names the curve value testAccuracy whatever split it was drawn on.
      accuracy: mean(records.map((x) => x.testAccuracy)),
      loss: mean(records.map((x) => x.testLoss)),
      trainLoss: mean(records.map((x) => x.trainLoss)),
    });
  }
  return out;
}

/**
 * The split the runs' curves were drawn on. Runs that disagree are already a warning
 * (validation split differs); the curves then mix splits and are labelled by the first run.
 */
export function curveSplitOf(runs: readonly ReportRun[]): CurveSplit {
  return runs[0]?.history.curveSplit === "validation" ? "validation" : "test";
}

/** Computes every number of the report from validated input. Pure and deterministic. */
export function computeMetrics(input: ValidatedInput): Metrics {
  const baseline = input.runs.filter((r) => r.model === "baseline");
  const rdrop = input.runs.filter((r) => r.model === "rdrop");
  const models: ModelSummary[] = [];
  if (baseline.length > 0) models.push(summarize("baseline", baseline));
  if (rdrop.length > 0) models.push(summarize("rdrop", rdrop));
  const classNames = input.runs[0].evaluation.classNames;
  const k = classNames.length;
  return {
    schemaVersion: 2,
    generatedAt: input.generatedAt,
    models,
    comparison: compare(baseline, rdrop),
    published: {
      ...input.published,
      difference: input.published.rdrop - input.published.baseline,
      settingDifferences: findReferenceDifferences(input.params),
    },
    runs: input.runs.map((r) => ({
      model: r.model,
      seed: r.seed,
      testAccuracy: r.evaluation.testAccuracy,
      testLoss: r.evaluation.testLoss,
      trainSeconds: r.run.trainSeconds,
      samplesPerSecond: r.run.samplesPerSecond,
      backend: r.run.backend,
      requestedBackend: r.run.requestedBackend,
      adapter: r.run.adapter,
      epochs: r.history.epochs.length,
      alpha: r.history.alpha,
      resumedEpochs: r.run.resumedEpochs,
      examples: r.evaluation.examples,
    })),
    classNames,
    perClass: classNames.map((name, index) => ({
      index,
      name,
      baseline: perClassMean(baseline, index),
      rdrop: perClassMean(rdrop, index),
    })),
    confusion: {
      baseline: sumConfusion(baseline, k),
      rdrop: sumConfusion(rdrop, k),
    },
    curveSplit: curveSplitOf(input.runs),
    curves: [...curves("baseline", baseline), ...curves("rdrop", rdrop)],
    warnings: [
      ...findMixedSettings(input.runs),
      ...findParamMismatches(input.runs, input.params),
    ],
    notes: findEnvironmentNotes(input.runs, input.environment),
    stages: input.stages,
    environment: input.environment,
    params: canonicalJson(input.params),
    provenance: input.provenance,
  };
}
