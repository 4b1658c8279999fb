/**
 * Vega-Lite specs of a sweep: accuracy against alpha (validation and test side by side, 95 %
 * interval bars, the baseline first and as reference lines) and the learning curves per
 * alpha. Rendered by `renderSvg`.
 *
 * @module
 */
import * as vega from "vega";
import {
  CHART_CONFIG,
  type ChartSpec,
  chartTitle,
  meanInterval,
  PLOT_WIDTH,
} from "./charts.ts";
import type { ReportRun } from "./input.ts";
import { sortRuns, type SweepMetrics, type SweepStat } from "./sweep.ts";

const SPLIT_COLOR = {
  domain: ["validation", "test"],
  range: ["#54a24b", "#e45756"],
};

/** The baseline's curve colour: black, unlike every colour the alphas get. */
export const BASELINE_COLOR = "#222222";

/**
 * One colour per alpha from the middle of viridis: its dark-purple end would look like the
 * black baseline and its yellow end vanishes on white.
 */
export function alphaColors(count: number): string[] {
  const viridis = vega.scheme("viridis") as (t: number) => string;
  return Array.from(
    { length: count },
    (_, i) => hex(viridis(count === 1 ? 0.5 : 0.3 + (0.55 * i) / (count - 1))),
  );
}

/** "rgb(33, 145, 140)" (what vega's interpolators return) or "#21918c" -> "#21918c". */
function hex(color: string): string {
  const rgb = color.match(/^rgb\((\d+),\s*(\d+),\s*(\d+)\)$/);
  if (rgb === null) return color;
  return "#" +
    rgb.slice(1).map((v) => Number(v).toString(16).padStart(2, "0")).join("");
}

/**
 * Mean accuracy per alpha with its 95 % t-interval of the mean, validation and test side by
 * side (offset within each alpha, so they never overlap), the baseline first and as dashed
 * reference lines.
 */
export function alphaSpec(sweep: SweepMetrics): ChartSpec {
  const groups: Array<{
    group: string;
    validation: SweepStat | null;
    test: SweepStat;
    selected: boolean;
  }> = [
    ...(sweep.baseline === null ? [] : [{
      group: "baseline",
      validation: sweep.baseline.validationAccuracy,
      test: sweep.baseline.testAccuracy,
      selected: false,
    }]),
    ...sweep.rows.map((row) => ({
      group: String(row.alpha),
      validation: row.validationAccuracy,
      test: row.testAccuracy,
      selected: row.selected,
    })),
  ];
  const points = groups.flatMap((g) =>
    (["validation", "test"] as const).flatMap((split) => {
      const stat = g[split];
      return stat === null ? [] : [{
        group: g.group,
        split,
        mean: stat.mean,
        low: Math.max(0, stat.low ?? stat.mean),
        high: Math.min(1, stat.high ?? stat.mean),
        selected: g.selected && split === sweep.selectedBy,
      }];
    })
  );
  const splits = [...new Set(points.map((p) => p.split))];
  const x = {
    field: "group",
    type: "ordinal",
    title: "R-Drop alpha",
    sort: groups.map((g) => g.group),
    axis: { labelAngle: 0 },
  } as const;
  const xOffset = {
    field: "split",
    type: "nominal",
    sort: SPLIT_COLOR.domain,
    scale: { paddingInner: 0.2 },
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
    // A faint layer (band, rule) would otherwise make the legend symbols faint too.
    legend: { symbolOpacity: 1 },
    scale: {
      domain: SPLIT_COLOR.domain.filter((d) => splits.includes(d as never)),
      range: SPLIT_COLOR.range.filter((_, i) =>
        splits.includes(SPLIT_COLOR.domain[i] as never)
      ),
    },
  } as const;
  const layers: Array<Record<string, unknown>> = [];
  if (sweep.baseline !== null) {
    // The baseline's means as dashed lines across the chart, in its split's colour.
    layers.push({
      data: { values: points.filter((p) => p.group === "baseline") },
      mark: { type: "rule", strokeDash: [4, 3], opacity: 0.7 },
      encoding: {
        y: { field: "mean", type: "quantitative" },
        color,
      },
    });
  }
  layers.push({
    data: { values: points },
    mark: { type: "rule", strokeWidth: 2 },
    encoding: {
      x,
      xOffset,
      y: { ...y, field: "low" },
      y2: { field: "high" },
      color,
    },
  });
  layers.push({
    data: { values: points },
    mark: { type: "point", filled: true, size: 60, opacity: 1 },
    encoding: {
      x,
      xOffset,
      y,
      color,
      tooltip: [
        { field: "group", title: "alpha" },
        { field: "split" },
        { field: "mean", format: ".2%" },
      ],
    },
  });
  layers.push({
    data: { values: points.filter((p) => p.selected) },
    mark: {
      type: "point",
      shape: "diamond",
      size: 260,
      filled: false,
      strokeWidth: 2,
      color: "#222222",
    },
    encoding: { x, xOffset, y },
  });
  const seeds = sweep.rows[0].seeds.length;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: chartTitle(
      splits.length > 1
        ? "Validation and test accuracy against alpha"
        : "Test accuracy against alpha",
      [
        `Mean over ${seeds} seed${seeds === 1 ? "" : "s"}${
          seeds > 1 ? " with its 95 % t-interval" : ""
        }; dashed: the baseline's mean.`,
        `The diamond marks the alpha selected on ${sweep.selectedBy} accuracy.`,
      ],
    ),
    width: PLOT_WIDTH,
    height: 300,
    config: CHART_CONFIG,
    layer: layers,
  };
}

