/**
 * The statistics of an alpha sweep: per alpha, mean ± sd over seeds of validation and test
 * accuracy, the paired difference to the baseline (same seeds) with its 95 % t-interval, which
 * alpha is selected and why, and one plain verdict per question (helps? which alpha? how sure?).
 *
 * Selection uses the validation split when the runs held one out (mean validation accuracy over
 * seeds); without one it falls back to test accuracy and says that this is optimistic.
 *
 * @module
 */
import { z } from "zod";
import { pct, pp } from "./format.ts";
import type { ReportRun } from "./input.ts";
import { mean, pairedTInterval, sampleStd, verdictOf } from "./stats.ts";

const StatSchema = z.object({
  mean: z.number(),
  std: z.number().nonnegative().nullable(),
  n: z.number().int().positive(),
  /** 95 % t-interval of the mean; null with one value. */
  low: z.number().nullable(),
  high: z.number().nullable(),
});
/** Mean, sample sd and 95 % t-interval of the mean over seeds. */
export type SweepStat = z.infer<typeof StatSchema>;

const Interval = z.object({
  level: z.number(),
  df: z.number().int().positive(),
  tQuantile: z.number(),
  low: z.number(),
  high: z.number(),
});

const Difference = z.object({
  /** Seeds both the baseline and this alpha ran. */
  pairedSeeds: z.array(z.number().int()),
  mean: z.number(),
  std: z.number().nonnegative().nullable(),
  /** 95 % paired t-interval; null with one pair. */
  interval: Interval.nullable(),
  /** Bonferroni-adjusted interval (level 1 − 0.05 / alphas tried); null with one pair. */
  adjusted: Interval.nullable(),
  verdict: z.enum(["helped", "hurt", "unclear", "single-run"]),
});

/** One run's final accuracies: validation (null without a validation split) and test. */
const SeedResult = z.object({
  seed: z.number().int(),
  validationAccuracy: z.number().min(0).max(1).nullable(),
  testAccuracy: z.number().min(0).max(1),
});
/** One run's final accuracies. */
export type SeedResult = z.infer<typeof SeedResult>;

/** One alpha's row of the sweep table. */
export const SweepRow = z.object({
  alpha: z.number().nonnegative(),
  seeds: z.array(z.number().int()),
  validationAccuracy: StatSchema.nullable(),
  testAccuracy: StatSchema,
  /** R-Drop − baseline test accuracy, paired by seed. */
  testDifference: Difference.nullable(),
  /** R-Drop − baseline validation accuracy, paired by seed. */
  validationDifference: Difference.nullable(),
  selected: z.boolean(),
  /** Each seed's accuracies, by seed. */
  perSeed: z.array(SeedResult),
});
/** One alpha's row of the sweep table. */
export type SweepRow = z.infer<typeof SweepRow>;

/** The sweep section of `metrics.json`. */
export const SweepMetrics = z.object({
  /** What selected the alpha. */
  selectedBy: z.enum(["validation", "test"]),
  selectedAlpha: z.number().nonnegative(),
  /** Why, in one sentence. */
  reason: z.string(),
  validationExamples: z.number().int().nonnegative(),
  /** KL reductions the R-Drop runs used (one, unless runs were mixed). */
  klReductions: z.array(z.string()),
  /** Size and weight factor of a partial last batch under batchmean, if any. */
  partialBatch: z.object({ size: z.number().int(), factor: z.number() })
    .nullable(),
  baseline: z.object({
    seeds: z.array(z.number().int()),
    validationAccuracy: StatSchema.nullable(),
    testAccuracy: StatSchema,
    perSeed: z.array(SeedResult),
  }).nullable(),
  rows: z.array(SweepRow).min(1),
  verdicts: z.object({
    helps: z.string(),
    whichAlpha: z.string(),
    howSure: z.string(),
  }),
});
/** The sweep section of `metrics.json`. */
export type SweepMetrics = z.infer<typeof SweepMetrics>;

/** A run's final validation accuracy: its last epoch's curve value when drawn on validation. */
export function validationAccuracy(run: ReportRun): number | null {
  if (run.history.curveSplit !== "validation") return null;
  const last = run.history.epochs.at(-1);
  return last === undefined ? null : last.testAccuracy;
}

/** Mean, sd and the 95 % t-interval of the mean of `values` (non-empty). */
export function describe(values: readonly number[]): SweepStat {
  const m = mean(values);
  if (values.length < 2) {
    return { mean: m, std: null, n: values.length, low: null, high: null };
  }
  const interval = pairedTInterval(values);
  return {
    mean: m,
    std: sampleStd(values),
    n: values.length,
    low: interval.low,
    high: interval.high,
  };
}

function bySeed(
  runs: readonly ReportRun[],
  value: (run: ReportRun) => number | null,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const run of runs) {
    const v = value(run);
    if (v !== null) out.set(run.seed, v);
  }
  return out;
}

