/**
 * Vega-Lite specs of a sweep: accuracy against alpha (log axis, 95 % interval bars, the
 * baseline as a band) and the learning curves per alpha. Rendered by `renderSvg`.
 *
 * @module
 */
import { CHART_CONFIG, type ChartSpec } from "./charts.ts";
import type { ReportRun } from "./input.ts";
import { mean } from "./stats.ts";
import { sortRuns, type SweepMetrics } from "./sweep.ts";

const SPLIT_COLOR = {
  domain: ["test", "validation"],
  range: ["#e45756", "#54a24b"],
};

/** Mean accuracy per alpha with its 95 % t-interval of the mean; the baseline's as a band. */
export function alphaSpec(sweep: SweepMetrics): ChartSpec {
  const points = sweep.rows.flatMap((row) => {
    const out = [{
      alpha: row.alpha,
      split: "test",
      mean: row.testAccuracy.mean,
      low: row.testAccuracy.low ?? row.testAccuracy.mean,
      high: row.testAccuracy.high ?? row.testAccuracy.mean,
      selected: row.selected ? "selected" : "",
    }];
    if (row.validationAccuracy !== null) {
      out.push({
        alpha: row.alpha,
        split: "validation",
        mean: row.validationAccuracy.mean,
        low: row.validationAccuracy.low ?? row.validationAccuracy.mean,
        high: row.validationAccuracy.high ?? row.validationAccuracy.mean,
        selected: row.selected ? "selected" : "",
      });
    }
    return out;
  });
  const x = {
    field: "alpha",
    type: "quantitative",
    title: "alpha (log scale)",
    scale: { type: "log" },
    axis: { values: sweep.rows.map((r) => r.alpha), format: "~g" },
  } as const;
  const y = {
    field: "mean",
    type: "quantitative",
    title: "accuracy",
    scale: { zero: false },
    axis: { format: ".1%" },
  } as const;
  const color = {
    field: "split",
    type: "nominal",
    title: "split",
    scale: SPLIT_COLOR,
  } as const;
  const layers: Array<Record<string, unknown>> = [];
  const base = sweep.baseline?.testAccuracy;
  if (base !== undefined) {
    const band = [{
      low: base.low ?? base.mean,
      high: base.high ?? base.mean,
      mean: base.mean,
    }];
    layers.push({
      data: { values: band },
      mark: { type: "rect", color: "#4c78a8", opacity: 0.15 },
      encoding: {
        y: { field: "low", type: "quantitative" },
        y2: { field: "high" },
      },
    });
    layers.push({
      data: { values: band },
      mark: { type: "rule", color: "#4c78a8", strokeDash: [4, 3] },
      encoding: { y: { field: "mean", type: "quantitative" } },
    });
  }
  layers.push({
    data: { values: points },
    mark: { type: "rule", strokeWidth: 1.5 },
    encoding: {
      x,
      y: { ...y, field: "low" },
      y2: { field: "high" },
      color,
    },
  });
  layers.push({
    data: { values: points },
    mark: { type: "line", point: { size: 50 }, strokeWidth: 2 },
    encoding: {
      x,
      y,
      color,
      tooltip: [
        { field: "alpha" },
        { field: "split" },
        { field: "mean", format: ".2%" },
      ],
    },
  });
  layers.push({
    data: {
      values: points.filter((p) =>
        p.selected !== "" && p.split === sweep.selectedBy
      ),
    },
    mark: {
      type: "point",
      shape: "diamond",
      size: 220,
      filled: false,
      strokeWidth: 2,
      color: "#222222",
    },
    encoding: { x, y },
  });
  const seeds = sweep.rows[0].seeds.length;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "Accuracy against alpha",
      subtitle: [
        `Mean over ${seeds} seed(s) with its 95 % t-interval; the blue band is the baseline's test accuracy (same interval).`,
        `The diamond marks the alpha selected on ${sweep.selectedBy} accuracy.`,
      ],
    },
    width: 520,
    height: 300,
    config: CHART_CONFIG,
    layer: layers,
  };
}

/**
 * Per-epoch accuracy (on the split the curves were drawn on) averaged over seeds, one line per
 * alpha and a dashed one for the baseline.
 */
export function alphaCurvesSpec(
  runs: readonly ReportRun[],
  sweep: SweepMetrics,
): ChartSpec {
  const groups = new Map<string, ReportRun[]>();
  for (const run of sortRuns(runs)) {
    const label = run.model === "baseline"
      ? "baseline"
      : `alpha ${run.history.alpha}`;
    groups.set(label, [...(groups.get(label) ?? []), run]);
  }
  const values = [...groups.entries()].flatMap(([label, group]) => {
    const epochs = Math.min(...group.map((r) => r.history.epochs.length));
    return Array.from({ length: epochs }, (_, i) => ({
      curve: label,
      epoch: i + 1,
      accuracy: mean(group.map((r) => r.history.epochs[i].testAccuracy)),
      baseline: label === "baseline",
    }));
  });
  const order = [
    "baseline",
    ...sweep.rows.map((r) => `alpha ${r.alpha}`),
  ];
  const split = runs[0]?.history.curveSplit ?? "test";
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `${
        split === "validation" ? "Validation" : "Test"
      } accuracy per epoch, per alpha`,
      subtitle: [
        `Mean over seeds; dashed: the baseline. Selected: alpha ${sweep.selectedAlpha}.`,
      ],
    },
    width: 520,
    height: 300,
    config: CHART_CONFIG,
    data: { values },
    mark: { type: "line", point: { size: 25 }, strokeWidth: 2 },
    encoding: {
      x: {
        field: "epoch",
        type: "quantitative",
        axis: { tickMinStep: 1, format: "d" },
        scale: { nice: false },
      },
      y: {
        field: "accuracy",
        type: "quantitative",
        title: `${split} accuracy`,
        scale: { zero: false },
        axis: { format: ".1%" },
      },
      color: {
        field: "curve",
        type: "ordinal",
        title: "model",
        sort: order,
        scale: { domain: order, scheme: "viridis" },
      },
      strokeDash: {
        field: "baseline",
        type: "nominal",
        legend: null,
        scale: { domain: [false, true], range: [[1, 0], [5, 3]] },
      },
    },
  };
}