/**
 * Per-epoch accuracy (on the split the curves were drawn on) averaged over seeds, one line per
 * alpha and a black dashed one for the baseline, each with the 95 % t-interval of its mean as
 * a band when it ran several seeds.
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
    return Array.from({ length: epochs }, (_, i) => {
      const { mean, low, high } = meanInterval(
        group.map((r) => r.history.epochs[i].testAccuracy),
        { accuracy: true },
      );
      return {
        curve: label,
        epoch: i + 1,
        accuracy: mean,
        low,
        high,
        baseline: label === "baseline",
      };
    });
  });
  const alphas = sweep.rows.map((r) => `alpha ${r.alpha}`);
  const order = [...(groups.has("baseline") ? ["baseline"] : []), ...alphas];
  const range = [
    ...(groups.has("baseline") ? [BASELINE_COLOR] : []),
    ...alphaColors(alphas.length),
  ];
  const split = runs[0]?.history.curveSplit ?? "test";
  const multiSeed = [...groups.values()].some((g) => g.length > 1);
  const x = {
    field: "epoch",
    type: "quantitative",
    axis: { tickMinStep: 1, format: "d" },
    scale: { nice: false },
  } as const;
  const y = {
    field: "accuracy",
    type: "quantitative",
    title: `${split} accuracy`,
    scale: { zero: false },
    axis: { format: ".1%" },
  } as const;
  const color = {
    field: "curve",
    type: "nominal",
    title: "model",
    sort: order,
    legend: { symbolOpacity: 1, symbolType: "stroke", symbolStrokeWidth: 3 },
    scale: { domain: order, range },
  } as const;
  const layers: Array<Record<string, unknown>> = [];
  if (multiSeed) {
    layers.push({
      mark: { type: "area", opacity: 0.1 },
      encoding: {
        x,
        y: { ...y, field: "low" },
        y2: { field: "high" },
        color,
        detail: { field: "curve", type: "nominal" },
      },
    });
  }
  layers.push({
    mark: { type: "line", point: { size: 25 } },
    encoding: {
      x,
      y,
      color,
      strokeDash: {
        field: "baseline",
        type: "nominal",
        legend: null,
        scale: { domain: [false, true], range: [[1, 0], [6, 3]] },
      },
      strokeWidth: {
        condition: { test: "datum.baseline", value: 3 },
        value: 2,
      },
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: chartTitle(
      `${
        split === "validation" ? "Validation" : "Test"
      } accuracy per epoch, per alpha`,
      [
        `Mean over seeds${
          multiSeed ? ", band: its 95 % t-interval" : ""
        }; black dashed: the baseline. Selected: alpha ${sweep.selectedAlpha}.`,
      ],
    ),
    width: PLOT_WIDTH,
    height: 300,
    config: CHART_CONFIG,
    data: { values },
    layer: layers,
  };
}
