/**
 * Vega-Lite chart specs for the report and their headless rendering to SVG.
 *
 * Specs are plain data built by pure functions (testable without rendering). Rendering
 * uses `vega.View` with renderer "none" and `toSVG()`: no canvas or DOM exists under
 * Deno, so text is measured with the chart font's advance widths (text_width.ts) rather
 * than vega's 0.8 em per character, which left a blank strip right of every chart.
 *
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { ReportRun } from "./input.ts";
import type { Metrics } from "./metrics.ts";
import { describe } from "./sweep.ts";
import { withFontMetrics, wrapLines } from "./text_width.ts";

/**
 * A Vega-Lite top-level spec as plain JSON. Typed loosely because vega-lite's own types
 * reject valid layered literals; `vl.compile` checks the spec when it is rendered.
 */
export type ChartSpec = Record<string, unknown>;

/** Display names, also the legend entries; fixed colours keep both charts consistent. */
export const MODEL_LABEL = { baseline: "Baseline", rdrop: "R-Drop" } as const;
const COLOR_SCALE = {
  domain: [MODEL_LABEL.baseline, MODEL_LABEL.rdrop],
  range: ["#4c78a8", "#e45756"],
};
const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";
/** The look every chart of the report shares (fonts, axes, titles). */
export const CHART_CONFIG = {
  font: FONT,
  view: { stroke: "#dddddd" },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: {
    fontSize: 14,
    subtitleFontSize: 11,
    subtitleColor: "#555555",
    anchor: "start",
  },
} as const;

/** The per-epoch quantities a learning curve can show. */
export type CurveField = "accuracy" | "trainLoss";

/** history.json's name of each curve field (its accuracy is on the run's curve split). */
const HISTORY_FIELD = {
  accuracy: "testAccuracy",
  trainLoss: "trainLoss",
} as const;

/** Chart plot width in pixels; subtitles wrap to it. */
export const PLOT_WIDTH = 520;

/**
 * A title with its subtitle lines wrapped to `width`, so that the title never widens
 * the chart beyond its plot and legend.
 */
export function chartTitle(
  text: string,
  subtitle: readonly string[],
  width = PLOT_WIDTH,
): { text: string; subtitle: string[] } {
  return {
    text,
    subtitle: wrapLines(subtitle, {
      fontSize: CHART_CONFIG.title.subtitleFontSize,
      maxWidth: width,
    }),
  };
}

/** The same chart without its in-figure title and subtitle, for a paper's caption. */
export function withoutTitle(spec: ChartSpec): ChartSpec {
  const { title: _title, ...rest } = spec;
  return rest;
}

/** Mean and 95 % t-interval of the mean of each group of values (the mean alone for one). */
export function meanInterval(
  values: readonly number[],
  options: { accuracy?: boolean } = {},
): { mean: number; low: number; high: number } {
  const d = describe(values);
  const low = d.low ?? d.mean;
  const high = d.high ?? d.mean;
  // An accuracy's interval is cut to [0, 1]: with two seeds t is 12.7 and the band would
  // otherwise reach far below 0 % and above 100 %.
  return options.accuracy
    ? { mean: d.mean, low: Math.max(0, low), high: Math.min(1, high) }
    : { mean: d.mean, low, high };
}

/**
 * Learning curve for one per-epoch quantity: a thick line with points for the mean over
 * seeds per model and, when a model ran several seeds, a band for the 95 % t-interval of
 * that mean.
 */
