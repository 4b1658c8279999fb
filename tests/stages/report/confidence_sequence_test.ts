import { assert, assertAlmostEquals, assertThrows } from "../../assert.ts";
import {
  confidenceSequence,
  confidenceSequenceHalfWidth,
  tunedRho,
} from "../../../stages/report/confidence_sequence.ts";
import { seededUniform } from "../../../stages/report/paired_tests.ts";
import {
  stopCheck,
  type StoppingOptions,
} from "../../../stages/report/stopping_rule.ts";
import { studentTCdf } from "../../../stages/report/stats.ts";
import { ReportError } from "../../../stages/report/errors.ts";

/** Standard normal CDF, as Student's t with a huge df (agrees to ~1e-7). */
const normalCdf = (x: number) => studentTCdf(x, 1e9);

Deno.test("tunedRho is Howard et al.'s closed form m / (x − 1), with x = −W₋₁(−α²/e)", () => {
  for (const alpha of [0.05, 0.01]) {
    // x > 1 solves ln x − x = 2 ln α − 1 (Newton from a point right of the root).
    let x = 20;
    for (let i = 0; i < 100; i++) {
      x -= (Math.log(x) - x - (2 * Math.log(alpha) - 1)) / (1 / x - 1);
    }
    for (const m of [1, 10, 37]) {
      assertAlmostEquals(tunedRho(m, alpha) / (m / (x - 1)), 1, 1e-6);
    }
  }
});

Deno.test("half-width: the mixture formula by hand, wider than the fixed-n z-interval, shrinking with n", () => {
  const sigma = 0.007;
  const rho = tunedRho(10, 0.05);
  for (const n of [1, 2, 5, 10, 30, 100]) {
    const byHand = sigma *
      Math.sqrt((n + rho) * Math.log((n + rho) / (rho * 0.0025))) / n;
    const hw = confidenceSequenceHalfWidth(n, { sigma });
    assertAlmostEquals(hw, byHand, 1e-15);
    // Valid at every n at once costs width against the 95 % z-interval at one n.
    assert(hw > 1.96 * sigma / Math.sqrt(n));
    if (n > 1) {
      assert(hw < confidenceSequenceHalfWidth(n - 1, { sigma }));
    }
  }
  const cs = confidenceSequence([0.01, 0.02, 0.03], {
    sigma: 0.01,
    alpha: 0.1,
  });
  assertAlmostEquals(cs.mean, 0.02, 1e-15);
  assertAlmostEquals(cs.high - cs.mean, cs.mean - cs.low, 1e-15);
  assertThrows(() => confidenceSequence([0.1], { sigma: 0 }), ReportError);
  assertThrows(
    () => confidenceSequence([0.1], { sigma: 1, alpha: 2 }),
    ReportError,
  );
  assertThrows(() => confidenceSequence([], { sigma: 1 }), ReportError);
});

