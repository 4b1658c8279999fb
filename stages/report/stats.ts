/**
 * Small statistics for comparing models over seeds: mean, sample standard deviation,
 * Student-t quantiles and the paired t-interval.
 *
 * The t quantile is computed here (no stats dependency): Student's t CDF through the
 * regularized incomplete beta function, inverted by bisection. Bisection is slow but
 * cannot diverge, and 200 iterations on a handful of numbers cost nothing.
 *
 * @module
 */
import { ReportError } from "./errors.ts";

/** Arithmetic mean. Throws on an empty list because a mean of nothing has no value. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) {
    throw new ReportError("mean: got no values; pass at least one number.");
  }
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Sample standard deviation (divides by n - 1). Returns null for fewer than two values,
 * since one run says nothing about the spread.
 */
export function sampleStd(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (values.length - 1));
}

const LANCZOS = [
  0.99999999999980993,
  676.5203681218851,
  -1259.1392167224028,
  771.32342877765313,
  -176.61502916214059,
  12.507343278686905,
  -0.13857109526572012,
  9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** Natural log of the gamma function for x > 0 (Lanczos, g = 7; ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) {
    // Reflection keeps the Lanczos series in the range where it is accurate.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t +
    Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return h;
}

/** Regularized incomplete beta function I_x(a, b) for 0 <= x <= 1, a, b > 0. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(
    logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) +
      b * Math.log(1 - x),
  );
  // The continued fraction converges fast only on this side; use symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) {
    return (front * betaContinuedFraction(x, a, b)) / a;
  }
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function checkDf(df: number, what: string): void {
  if (!(df > 0) || !Number.isFinite(df)) {
    throw new ReportError(
      `${what}: degrees of freedom must be a finite number > 0, got ${df}; ` +
        "a t-interval needs at least two paired runs (df = n - 1).",
    );
  }
}

/** Cumulative distribution function of Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  checkDf(df, "studentTCdf");
  if (t === 0) return 0.5;
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/**
 * Quantile (inverse CDF) of Student's t: the t with P(T <= t) = p.
 * For example `studentTQuantile(0.975, 4)` is 2.776445.
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf(df, "studentTQuantile");
  if (!(p > 0 && p < 1)) {
    throw new ReportError(
      `studentTQuantile: probability must be strictly between 0 and 1, got ${p}.`,
    );
  }
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) {
    lo = hi;
    hi *= 2;
    if (hi > 1e300) return Infinity;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/** A two-sided confidence interval for the mean of paired differences. */
export interface PairedInterval {
  /** Number of pairs. */
  n: number;
  /** Mean of the differences. */
  mean: number;
  /** Sample standard deviation of the differences (n - 1). */
  std: number;
  /** Degrees of freedom, n - 1. */
  df: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** The t quantile used, t_{1-(1-level)/2, df}. */
  tQuantile: number;
  /** Lower bound. */
  low: number;
  /** Upper bound. */
  high: number;
}

/**
 * Student-t interval for the mean of paired differences `differences[i] = b_i - a_i`:
 * mean ± t_{1-(1-level)/2, n-1} · s / sqrt(n). Needs at least two pairs.
 */
export function pairedTInterval(
  differences: readonly number[],
  options: { level?: number } = {},
): PairedInterval {
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) {
    throw new ReportError(
      `pairedTInterval: level must be between 0 and 1 (e.g. 0.95), got ${level}.`,
    );
  }
  const n = differences.length;
  if (n < 2) {
    throw new ReportError(
      `pairedTInterval: needs at least 2 paired differences, got ${n}; run more seeds.`,
    );
  }
  const m = mean(differences);
  const s = sampleStd(differences) as number;
  const df = n - 1;
  const q = studentTQuantile(1 - (1 - level) / 2, df);
  const half = (q * s) / Math.sqrt(n);
  return {
    n,
    mean: m,
    std: s,
    df,
    level,
    tQuantile: q,
    low: m - half,
    high: m + half,
  };
}

/** What an interval says about the sign of the difference. */
export type Verdict = "helped" | "hurt" | "unclear";

/** "helped" when the whole interval lies above 0, "hurt" when below, else "unclear". */
export function verdictOf(interval: { low: number; high: number }): Verdict {
  if (interval.low > 0) return "helped";
  if (interval.high < 0) return "hurt";
  return "unclear";
}