function difference(
  own: Map<number, number>,
  baseline: Map<number, number>,
  alphasTried: number,
): z.infer<typeof Difference> | null {
  const seeds = [...own.keys()].filter((s) => baseline.has(s)).sort((a, b) =>
    a - b
  );
  if (seeds.length === 0) return null;
  const diffs = seeds.map((s) =>
    (own.get(s) as number) - (baseline.get(s) as number)
  );
  if (diffs.length < 2) {
    return {
      pairedSeeds: seeds,
      mean: diffs[0],
      std: null,
      interval: null,
      adjusted: null,
      verdict: "single-run",
    };
  }
  const strip = (i: ReturnType<typeof pairedTInterval>) => ({
    level: i.level,
    df: i.df,
    tQuantile: i.tQuantile,
    low: i.low,
    high: i.high,
  });
  const interval = pairedTInterval(diffs);
  return {
    pairedSeeds: seeds,
    mean: interval.mean,
    std: interval.std,
    interval: strip(interval),
    adjusted: strip(
      pairedTInterval(diffs, { level: 1 - 0.05 / Math.max(1, alphasTried) }),
    ),
    verdict: verdictOf(interval),
  };
}

function seedResults(
  runs: readonly ReportRun[],
  useValidation: boolean,
): SeedResult[] {
  return [...runs].sort((a, b) => a.seed - b.seed).map((r) => ({
    seed: r.seed,
    validationAccuracy: useValidation ? validationAccuracy(r) : null,
    testAccuracy: r.evaluation.testAccuracy,
  }));
}

/** The swept alphas the params declare (`matrix.train.alpha`), or null without one. */
export function sweptAlphas(params: unknown): number[] | null {
  const matrix = (params as { matrix?: { train?: { alpha?: unknown } } })
    ?.matrix;
  const alphas = matrix?.train?.alpha;
  return Array.isArray(alphas) && alphas.every((a) => typeof a === "number")
    ? alphas
    : null;
}

/** Runs in a fixed order (model, alpha, seed), so sums do not depend on arrival order. */
export function sortRuns(runs: readonly ReportRun[]): ReportRun[] {
  return [...runs].sort((a, b) =>
    a.model.localeCompare(b.model) || a.history.alpha - b.history.alpha ||
    a.seed - b.seed
  );
}

/**
 * The sweep's statistics from every run (baseline runs and R-Drop runs at any alphas).
 * Returns null when there is no R-Drop run.
 */
export function computeSweep(
  unsorted: readonly ReportRun[],
): SweepMetrics | null {
  const runs = sortRuns(unsorted);
  const rdrop = runs.filter((r) => r.model === "rdrop");
  if (rdrop.length === 0) return null;
  const baselineRuns = runs.filter((r) => r.model === "baseline");
  const alphas = [...new Set(rdrop.map((r) => r.history.alpha))].sort((a, b) =>
    a - b
  );
  const useValidation = runs.every((r) => validationAccuracy(r) !== null);
  const baseTest = bySeed(baselineRuns, (r) => r.evaluation.testAccuracy);
  const baseVal = bySeed(baselineRuns, validationAccuracy);
  const rows: SweepRow[] = alphas.map((alpha) => {
    const own = rdrop.filter((r) => r.history.alpha === alpha)
      .sort((a, b) => a.seed - b.seed);
    const test = bySeed(own, (r) => r.evaluation.testAccuracy);
    const val = bySeed(own, validationAccuracy);
    return {
      alpha,
      seeds: own.map((r) => r.seed),
      validationAccuracy: useValidation ? describe([...val.values()]) : null,
      testAccuracy: describe([...test.values()]),
      testDifference: difference(test, baseTest, alphas.length),
      validationDifference: useValidation
        ? difference(val, baseVal, alphas.length)
        : null,
      selected: false,
      perSeed: seedResults(own, useValidation),
    };
  });
  const score = (row: SweepRow) =>
    useValidation
      ? (row.validationAccuracy as SweepStat).mean
      : row.testAccuracy.mean;
  // Highest mean score; on an exact tie the smaller alpha (the weaker intervention).
  const best = rows.reduce((a, b) => (score(b) > score(a) ? b : a));
  best.selected = true;
  const runnerUp = rows.filter((r) => r !== best)
    .reduce<SweepRow | null>(
      (a, b) => (a === null || score(b) > score(a) ? b : a),
      null,
    );
  const split = useValidation ? "validation" : "test";
  const reason =
    `highest mean ${split} accuracy over ${best.seeds.length} seed(s): ${
      pct(score(best))
    }` + (runnerUp === null
      ? ""
      : ` (next: alpha ${runnerUp.alpha} at ${pct(score(runnerUp))})`);
  const kl = rdrop.map((r) => r.history.kl).filter((k) => k !== undefined);
  const sweep: SweepMetrics = {
    selectedBy: split,
    selectedAlpha: best.alpha,
    reason,
    validationExamples: runs[0].history.validationExamples,
    klReductions: kl.length === 0
      ? ["sum"]
      : [...new Set(kl.map((k) => k.reduction))].sort(),
    partialBatch: kl.find((k) => k.partialBatch !== null)?.partialBatch ?? null,
    baseline: baselineRuns.length === 0 ? null : {
      seeds: baselineRuns.map((r) => r.seed).sort((a, b) => a - b),
      validationAccuracy: useValidation
        ? describe([...baseVal.values()])
        : null,
      testAccuracy: describe([...baseTest.values()]),
      perSeed: seedResults(baselineRuns, useValidation),
    },
    rows,
    verdicts: { helps: "", whichAlpha: "", howSure: "" },
  };
  sweep.verdicts = verdicts(sweep, runnerUp);
  return SweepMetrics.parse(sweep);
}

