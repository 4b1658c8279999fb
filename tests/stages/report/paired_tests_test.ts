import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "../../assert.ts";
import {
  EXACT_PERMUTATION_LIMIT,
  pairedBootstrap,
  probabilityOfOutperforming,
  quantile,
  seededUniform,
  signFlipTest,
  winShare,
} from "../../../stages/report/paired_tests.ts";
import { ReportError } from "../../../stages/report/errors.ts";

/** The exact two-sided sign-flip p-value by recursion over the signs (independent of the module's bit loop). */
function bruteForceP(differences: readonly number[]): number {
  const observed = Math.abs(differences.reduce((a, b) => a + b, 0));
  let hits = 0;
  let total = 0;
  const visit = (i: number, sum: number) => {
    if (i === differences.length) {
      total++;
      if (Math.abs(sum) >= observed - 1e-12) hits++;
      return;
    }
    visit(i + 1, sum + differences[i]);
    visit(i + 1, sum - differences[i]);
  };
  visit(0, 0);
  return hits / total;
}

Deno.test("signFlipTest: hand-computed exact p-values", () => {
  // ±1 ±2 ±3 gives sums 6, 4, 2, 0, 0, −2, −4, −6: two of eight reach |6|.
  assertEquals(signFlipTest([1, 2, 3]), { p: 0.25, exact: true, draws: 8 });
  // Sums 0, 2, −2, 0: every pattern reaches |0|.
  assertEquals(signFlipTest([1, -1]).p, 1);
  // All positive and distinct: only all-plus and all-minus reach the observed sum.
  assertEquals(signFlipTest([0.1, 0.2, 0.4, 0.8, 1.6]).p, 2 / 32);
});

Deno.test("signFlipTest: exact p equals brute-force enumeration on random sets", () => {
  const random = seededUniform(7);
  for (let trial = 0; trial < 30; trial++) {
    const n = 2 + Math.floor(random() * 11);
    const d = Array.from(
      { length: n },
      () => Math.round((random() - 0.4) * 20) / 10,
    );
    const test = signFlipTest(d);
    assert(test.exact);
    assertAlmostEquals(test.p, bruteForceP(d), 1e-12, `set ${d}`);
  }
});

Deno.test("signFlipTest: Monte Carlo above 16 pairs agrees with the exact p within 4 standard errors", () => {
  const random = seededUniform(11);
  const d = Array.from(
    { length: EXACT_PERMUTATION_LIMIT + 2 },
    () => random() - 0.35,
  );
  const exact = bruteForceP(d);
  const mc = signFlipTest(d, { resamples: 20_000, seed: 3 });
  assertEquals(mc.exact, false);
  assertEquals(mc.draws, 20_000);
  const se = Math.sqrt(exact * (1 - exact) / 20_000);
  assert(Math.abs(mc.p - exact) < 4 * se + 1e-4, `mc ${mc.p} exact ${exact}`);
  // Seeded: the same call gives the same p, another seed (almost surely) another one.
  assertEquals(signFlipTest(d, { resamples: 20_000, seed: 3 }), mc);
});

Deno.test("pairedBootstrap: degenerate and two-point cases, seeded and deterministic", () => {
  const constant = pairedBootstrap([0.01, 0.01, 0.01]);
  assertAlmostEquals(constant.low, 0.01, 1e-15);
  assertAlmostEquals(constant.high, 0.01, 1e-15);
  // Resample means of [0, 1] are 0 (1/4), 0.5 (1/2) and 1 (1/4): the 2.5 % and 97.5 % points
  // are the extremes.
  const two = pairedBootstrap([0, 1]);
  assertEquals([two.low, two.high, two.estimate], [0, 1, 0.5]);
  const d = [0.004, -0.002, 0.011, 0.006, 0.001, -0.003, 0.008];
  const a = pairedBootstrap(d, { seed: 5 });
  assertEquals(pairedBootstrap(d, { seed: 5 }), a);
  assert(a.low < a.estimate && a.estimate < a.high);
  assert(a.low >= Math.min(...d) && a.high <= Math.max(...d));
  // A narrower level gives a narrower interval from the same draws.
  const narrow = pairedBootstrap(d, { seed: 5, level: 0.5 });
  assert(narrow.low > a.low && narrow.high < a.high);
  assertThrows(() => pairedBootstrap([1]), ReportError);
  assertThrows(() => pairedBootstrap([1, 2], { level: 1 }), ReportError);
});

Deno.test("pairedBootstrap: interval close to the exact bootstrap distribution's quantiles (n = 3)", () => {
  // All 27 equally likely resamples of three values, enumerated.
  const d = [0, 1, 5];
  const means: number[] = [];
  for (const a of d) {
    for (const b of d) for (const c of d) means.push((a + b + c) / 3);
  }
  means.sort((x, y) => x - y);
  const boot = pairedBootstrap(d, { resamples: 40_000, seed: 1, level: 0.8 });
  // The Monte Carlo quantile of a discrete distribution lies between neighbouring atoms.
  const atomsAround = (
    p: number,
  ) => [means[Math.floor(p * 26)], means[Math.ceil(p * 26)]];
  const [lo1, lo2] = atomsAround(0.1);
  const [hi1, hi2] = atomsAround(0.9);
  assert(boot.low >= lo1 - 1e-12 && boot.low <= lo2 + 1e-12, `${boot.low}`);
  assert(boot.high >= hi1 - 1e-12 && boot.high <= hi2 + 1e-12, `${boot.high}`);
});

Deno.test("probability of outperforming: win share with ties as halves, and a bootstrap interval", () => {
  assertEquals(winShare([1, 2, -1, 0]), 0.625);
  const p = probabilityOfOutperforming([0.003, 0.004, -0.001, 0.002, 0, 0.005]);
  assertEquals(p.estimate, (4 + 0.5) / 6);
  assert(p.low <= p.estimate && p.estimate <= p.high);
  assert(p.low >= 0 && p.high <= 1);
  assertEquals(probabilityOfOutperforming([1, 2, 3]).low, 1);
});

Deno.test("quantile: type-7 interpolation", () => {
  assertEquals(quantile([1, 2, 3, 4], 0.5), 2.5);
  assertEquals(quantile([1, 2, 3, 4], 0), 1);
  assertEquals(quantile([1, 2, 3, 4], 1), 4);
  assertAlmostEquals(quantile([10, 20], 0.25), 12.5, 1e-12);
});