export function learningCurveSpec(
  runs: readonly ReportRun[],
  options: { field: CurveField; curves: Metrics["curves"] },
): ChartSpec {
  const { field, curves } = options;
  const isAccuracy = field === "accuracy";
  const means = curves.map((c) => {
    const values = runs.filter((r) => r.model === c.model).flatMap((r) =>
      r.history.epochs.filter((e) => e.epoch === c.epoch).map((e) =>
        e[HISTORY_FIELD[field]]
      )
    );
    const { low, high } = meanInterval(values, { accuracy: isAccuracy });
    return {
      model: MODEL_LABEL[c.model],
      epoch: c.epoch,
      value: field === "accuracy" ? c.accuracy : c.trainLoss,
      low,
      high,
      seeds: c.seeds,
    };
  });
  const multiSeed = ["baseline", "rdrop"].some((m) =>
    runs.filter((r) => r.model === m).length > 1
  );
  // With a validation split the per-epoch figures were measured on it, not on test.
  const split = runs[0]?.history.curveSplit === "validation"
    ? "validation"
    : "test";
  const yTitle = isAccuracy ? `${split} accuracy` : "train loss";
  const x = {
    field: "epoch",
    type: "quantitative",
    title: "epoch",
    axis: { tickMinStep: 1, format: "d" },
    scale: { nice: false },
  } as const;
  const y = {
    field: "value",
    type: "quantitative",
    title: yTitle,
    scale: { zero: false },
    axis: isAccuracy ? { format: ".1%" } : { format: ".3f" },
  } as const;
  const color = {
    field: "model",
    type: "nominal",
    title: "model",
    scale: COLOR_SCALE,
    // The faint band would otherwise make the legend symbols faint too.
    legend: { symbolOpacity: 1, symbolType: "stroke", symbolStrokeWidth: 3 },
  } as const;
  const layers: Array<Record<string, unknown>> = [];
  if (multiSeed) {
    layers.push({
      mark: { type: "area", opacity: 0.18 },
      encoding: {
        x,
        y: { ...y, field: "low" },
        y2: { field: "high" },
        color,
      },
    });
  }
  layers.push({
    mark: { type: "line", strokeWidth: 2.5, point: { size: 40 } },
    encoding: {
      x,
      y,
      color,
      tooltip: [{ field: "epoch" }, { field: "value" }, { field: "seeds" }],
    },
  });
  const seedsText = multiSeed
    ? "mean over seeds, band: its 95 % t-interval"
    : "one seed";
  const subtitle = isAccuracy
    ? [
      `${
        split === "test" ? "Test" : "Validation"
      }-set accuracy after each epoch; ${seedsText}.`,
    ]
    : [
      `Mean training loss per epoch; ${seedsText}.`,
      "R-Drop's loss includes the alpha-weighted KL term, so its level is not directly comparable.",
    ];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: chartTitle(
      isAccuracy
        ? `${split === "test" ? "Test" : "Validation"} accuracy per epoch`
        : "Training loss per epoch",
      subtitle,
    ),
    width: PLOT_WIDTH,
    height: 300,
    config: CHART_CONFIG,
    data: { values: means },
    layer: layers,
  };
}

/**
 * Per-class test accuracy of both models as a dot plot (small differences stay visible),
 * with the 95 % t-interval of each mean when a model ran several seeds.
 */
