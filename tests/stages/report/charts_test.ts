import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { CLASS_NAMES, makeInput, makeRun } from "./fixtures.ts";
import {
  confusionSpec,
  learningCurveSpec,
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

Deno.test("learning curve: per-seed layer only when a model ran several seeds", () => {
  const one = metricsFor([0]);
  const spec1 = learningCurveSpec(one.runs, {
    field: "accuracy",
    curves: one.metrics.curves,
  });
  assertEquals((spec1.layer as unknown[]).length, 1);
  const five = metricsFor([0, 1, 2, 3, 4]);
  const spec5 = learningCurveSpec(five.runs, {
    field: "trainLoss",
    curves: five.metrics.curves,
  });
  const layers = spec5.layer as Array<{ data: { values: unknown[] } }>;
  assertEquals(layers.length, 2);
  // 10 runs x 3 epochs of single-seed points; 2 models x 3 epochs of means.
  assertEquals(layers[0].data.values.length, 30);
  assertEquals(layers[1].data.values.length, 6);
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
  const perClass = await renderSvg(perClassSpec(metrics));
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
