import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
} from "../../assert.ts";
import { renderReport } from "../../../stages/report/mod.ts";
import { computeSweep, describe } from "../../../stages/report/sweep.ts";
import { correctFor, makeInput, makeRun } from "./fixtures.ts";

// Student's sleep data (Cushny & Peebles), the paired t-test example in R's ?t.test:
// differences 1.2 2.4 1.3 1.3 0.0 1.0 1.8 0.8 4.6 1.4; t.test(paired = TRUE) prints the
// 95 % interval [0.7001142, 2.4598858] around the mean 1.58. Here in tenths of a point.
const SLEEP = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4];
const SEEDS = SLEEP.map((_, i) => i);

function runs(options: { validation?: boolean } = {}) {
  const v = (accuracy: number) =>
    options.validation ? { validation: { examples: 500, accuracy } } : {};
  return [
    ...SEEDS.map((s) =>
      makeRun("baseline", s, { correct: correctFor(800), ...v(0.80) })
    ),
    // alpha 0.01: test = baseline + sleep difference (in units of 0.01), validation 0.85.
    ...SEEDS.map((s) =>
      makeRun("rdrop", s, {
        alpha: 0.01,
        correct: correctFor(800 + Math.round(SLEEP[s] * 10)),
        ...v(0.85),
      })
    ),
    // alpha 0.1: better on validation, worse on test (2 points below the baseline).
    ...SEEDS.map((s) =>
      makeRun("rdrop", s, {
        alpha: 0.1,
        correct: correctFor(780 + (s % 2)),
        ...v(0.86 + s * 0.0001),
      })
    ),
  ];
}

Deno.test("describe and the paired difference match R's t.test on the sleep data", () => {
  const sweep = computeSweep(runs());
  const row = sweep?.rows.find((r) => r.alpha === 0.01);
  const d = row?.testDifference;
  assertAlmostEquals(d?.mean ?? NaN, 0.0158, 1e-12);
  assertAlmostEquals(d?.interval?.low ?? NaN, 0.007001142, 1e-9);
  assertAlmostEquals(d?.interval?.high ?? NaN, 0.024598858, 1e-9);
  assertAlmostEquals(d?.interval?.tQuantile ?? NaN, 2.262157, 1e-6);
  assertEquals(d?.verdict, "helped");
  assertEquals(d?.pairedSeeds, SEEDS);
  // One-sample interval of the mean: the same numbers, shifted.
  const stat = describe(SLEEP);
  assertAlmostEquals(stat.low ?? NaN, 0.7001142, 1e-7);
  assertAlmostEquals(stat.high ?? NaN, 2.4598858, 1e-7);
  assertAlmostEquals(stat.std ?? NaN, 1.229995, 1e-6);
});

Deno.test("selection: by mean validation accuracy when there is a validation split", () => {
  const sweep = computeSweep(runs({ validation: true }));
  assertEquals(sweep?.selectedBy, "validation");
  // alpha 0.1 wins on validation even though it is worse on test: the headline is its test.
  assertEquals(sweep?.selectedAlpha, 0.1);
  assertEquals(sweep?.rows.map((r) => r.selected), [false, true]);
  assertStringIncludes(
    sweep?.verdicts.helps ?? "",
    "No: at alpha 0.1 (selected on validation) R-Drop trails the baseline by 1.95 pp",
  );
  assertStringIncludes(
    sweep?.verdicts.whichAlpha ?? "",
    "measured on data that did not pick it",
  );
  assert(!(sweep?.verdicts.howSure ?? "").includes("Bonferroni"));
  assertAlmostEquals(
    sweep?.rows[1].validationAccuracy?.mean ?? NaN,
    0.86045,
    1e-12,
  );
});

Deno.test("selection: without a validation split by test accuracy, called optimistic, with the multiple-comparisons caveat", () => {
  const sweep = computeSweep(runs());
  assertEquals(sweep?.selectedBy, "test");
  assertEquals(sweep?.selectedAlpha, 0.01);
  assertStringIncludes(sweep?.verdicts.whichAlpha ?? "", "optimistic");
  assertStringIncludes(
    sweep?.verdicts.howSure ?? "",
    "Bonferroni, level 1 − 0.05/2",
  );
  assertStringIncludes(sweep?.verdicts.helps ?? "", "Yes: at alpha 0.01");
  // The adjusted interval is wider than the plain one.
  const d = sweep?.rows[0].testDifference;
  assert((d?.adjusted?.low ?? 1) < (d?.interval?.low ?? 0));
  assertEquals(sweep?.rows[0].validationAccuracy, null);
});

