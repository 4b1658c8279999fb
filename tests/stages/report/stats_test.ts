import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertThrows,
} from "../../assert.ts";
import {
  incompleteBeta,
  logGamma,
  mean,
  pairedTInterval,
  sampleStd,
  studentTCdf,
  studentTQuantile,
  verdictOf,
} from "../../../stages/report/stats.ts";
import { ReportError } from "../../../stages/report/errors.ts";

Deno.test("mean and sample std (n-1) on known values", () => {
  assertEquals(mean([2, 4, 4, 4, 5, 5, 7, 9]), 5);
  // Population std of this classic list is 2; the sample std is sqrt(32/7).
  assertAlmostEquals(
    sampleStd([2, 4, 4, 4, 5, 5, 7, 9])!,
    Math.sqrt(32 / 7),
    1e-12,
  );
  assertAlmostEquals(sampleStd([1, 2])!, Math.SQRT1_2, 1e-12);
  assertEquals(sampleStd([3]), null);
  assertThrows(() => mean([]), ReportError);
});

Deno.test("logGamma matches factorials and Gamma(1/2)", () => {
  assertAlmostEquals(logGamma(1), 0, 1e-12);
  assertAlmostEquals(logGamma(5), Math.log(24), 1e-12);
  assertAlmostEquals(logGamma(11), Math.log(3628800), 1e-10);
  assertAlmostEquals(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-12);
});

Deno.test("incompleteBeta: closed forms", () => {
  // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1-x)^b.
  assertAlmostEquals(incompleteBeta(0.3, 1, 1), 0.3, 1e-12);
  assertAlmostEquals(incompleteBeta(0.3, 3, 1), 0.027, 1e-12);
  assertAlmostEquals(incompleteBeta(0.8, 1, 4), 1 - 0.2 ** 4, 1e-12);
  assertEquals(incompleteBeta(0, 2, 3), 0);
  assertEquals(incompleteBeta(1, 2, 3), 1);
});

Deno.test("studentTCdf: df=1 is Cauchy, df=2 closed form, symmetric", () => {
  for (const t of [-3, -0.5, 0.7, 2, 10]) {
    assertAlmostEquals(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-12);
    assertAlmostEquals(
      studentTCdf(t, 2),
      0.5 + t / (2 * Math.sqrt(2 + t * t)),
      1e-12,
    );
    assertAlmostEquals(studentTCdf(-t, 7), 1 - studentTCdf(t, 7), 1e-12);
  }
});

Deno.test("studentTQuantile against published table values", () => {
  assertAlmostEquals(studentTQuantile(0.975, 1), 12.706205, 1e-6);
  assertAlmostEquals(studentTQuantile(0.975, 2), 4.302653, 1e-6);
  assertAlmostEquals(studentTQuantile(0.975, 4), 2.776445, 1e-6);
  assertAlmostEquals(studentTQuantile(0.975, 9), 2.262157, 1e-6);
  assertAlmostEquals(studentTQuantile(0.975, 29), 2.045230, 1e-6);
  assertAlmostEquals(studentTQuantile(0.95, 10), 1.812461, 1e-6);
  assertAlmostEquals(studentTQuantile(0.995, 3), 5.840909, 1e-6);
  // Large df approaches the normal quantile 1.959964.
  assertAlmostEquals(studentTQuantile(0.975, 1e6), 1.959966, 1e-5);
  assertAlmostEquals(studentTQuantile(0.025, 4), -2.776445, 1e-6);
  assertEquals(studentTQuantile(0.5, 3), 0);
});

Deno.test("studentTQuantile rejects bad arguments with ReportError", () => {
  assertThrows(() => studentTQuantile(1, 4), ReportError);
  assertThrows(() => studentTQuantile(0, 4), ReportError);
  assertThrows(() => studentTQuantile(0.975, 0), ReportError);
  assertThrows(() => studentTQuantile(0.975, NaN), ReportError);
});

Deno.test("pairedTInterval: hand-computed 5-pair example", () => {
  const d = [0.01, 0.03, -0.01, 0.02, 0.0];
  const iv = pairedTInterval(d);
  // mean 0.01, sum of squared deviations 0.001, s = sqrt(0.001 / 4)
  assertAlmostEquals(iv.mean, 0.01, 1e-12);
  assertAlmostEquals(iv.std, Math.sqrt(0.001 / 4), 1e-12);
  assertEquals(iv.df, 4);
  assertEquals(iv.n, 5);
  const half = 2.776445 * Math.sqrt(0.001 / 4) / Math.sqrt(5);
  assertAlmostEquals(iv.low, 0.01 - half, 1e-7);
  assertAlmostEquals(iv.high, 0.01 + half, 1e-7);
  assert(iv.low < 0 && iv.high > 0);
  assertEquals(verdictOf(iv), "unclear");
  // Same mean, a quarter of the spread: half-width 0.0098 < 0.01, so just above 0.
  const tight = pairedTInterval([0.01, 0.02, 0.0, 0.015, 0.005]);
  assertAlmostEquals(
    tight.low,
    0.01 - 2.776445 * Math.sqrt(0.00025 / 4) / Math.sqrt(5),
    1e-7,
  );
  assertEquals(verdictOf(tight), "helped");
});

Deno.test("pairedTInterval: verdicts and level", () => {
  assertEquals(verdictOf(pairedTInterval([0.01, 0.012, 0.011])), "helped");
  assertEquals(verdictOf(pairedTInterval([-0.01, -0.012, -0.011])), "hurt");
  const wide = pairedTInterval([0.01, 0.012, 0.011], { level: 0.99 });
  const narrow = pairedTInterval([0.01, 0.012, 0.011], { level: 0.9 });
  assert(wide.high - wide.low > narrow.high - narrow.low);
  assertThrows(() => pairedTInterval([0.01]), ReportError);
  assertThrows(() => pairedTInterval([0.01, 0.02], { level: 95 }), ReportError);
});