export function perClassSpec(
  metrics: Metrics,
  runs: readonly ReportRun[],
): ChartSpec {
  const values = metrics.perClass.flatMap((c) =>
    (["baseline", "rdrop"] as const).flatMap((m) => {
      if (c[m] === null) return [];
      const perSeed = runs.filter((r) => r.model === m).map((r) =>
        r.evaluation.perClassAccuracy[c.index]
      ).filter((v): v is number => v !== null && v !== undefined);
      const { low, high } = meanInterval(perSeed, { accuracy: true });
      return [{
        class: c.name,
        model: MODEL_LABEL[m],
        accuracy: c[m],
        low,
        high,
      }];
    })
  );
  const multiSeed = metrics.models.some((m) => m.seeds.length > 1);
  const y = {
    field: "class",
    type: "nominal",
    title: null,
    sort: metrics.classNames,
  } as const;
  // Offsetting the models within a class row keeps equal values from hiding each other.
  const yOffset = {
    field: "model",
    type: "nominal",
    sort: COLOR_SCALE.domain,
    scale: { paddingOuter: 0.6 },
  } as const;
  const x = {
    field: "accuracy",
    type: "quantitative",
    title: "test accuracy",
    scale: { zero: false },
    // Whole percents, one tick each at most: a narrow range would repeat labels.
    axis: { format: ".0%", tickMinStep: 0.01 },
  } as const;
  const color = {
    field: "model",
    type: "nominal",
    title: "model",
    scale: COLOR_SCALE,
  } as const;
  const layers: Array<Record<string, unknown>> = [];
  if (multiSeed) {
    layers.push({
      mark: { type: "rule", strokeWidth: 1.5 },
      encoding: {
        y,
        yOffset,
        x: { ...x, field: "low" },
        x2: { field: "high" },
        color,
      },
    });
  }
  layers.push({
    mark: { type: "point", filled: true, size: 90, opacity: 0.9 },
    encoding: {
      y,
      yOffset,
      x,
      color,
      shape: { field: "model", type: "nominal", title: "model" },
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: chartTitle("Per-class test accuracy", [
      multiSeed
        ? "Mean over each model's seeds; bars: its 95 % t-interval."
        : "One seed per model.",
    ], 440),
    width: 440,
    height: { step: 13 },
    config: CHART_CONFIG,
    data: { values },
    layer: layers,
  };
}

/**
 * Confusion matrices of both models side by side: cell colour is the share of the true
 * class (row-normalised, so classes compare), the number is the count summed over seeds.
 */
export function confusionSpec(metrics: Metrics): ChartSpec {
  const values: Array<Record<string, string | number>> = [];
  for (const m of ["baseline", "rdrop"] as const) {
    const matrix = metrics.confusion[m];
    if (!matrix) continue;
    matrix.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      row.forEach((count, j) => {
        values.push({
          model: MODEL_LABEL[m],
          actual: metrics.classNames[i],
          predicted: metrics.classNames[j],
          count,
          rate: total > 0 ? count / total : 0,
        });
      });
    });
  }
  const order = metrics.classNames;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "Confusion matrices",
      subtitle: [
        "Test split. Rows: true class; colour: share of the row; numbers: counts summed over seeds.",
      ],
    },
    config: CHART_CONFIG,
    data: { values },
    facet: {
      column: {
        field: "model",
        type: "nominal",
        title: null,
        sort: COLOR_SCALE.domain,
        header: { labelFontSize: 13 },
      },
    },
    spec: {
      width: { step: 34 },
      height: { step: 26 },
      encoding: {
        x: {
          field: "predicted",
          type: "ordinal",
          sort: order,
          title: "predicted",
          axis: { labelAngle: -45 },
        },
        y: {
          field: "actual",
          type: "ordinal",
          sort: order,
          title: "true class",
        },
      },
      layer: [
        {
          mark: { type: "rect" },
          encoding: {
            color: {
              field: "rate",
              type: "quantitative",
              title: "share of row",
              scale: { scheme: "blues", domain: [0, 1] },
              legend: { format: ".0%" },
            },
          },
        },
        {
          mark: { type: "text", fontSize: 9 },
          encoding: {
            text: { field: "count", type: "quantitative" },
            color: {
              condition: { test: "datum.rate > 0.5", value: "white" },
              value: "#333333",
            },
          },
        },
      ],
    },
  };
}

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string without a browser or canvas.
 * Await one call before starting the next: vega's SVG id counters are module-global, and
 * interleaved renders would number each other's gradients.
 */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  // vega numbers gradient and clip ids with module-wide counters ("gradient_3"), so the
  // same chart would render differently depending on what was rendered before it. The
  // reset is exported by vega-scenegraph (re-exported by vega) but missing from the types.
  const reset =
    (vega as unknown as { resetSVGDefIds?: () => void }).resetSVGDefIds;
  try {
    reset?.();
    return await withFontMetrics(() => view.toSVG());
  } finally {
    view.finalize();
  }
}
