/**
 * Statistics of paired differences beside the t-interval, none assuming normality:
 *
 * - a percentile **bootstrap** interval of the mean difference (Efron & Tibshirani 1993),
 * - a **sign-flip permutation** p-value for "mean difference is zero" (exact up to 16 pairs,
 *   seeded Monte Carlo above), valid when each difference is symmetric about zero under the
 *   null, which holds when the two arms are exchangeable within a seed,
 * - the **probability of outperforming**, P(R-Drop beats the baseline on a new seed), with a
 *   bootstrap interval (Bouthillier et al., "Accounting for Variance in Machine Learning
 *   Benchmarks", MLSys 2021).
 *
 * Everything random is drawn from a seeded generator, so the same differences always give the
 * same numbers (a cached report stays byte-stable).
 *
 * @module
 */
import { ReportError } from "./errors.ts";
import { mean } from "./stats.ts";

/**
 * A small seeded generator (mulberry32): uniform floats in [0, 1). Good enough for resampling
 * indices and signs; not for cryptography.
 */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options shared by the resampling statistics. */
export interface ResamplingOptions {
  /** Seed of the resampling draws (default 0): same seed, same numbers. */
  seed?: number;
  /** Number of bootstrap resamples or Monte Carlo sign draws (default 10,000). */
  resamples?: number;
  /** Confidence level of an interval (default 0.95). */
  level?: number;
}

function checkPairs(differences: readonly number[], what: string): void {
  if (differences.length < 2) {
    throw new ReportError(
      `${what}: needs at least 2 paired differences, got ${differences.length}; run more seeds.`,
    );
  }
  if (!differences.every(Number.isFinite)) {
    throw new ReportError(
      `${what}: every paired difference must be a finite number.`,
    );
  }
}

function checkLevel(level: number, what: string): void {
  if (!(level > 0 && level < 1)) {
    throw new ReportError(
      `${what}: level must be between 0 and 1 (e.g. 0.95), got ${level}.`,
    );
  }
}

/** Empirical quantile with linear interpolation between order statistics (type 7). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    throw new ReportError("quantile: got no values.");
  }
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** A bootstrap interval of a statistic of the paired differences. */
export interface BootstrapInterval {
  /** The statistic on the observed differences. */
  estimate: number;
  /** Lower percentile bound. */
  low: number;
  /** Upper percentile bound. */
  high: number;
  level: number;
  resamples: number;
  seed: number;
}

function bootstrap(
  differences: readonly number[],
  statistic: (sample: readonly number[]) => number,
  options: ResamplingOptions,
): BootstrapInterval {
  const level = options.level ?? 0.95;
  const resamples = options.resamples ?? 10_000;
  const seed = options.seed ?? 0;
  checkLevel(level, "bootstrap");
  const random = seededUniform(seed);
  const n = differences.length;
  const sample = new Array<number>(n);
  const stats: number[] = [];
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) {
      sample[i] = differences[Math.floor(random() * n)];
    }
    stats.push(statistic(sample));
  }
  stats.sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return {
    estimate: statistic(differences),
    low: quantile(stats, tail),
    high: quantile(stats, 1 - tail),
    level,
    resamples,
    seed,
  };
}

/**
 * Percentile bootstrap interval of the mean paired difference: resample the pairs with
 * replacement, take the mean of each resample, read the (1 ± level)/2 quantiles.
 */
export function pairedBootstrap(
  differences: readonly number[],
  options: ResamplingOptions = {},
): BootstrapInterval {
  checkPairs(differences, "pairedBootstrap");
  return bootstrap(differences, mean, options);
}

/** A sign-flip permutation test of "the mean paired difference is zero". */
export interface PermutationTest {
  /** Two-sided p-value. */
  p: number;
  /** True when every one of the 2^n sign patterns was enumerated. */
  exact: boolean;
  /** Sign patterns drawn (2^n when exact). */
  draws: number;
}

/** Up to this many pairs the sign-flip test enumerates all 2^n patterns (65,536 at 16). */
export const EXACT_PERMUTATION_LIMIT = 16;

/**
 * Two-sided sign-flip permutation p-value for the mean of paired differences: the share of
 * sign patterns whose |sum| is at least the observed |sum|. Exact for n <= 16; above that
 * `resamples` seeded random patterns, with the (1 + hits) / (1 + draws) correction that keeps
 * a Monte Carlo p-value valid.
 */
export function signFlipTest(
  differences: readonly number[],
  options: Omit<ResamplingOptions, "level"> = {},
): PermutationTest {
  checkPairs(differences, "signFlipTest");
  const n = differences.length;
  let observed = 0;
  for (const d of differences) observed += d;
  // A relative tolerance, so a pattern equal to the observed sum up to rounding counts as a hit.
  const bound = Math.abs(observed) * (1 - 1e-12) - 1e-15;
  if (n <= EXACT_PERMUTATION_LIMIT) {
    let hits = 0;
    const patterns = 2 ** n;
    for (let mask = 0; mask < patterns; mask++) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        sum += (mask >> i) & 1 ? -differences[i] : differences[i];
      }
      if (Math.abs(sum) >= bound) hits++;
    }
    return { p: hits / patterns, exact: true, draws: patterns };
  }
  const draws = options.resamples ?? 10_000;
  const random = seededUniform(options.seed ?? 0);
  let hits = 0;
  for (let b = 0; b < draws; b++) {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += random() < 0.5 ? -differences[i] : differences[i];
    }
    if (Math.abs(sum) >= bound) hits++;
  }
  return { p: (1 + hits) / (1 + draws), exact: false, draws };
}

/**
 * Share of pairs in which the first arm wins (difference > 0), a tie counting one half: the
 * paired estimate of the probability that it beats the other on a new seed.
 */
export function winShare(differences: readonly number[]): number {
  let wins = 0;
  for (const d of differences) wins += d > 0 ? 1 : d === 0 ? 0.5 : 0;
  return wins / differences.length;
}

/**
 * The probability of outperforming (Bouthillier et al., MLSys 2021): P(arm beats the baseline
 * on a new seed), estimated by {@link winShare} over the paired seeds, with a percentile
 * bootstrap interval. Bouthillier et al. call an improvement meaningful when the interval's
 * lower bound exceeds 0.5 and its estimate reaches 0.75.
 */
export function probabilityOfOutperforming(
  differences: readonly number[],
  options: ResamplingOptions = {},
): BootstrapInterval {
  checkPairs(differences, "probabilityOfOutperforming");
  return bootstrap(differences, winShare, options);
}