/** One normal draw per call (Box–Muller on the seeded uniform). */
function normals(seed: number): () => number {
  const u = seededUniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

interface Outcome {
  positive: boolean;
  negative: boolean;
  pairs: number;
}

/** One sequential experiment: rounds of `perRound` pairs until the rule stops. */
function experiment(
  draw: () => number,
  effect: number,
  sd: number,
  options: StoppingOptions & { perRound: number },
): Outcome {
  const d: number[] = [];
  for (;;) {
    for (let i = 0; i < options.perRound; i++) d.push(effect + sd * draw());
    const check = stopCheck(d, options);
    if (check.stop) {
      return {
        positive: check.reason === "excludes-zero" && check.bound.low > 0,
        negative: check.reason === "excludes-zero" && check.bound.high < 0,
        pairs: d.length,
      };
    }
  }
}

// The data's numbers: paired sd ~0.7 pp (sweeps/alpha.json), sigma assumed 0.8 pp, rounds of 4
// seeds up to 32, stop at a half-width of 0.3 pp.
const OPTIONS = {
  sigma: 0.008,
  alpha: 0.05,
  tunedFor: 16,
  precision: 0.003,
  maxPairs: 32,
  perRound: 4,
};
const SD = 0.007;
const RUNS = 10_000;

Deno.test(`sequential simulation: ${RUNS} experiments under no effect decide a sign at most 5 % of the time`, () => {
  const draw = normals(2021);
  let decided = 0;
  let pairs = 0;
  for (let r = 0; r < RUNS; r++) {
    const out = experiment(draw, 0, SD, OPTIONS);
    if (out.positive || out.negative) decided++;
    pairs += out.pairs;
  }
  const rate = decided / RUNS;
  console.log(
    `  no effect: false-decision rate ${
      (rate * 100).toFixed(2)
    } %, mean seeds ${(pairs / RUNS).toFixed(1)}`,
  );
  assert(rate <= 0.05, `false-decision rate ${rate}`);
});

Deno.test(`sequential simulation: ${RUNS} experiments under no effect, looking after every seed up to 100 with sigma equal to the true sd, stay at or under 5 %`, () => {
  // The harshest case the guarantee covers: no slack in sigma, a look after every pair, and a
  // budget long enough for the precision stop to fire.
  const options = { ...OPTIONS, sigma: SD, perRound: 1, maxPairs: 100 };
  const draw = normals(7);
  let decided = 0;
  let precise = 0;
  for (let r = 0; r < RUNS; r++) {
    const out = experiment(draw, 0, SD, options);
    if (out.positive || out.negative) decided++;
    else if (out.pairs < options.maxPairs) precise++;
  }
  const rate = decided / RUNS;
  console.log(
    `  no effect, a look per seed: false-decision rate ${
      (rate * 100).toFixed(2)
    } %, stopped for precision ${(precise / RUNS * 100).toFixed(1)} %`,
  );
  assert(rate <= 0.05, `false-decision rate ${rate}`);
  // The precision stop is reachable within this budget, so it is exercised here.
  assert(precise > RUNS / 2, `precision stops ${precise}`);
});

Deno.test(`sequential simulation: ${RUNS} experiments under a +0.5 pp effect, power above the computed floor`, () => {
  const effect = 0.005;
  const draw = normals(42);
  let positive = 0;
  let pairs = 0;
  for (let r = 0; r < RUNS; r++) {
    const out = experiment(draw, effect, SD, OPTIONS);
    if (out.positive) positive++;
    pairs += out.pairs;
  }
  const power = positive / RUNS;
  // A floor from normal tails: the rule decides "positive" at least whenever the last look's
  // mean is above its half-width, unless it stopped earlier for precision (mean inside the
  // interval at a look where the half-width is at most the precision) or for a wrong sign
  // (probability at most alpha, by the sequence's validity at the true mean).
  const looks = [];
  for (let n = OPTIONS.perRound; n <= OPTIONS.maxPairs; n += OPTIONS.perRound) {
    looks.push(n);
  }
  const se = (n: number) => SD / Math.sqrt(n);
  const hw = (n: number) => confidenceSequenceHalfWidth(n, OPTIONS);
  const last = OPTIONS.maxPairs;
  let floor = 1 - normalCdf((hw(last) - effect) / se(last)) - OPTIONS.alpha;
  for (const n of looks) {
    if (hw(n) <= OPTIONS.precision) {
      floor -= normalCdf((hw(n) - effect) / se(n));
    }
  }
  floor -= 3 * Math.sqrt(floor * (1 - floor) / RUNS);
  const meanPairs = pairs / RUNS;
  console.log(
    `  +0.5 pp: power ${(power * 100).toFixed(1)} % (floor ${
      (floor * 100).toFixed(1)
    } %), mean seeds ${meanPairs.toFixed(1)} of at most ${OPTIONS.maxPairs}`,
  );
  assert(floor > 0.3, `floor ${floor} too low to say anything`);
  assert(power >= floor, `power ${power} below floor ${floor}`);
  // Stopping when decided must save seeds against always running the budget.
  assert(meanPairs < OPTIONS.maxPairs, `mean seeds ${meanPairs}`);
});
