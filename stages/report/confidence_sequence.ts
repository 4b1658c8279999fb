/**
 * An anytime-valid confidence sequence for the mean of paired differences: the two-sided
 * **normal-mixture** boundary for sub-Gaussian observations (Robbins 1970; in the form of
 * Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence
 * sequences", Annals of Statistics 2021, eq. (14)).
 *
 * Why this one: seeds arrive in rounds and the experiment stops when the interval decides, so
 * a fixed-n t-interval read after every round would over-cover its error rate (looking again
 * until it excludes zero finds an effect that is not there). A confidence sequence holds for
 * every n at once: P(the mean is outside CS_n for some n) <= alpha, whatever rule picks the
 * stopping time. A group-sequential design with alpha spending would also work, but it fixes
 * the looks in advance and its boundaries need numerical integration; the mixture boundary is
 * closed-form and lets a round have any size.
 *
 * The price is an assumption: each difference minus the mean is sigma-sub-Gaussian with a
 * sigma stated in advance (Gaussian noise with sd <= sigma qualifies). The report prints the
 * observed sd beside the assumed sigma, so a violated assumption is visible.
 *
 * Derivation (so the code can be checked): with S_n = sum(d_i - mu) and V_n = n sigma^2,
 * exp(lambda S_n - lambda^2 V_n / 2) is a nonnegative supermartingale for every lambda; mixing
 * lambda ~ N(0, 1/rho) gives M_n = sqrt(rho / (V_n + rho)) exp(S_n^2 / (2 (V_n + rho))), and
 * Ville's inequality bounds P(exists n: M_n >= 1/alpha) by alpha. M_n < 1/alpha is
 * |S_n| < sqrt((V_n + rho) log((V_n + rho) / (rho alpha^2))).
 *
 * @module
 */
import { ReportError } from "./errors.ts";
import { mean } from "./stats.ts";

/** What a confidence sequence needs besides the data. */
export interface ConfidenceSequenceOptions {
  /** Sub-Gaussian scale of one paired difference, in the data's units (stated in advance). */
  sigma: number;
  /** Error probability over all n at once (default 0.05). */
  alpha?: number;
  /**
   * Number of observations at which the boundary is tightest (default 10): the mixture
   * variance is chosen for it (Howard et al. 2021, section 3.5). It must be fixed in advance,
   * never from the data.
   */
  tunedFor?: number;
}

/** The confidence sequence at the current number of observations. */
export interface ConfidenceSequenceBound {
  n: number;
  mean: number;
  /** Half-width of the interval around the mean. */
  halfWidth: number;
  low: number;
  high: number;
  alpha: number;
  sigma: number;
  /** Mixture precision rho, in units of sigma^2. */
  rho: number;
}

function checkOptions(options: ConfidenceSequenceOptions): void {
  const alpha = options.alpha ?? 0.05;
  if (!(options.sigma > 0) || !Number.isFinite(options.sigma)) {
    throw new ReportError(
      `confidence sequence: sigma must be a finite number > 0 (the assumed sd of one paired difference), got ${options.sigma}.`,
    );
  }
  if (!(alpha > 0 && alpha < 1)) {
    throw new ReportError(
      `confidence sequence: alpha must be between 0 and 1 (e.g. 0.05), got ${alpha}.`,
    );
  }
  const tuned = options.tunedFor ?? 10;
  if (!(tuned >= 1) || !Number.isFinite(tuned)) {
    throw new ReportError(
      `confidence sequence: tunedFor must be a number of observations >= 1, got ${tuned}.`,
    );
  }
}

/** The boundary on |S_n| / sigma in units where sigma = 1: sqrt((n + rho) log((n + rho) / (rho alpha^2))). */
function unitBoundary(n: number, rho: number, alpha: number): number {
  return Math.sqrt((n + rho) * Math.log((n + rho) / (rho * alpha * alpha)));
}

/**
 * The mixture precision (in units of sigma^2) that makes the boundary tightest at `n`
 * observations: a golden-section search over log rho (the boundary is unimodal in it).
 */
export function tunedRho(n: number, alpha: number): number {
  const memoKey = `${n}:${alpha}`;
  const known = rhoMemo.get(memoKey);
  if (known !== undefined) return known;
  let lo = Math.log(1e-6 * n);
  let hi = Math.log(1e6 * n);
  const f = (logRho: number) => unitBoundary(n, Math.exp(logRho), alpha);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const a = hi - g * (hi - lo);
    const b = lo + g * (hi - lo);
    if (f(a) < f(b)) hi = b;
    else lo = a;
  }
  const rho = Math.exp((lo + hi) / 2);
  rhoMemo.set(memoKey, rho);
  return rho;
}

/** tunedRho's answers: a sequential simulation asks for the same few thousands of times. */
const rhoMemo = new Map<string, number>();

/**
 * Half-width of the normal-mixture confidence sequence after `n` observations:
 * sigma sqrt((n + rho) log((n + rho) / (rho alpha^2))) / n.
 */
export function confidenceSequenceHalfWidth(
  n: number,
  options: ConfidenceSequenceOptions,
): number {
  checkOptions(options);
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new ReportError(
      `confidence sequence: needs at least one observation, got n = ${n}.`,
    );
  }
  const alpha = options.alpha ?? 0.05;
  const rho = tunedRho(options.tunedFor ?? 10, alpha);
  return options.sigma * unitBoundary(n, rho, alpha) / n;
}

/** The confidence sequence for the mean of `differences` (in arrival order) at n = their count. */
export function confidenceSequence(
  differences: readonly number[],
  options: ConfidenceSequenceOptions,
): ConfidenceSequenceBound {
  checkOptions(options);
  if (!differences.every(Number.isFinite)) {
    throw new ReportError(
      "confidence sequence: every paired difference must be a finite number.",
    );
  }
  const n = differences.length;
  const alpha = options.alpha ?? 0.05;
  const m = mean(differences);
  const halfWidth = confidenceSequenceHalfWidth(n, options);
  return {
    n,
    mean: m,
    halfWidth,
    low: m - halfWidth,
    high: m + halfWidth,
    alpha,
    sigma: options.sigma,
    rho: tunedRho(options.tunedFor ?? 10, alpha),
  };
}