Deno.test("report of a sweep: table per alpha, selected marked, detailed report of the selected alpha", async () => {
  const input = makeInput(runs({ validation: true }));
  input.params = {
    ...(input.params as object),
    matrix: { train: { alpha: [0.01, 0.1] } },
  };
  const rendered = await renderReport(input);
  const md = rendered.files["report.md"];
  assertStringIncludes(md, "## Alpha sweep");
  assertStringIncludes(
    md,
    "| R-Drop α=0.1 | 10 | 86.04 ± 0.03 % | 78.05 ± 0.05 % | −1.95 pp |",
  );
  // The selected row is marked; the reason is the bullet above, not repeated in the cell.
  const selectedRow = md.split("\n").find((l) => l.includes("**selected**"));
  assert(selectedRow?.startsWith("| R-Drop α=0.1 |"), selectedRow);
  assert(selectedRow?.trimEnd().endsWith("| **selected** |"), selectedRow);
  assertStringIncludes(
    md,
    "- At which alpha? Alpha 0.1: highest mean validation accuracy",
  );
  // Every alpha's seeds, collapsed, the baseline's beside them.
  for (const alpha of [0.01, 0.1]) {
    assertStringIncludes(
      md,
      `<summary>R-Drop α=${alpha}${
        alpha === 0.1 ? " (selected)" : ""
      }: accuracy per seed</summary>`,
    );
  }
  assertStringIncludes(
    md,
    "| Seed | Baseline val. acc. | R-Drop val. acc. | Baseline test acc. | R-Drop test acc. |",
  );
  assertStringIncludes(
    md,
    "| 3 | 80.00 % | 85.00 % | 80.00 % | 81.30 % | +1.30 pp |",
  );
  assertStringIncludes(
    md,
    "![Validation and test accuracy against alpha](alpha.svg)",
  );
  // The detailed part compares the selected alpha with the baseline, without a mixed-alpha warning.
  assertEquals(rendered.metrics.runs.length, 20);
  assert(!md.includes("alpha differs between rdrop runs"));
  assertEquals(rendered.sweep?.selectedAlpha, 0.1);
  assertStringIncludes(rendered.files["alpha.svg"], "R-Drop alpha");
  assertEquals(
    JSON.parse(rendered.files["metrics.json"]).sweep.selectedAlpha,
    0.1,
  );
});

Deno.test("a report that is not a sweep says which KL reduction and which split the curves use", async () => {
  const plain = await renderReport(
    makeInput([makeRun("baseline", 0), makeRun("rdrop", 0)]),
  );
  assertStringIncludes(
    plain.files["report.md"],
    "Protocol: R-Drop's KL term is reduced by sum",
  );
  assertStringIncludes(plain.files["report.md"], "no validation split");
  assert(!plain.files["report.md"].includes("## Alpha sweep"));
  assertEquals(plain.sweep, null);
  const v = { validation: { examples: 500, accuracy: 0.8 } };
  const held = await renderReport(
    makeInput([makeRun("baseline", 0, v), makeRun("rdrop", 0, v)]),
  );
  assertStringIncludes(
    held.files["report.md"],
    "drawn on 500 held-out training examples",
  );
  assertStringIncludes(
    held.files["accuracy.svg"],
    "Validation accuracy per epoch",
  );
  assert(!held.files["accuracy.svg"].includes("Test accuracy per epoch"));
});

Deno.test("a sweep over another param is refused with a message that says what to do", async () => {
  const input = makeInput([makeRun("baseline", 0), makeRun("rdrop", 0)]);
  input.params = {
    ...(input.params as object),
    matrix: { train: { hidden: [[256], [512]] } },
  };
  const error = await renderReport(input).then(() => null, (e: Error) => e);
  assertStringIncludes(
    error?.message ?? "",
    "cannot yet summarise a sweep over train.hidden",
  );
});