function intervalText(d: { interval: { low: number; high: number } | null }) {
  return d.interval === null
    ? ""
    : ` (95 % paired t-interval [${pp(d.interval.low)}, ${
      pp(d.interval.high)
    }])`;
}

/** The three plain sentences: does it help, at which alpha, how sure. */
export function verdicts(
  sweep: SweepMetrics,
  runnerUp: SweepRow | null,
): SweepMetrics["verdicts"] {
  const best = sweep.rows.find((r) => r.selected) as SweepRow;
  const d = best.testDifference;
  const seeds = best.seeds.length;
  const onValidation = sweep.selectedBy === "validation";
  let helps: string;
  if (d === null) {
    helps =
      "Cannot tell: no baseline ran on the same seeds, so there is nothing to pair with.";
  } else if (d.verdict === "single-run") {
    helps = `Cannot tell from one seed: at alpha ${best.alpha} R-Drop is ${
      pp(d.mean)
    } against the baseline on test, and one run shows no spread; run more seeds.`;
  } else {
    const at = `at alpha ${best.alpha} (selected on ${sweep.selectedBy})`;
    helps = {
      helped: `Yes: ${at} R-Drop beats the baseline by ${
        pp(d.mean)
      } test accuracy${intervalText(d)}, and the whole interval is above zero.`,
      hurt: `No: ${at} R-Drop trails the baseline by ${
        pp(-d.mean).replace("+", "")
      } test accuracy${intervalText(d)}, and the whole interval is below zero.`,
      unclear: `Not shown: ${at} the difference to the baseline is ${
        pp(d.mean)
      }${intervalText(d)}, an interval that includes zero.`,
    }[d.verdict];
  }
  const which = onValidation
    ? `Alpha ${best.alpha}: ${sweep.reason}; its test accuracy (${
      pct(best.testAccuracy.mean)
    }) is the headline, measured on data that did not pick it.`
    : `Alpha ${best.alpha} has the ${sweep.reason}; this is optimistic, because the same test numbers pick the alpha and judge it (set preprocess.validation to select on held-out data).`;
  const above = sweep.rows.filter((r) => r.testDifference?.verdict === "helped")
    .length;
  const below = sweep.rows.filter((r) => r.testDifference?.verdict === "hurt")
    .length;
  const parts: string[] = [];
  if (seeds < 2) {
    parts.push(`Not sure at all: ${seeds} seed per alpha gives no error bars.`);
  } else {
    const scoreOf = (r: SweepRow) =>
      onValidation ? r.validationAccuracy as SweepStat : r.testAccuracy;
    const sd = scoreOf(best).std ?? 0;
    if (runnerUp !== null) {
      const gap = scoreOf(best).mean - scoreOf(runnerUp).mean;
      parts.push(
        `The selected alpha leads the next one by ${
          pp(gap)
        } in mean ${sweep.selectedBy} accuracy, ${
          gap > sd ? "more" : "less"
        } than the seed-to-seed sd (${
          pp(sd).replace("+", "")
        }), so the choice of alpha is ${
          gap > sd ? "fairly clear" : "uncertain"
        }.`,
      );
    }
    parts.push(
      `${above} of ${sweep.rows.length} alphas have a test interval above zero, ${below} below, over ${seeds} paired seeds.`,
    );
    if (!onValidation && sweep.rows.length > 1 && d?.adjusted) {
      parts.push(
        `Caveat: ${sweep.rows.length} alphas were compared on the same test set; allowing for that (Bonferroni, level 1 − 0.05/${sweep.rows.length}) the selected alpha's interval widens to [${
          pp(d.adjusted.low)
        }, ${pp(d.adjusted.high)}].`,
      );
    }
  }
  return { helps, whichAlpha: which, howSure: parts.join(" ") };
}
