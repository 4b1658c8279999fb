import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
} from "../../assert.ts";
import { CLASS_NAMES, makeInput, makeRun } from "./fixtures.ts";
import {
  type ChartSpec,
  confusionSpec,
  learningCurveSpec,
  meanInterval,
  perClassSpec,
  renderSvg,
} from "../../../stages/report/charts.ts";
import { validateInput } from "../../../stages/report/input.ts";
import { computeMetrics } from "../../../stages/report/metrics.ts";

function metricsFor(seeds: number[]) {
  const input = validateInput(
    makeInput(
      seeds.flatMap((s) => [makeRun("baseline", s), makeRun("rdrop", s)]),
    ),
  );
  return { runs: input.runs, metrics: computeMetrics(input) };
}

Deno.test("learning curve: a 95 % band of the mean only when a model ran several seeds", () => {
  const one = metricsFor([0]);
  const spec1 = learningCurveSpec(one.runs, {
    field: "accuracy",
    curves: one.metrics.curves,
  });
  const marks = (spec: ChartSpec) =>
    (spec.layer as Array<{ mark: { type: string } }>).map((l) => l.mark.type);
  assertEquals(marks(spec1), ["line"]);
  const five = metricsFor([0, 1, 2, 3, 4]);
  const spec5 = learningCurveSpec(five.runs, {
    field: "trainLoss",
    curves: five.metrics.curves,
  });
  assertEquals(marks(spec5), ["area", "line"]);
  // 2 models x 3 epochs; each band is the t-interval of the five seeds' losses.
  const values = (spec5.data as {
    values: Array<
      { model: string; epoch: number; value: number; low: number; high: number }
    >;
  }).values;
  assertEquals(values.length, 6);
  const losses = five.runs.filter((r) => r.model === "baseline").map((r) =>
    r.history.epochs[0].trainLoss
  );
  const first = values.find((v) => v.model === "Baseline" && v.epoch === 1)!;
  const expected = meanInterval(losses);
  assertAlmostEquals(first.low, expected.low, 1e-12);
  assertAlmostEquals(first.high, expected.high, 1e-12);
  assert(first.low < first.value && first.value < first.high);
});

Deno.test("confusion spec has one cell per (model, true, predicted)", () => {
  const { metrics } = metricsFor([0, 1]);
  const spec = confusionSpec(metrics);
  const values =
    (spec.data as { values: Array<{ rate: number; count: number }> }).values;
  assertEquals(values.length, 2 * 10 * 10);
  // Row-normalised: each (model, true class) row of rates sums to 1.
  for (let r = 0; r < 20; r++) {
    const sum = values.slice(r * 10, r * 10 + 10).reduce(
      (a, v) => a + v.rate,
      0,
    );
    assert(Math.abs(sum - 1) < 1e-12, `row ${r} sums to ${sum}`);
  }
});

Deno.test("renderSvg renders headless SVG with titles and labels, deterministically", async () => {
  const { runs, metrics } = metricsFor([0, 1]);
  const perClass = await renderSvg(perClassSpec(metrics, runs));
  assert(perClass.startsWith("<svg"));
  assertStringIncludes(perClass, "Per-class test accuracy");
  for (const name of CLASS_NAMES) {
    assertStringIncludes(perClass, name);
  }
  const curve = learningCurveSpec(runs, {
    field: "accuracy",
    curves: metrics.curves,
  });
  const svg1 = await renderSvg(curve);
  const confusion = await renderSvg(confusionSpec(metrics));
  const svg2 = await renderSvg(curve);
  assertEquals(svg1, svg2);
  assertStringIncludes(svg1, "Test accuracy per epoch");
  assertStringIncludes(svg1, "R-Drop");
  // The gradient legend's id must not depend on earlier renders.
  assertEquals(confusion, await renderSvg(confusionSpec(metrics)));
  assert(svg1.trimEnd().endsWith("</svg>"));
});
