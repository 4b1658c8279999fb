/**
 * `report.md`: the human-readable report, rendered from {@link Metrics} alone (plus the
 * DAG text and chart file names) so the markdown and `metrics.json` cannot disagree.
 *
 * @module
 */
import { MODEL_LABEL } from "./charts.ts";
import { cell, numStat, pct, pctStat, pp, signed, table } from "./format.ts";
import type {
  Comparison,
  CurveSplit,
  Metrics,
  ModelSummary,
} from "./metrics.ts";
import { paperFilesSection } from "./exports.ts";
import { pipelineSection } from "./pipeline_markdown.ts";
import { provenanceSection } from "./provenance.ts";

/** File names of the charts, relative to report.md. */
export interface ChartFiles {
  /** Accuracy per epoch, on the split the curves were measured on. */
  accuracy: string;
  /** Training loss per epoch. */
  trainLoss: string;
  /** Per-class test accuracy. */
  perClass: string;
  /** Confusion matrix heatmaps. */
  confusion: string;
}

function seconds(s: { mean: number; std: number | null }): string {
  const base = s.std === null
    ? s.mean.toFixed(1)
    : `${s.mean.toFixed(1)} ± ${s.std.toFixed(1)}`;
  return `${base} s`;
}

function samplesPerSecond(s: { mean: number; std: number | null }): string {
  return s.std === null
    ? s.mean.toFixed(0)
    : `${s.mean.toFixed(0)} ± ${s.std.toFixed(0)}`;
}

/**
 * The plain-language conclusion about the R-Drop - baseline difference: helped, hurt,
 * unclear at this n, or that a single run cannot show significance.
 */
export function verdictSentence(metrics: Metrics): string {
  const c = metrics.comparison;
  if (!c) {
    const present = metrics.models.map((m) => MODEL_LABEL[m.model]);
    if (present.length === 1) {
      return `Only ${
        present[0]
      } runs are present, so there is no R-Drop − baseline comparison.`;
    }
    return "The two models ran on no common seed, so no paired difference can be " +
      "computed; run both models with the same `seeds`.";
  }
  const n = c.pairedSeeds.length;
  if (!c.interval) {
    return `R-Drop − baseline test accuracy: **${
      pp(c.meanDifference)
    }** on seed ` +
      `${
        c.pairedSeeds[0]
      }. A single run cannot show significance: the difference may be ` +
      "within seed-to-seed variation. Run several seeds (e.g. `--set 'seeds=[0,1,2,3,4]'`) " +
      "to get a confidence interval.";
  }
  const iv = c.interval;
  const level = Math.round(iv.level * 100);
  const where = {
    helped: `The interval lies entirely above 0: **R-Drop helped** (n = ${n}).`,
    hurt: `The interval lies entirely below 0: **R-Drop hurt** (n = ${n}).`,
    unclear:
      `The interval includes 0: **no clear difference** at n = ${n} seeds.`,
    "single-run": "",
  }[c.verdict];
  const published = metrics.published.difference;
  const inside = published >= iv.low && published <= iv.high;
  return `Over ${n} paired seeds, R-Drop − baseline test accuracy is ` +
    `**${pp(c.meanDifference)}** (std ${
      pp(c.stdDifference ?? 0).replace(/^[+−]/, "")
    }); ` +
    `${level} % paired t-interval (n−1 = ${iv.df} df, t = ${
      iv.tQuantile.toFixed(3)
    }): ` +
    `**[${pp(iv.low)}, ${
      pp(iv.high)
    }]**. ${where} The published single-run difference ` +
    `(${pp(published)}) lies ${inside ? "inside" : "outside"} this interval.`;
}

function summaryRow(m: ModelSummary, alpha: number | undefined): string[] {
  return [
    m.model === "rdrop" && alpha !== undefined
      ? `R-Drop (α=${alpha})`
      : MODEL_LABEL[m.model],
    String(m.seeds.length),
    pctStat(m.testAccuracy),
    numStat(m.testLoss),
    seconds(m.trainSeconds),
    samplesPerSecond(m.samplesPerSecond),
    m.backends.join(", "),
  ];
}

function referenceCaveat(metrics: Metrics): string[] {
  const diffs = metrics.published.settingDifferences;
  if (diffs.length === 0) return [];
  return [
    "",
    `> **Not the reference setting:** ${
      diffs.join(", ")
    }. The published rows belong to ` +
    "the reference setting, so they are not a like-for-like comparison for these runs.",
  ];
}

/** The source of the published figures, as a link when its address is known. */
function publishedSource(p: { source: string; url?: string }): string {
  return p.url === undefined ? p.source : `[${p.source}](${p.url})`;
}

function summarySection(metrics: Metrics): string {
  // Which alpha the R-Drop row is: with a sweep, the selected one.
  const alpha = metrics.runs.find((r) => r.model === "rdrop")?.alpha;
  const rows = metrics.models.map((m) => summaryRow(m, alpha));
  const c = metrics.comparison;
  if (c) {
    rows.push([
      "**R-Drop − baseline**",
      `${c.pairedSeeds.length} paired`,
      `**${pp(c.meanDifference)}**`,
      signed(c.meanLossDifference, 4),
      "",
      "",
      "",
    ]);
  }
  const p = metrics.published;
  rows.push(
    [
      "*Published reference: Baseline*",
      "1",
      pct(p.baseline),
      "–",
      "–",
      "–",
      "–",
    ],
    ["*Published reference: R-Drop*", "1", pct(p.rdrop), "–", "–", "–", "–"],
    [
      "*Published reference: R-Drop − baseline*",
      "",
      pp(p.difference),
      "–",
      "–",
      "–",
      "–",
    ],
  );
  const seedsNote = metrics.models.some((m) => m.seeds.length > 1)
    ? "Values are mean ± sample standard deviation (n−1) over seeds."
    : "One seed per model.";
  return [
    "## Summary",
    "",
    table(
      [
        "Model",
        "Seeds",
        "Test accuracy",
        "Test loss",
        "Training time",
        "Samples/s",
        "Backend",
      ],
      rows,
      "lrrrrrl",
    ),
    "",
    `${seedsNote} Training time is the training loop only (no evaluation); ` +
    "the published reference rows are the single-run test accuracies reported by " +
    `${publishedSource(metrics.published)}, not measured here.`,
    ...referenceCaveat(metrics),
    "",
    verdictSentence(metrics),
  ].join("\n");
}

function seedsSection(c: Comparison | null): string | null {
  // With one pair the summary row already says everything.
  if (!c || c.pairedSeeds.length < 2) return null;
  const rows = c.perSeed.map((s) => [
    String(s.seed),
    pct(s.baseline),
    pct(s.rdrop),
    pp(s.difference),
  ]);
  const lines = [
    "## Seeds (paired test difference)",
    "",
    table(
      [
        "Seed",
        "Baseline test acc.",
        "R-Drop test acc.",
        "R-Drop − baseline (test)",
      ],
      rows,
      "rrrr",
    ),
    "",
  ];
  if (c.interval) {
    lines.push(
      `Mean difference ${pp(c.meanDifference)}, sample std ${
        (c.stdDifference! * 100).toFixed(2)
      } pp, n = ${c.pairedSeeds.length}. ` +
        `Interval: ${
          Math.round(c.interval.level * 100)
        } % paired t-interval, n−1 = ${c.interval.df} df: ` +
        `mean ± t · s / √n = [${pp(c.interval.low)}, ${pp(c.interval.high)}].`,
    );
  }
  return lines.join("\n");
}

/** "validation" / "test": how the report names a split in running text. */
export function splitName(split: CurveSplit): string {
  return split === "validation" ? "validation" : "test";
}

/** "Validation" / "Test": a split's name at the start of a title. */
export function splitTitle(split: CurveSplit): string {
  return split === "validation" ? "Validation" : "Test";
}

function curvesSection(metrics: Metrics, charts: ChartFiles): string {
  const epochs = [...new Set(metrics.curves.map((c) => c.epoch))].sort((a, b) =>
    a - b
  );
  const split = splitName(metrics.curveSplit);
  const models = metrics.models.map((m) => m.model);
  const header = ["Epoch"];
  for (const m of models) header.push(`${MODEL_LABEL[m]} ${split} acc.`);
  for (const m of models) header.push(`${MODEL_LABEL[m]} train loss`);
  const rows = epochs.map((e) => {
    const row = [String(e)];
    const at = (m: string) =>
      metrics.curves.find((c) => c.model === m && c.epoch === e);
    for (const m of models) row.push(at(m) ? pct(at(m)!.accuracy) : "–");
    for (const m of models) row.push(at(m) ? at(m)!.trainLoss.toFixed(4) : "–");
    return row;
  });
  const where = metrics.curveSplit === "validation"
    ? "measured on the validation split (training examples held out from training), not on test"
    : "measured on the test split (no validation split was held out)";
  return [
    "## Learning curves",
    "",
    `![${
      splitTitle(metrics.curveSplit)
    } accuracy per epoch](${charts.accuracy})`,
    "",
    `![Training loss per epoch](${charts.trainLoss})`,
    "",
    table(header, rows, "r".repeat(header.length)),
    "",
    `Per-epoch means over seeds; accuracy ${where}. R-Drop's training loss includes the ` +
    "alpha-weighted KL term, so it is not directly comparable with the baseline's cross-entropy.",
  ].join("\n");
}

function perClassSection(metrics: Metrics, charts: ChartFiles): string {
  const show = (v: number | null) => (v === null ? "–" : pct(v, 1));
  const rows = metrics.perClass.map((c) => [
    String(c.index),
    cell(c.name),
    show(c.baseline),
    show(c.rdrop),
    c.baseline === null || c.rdrop === null ? "–" : pp(c.rdrop - c.baseline, 1),
  ]);
  return [
    "## Per-class test accuracy",
    "",
    `![Per-class test accuracy](${charts.perClass})`,
    "",
    table(
      [
        "#",
        "Class",
        "Baseline test acc.",
        "R-Drop test acc.",
        "R-Drop − baseline (test)",
      ],
      rows,
      "rlrrr",
    ),
  ].join("\n");
}

function confusionTable(matrix: number[][], classNames: string[]): string {
  const header = ["true \\ predicted", ...classNames.map((_, i) => String(i))];
  const rows = matrix.map((row, i) => [
    `${i} ${cell(classNames[i])}`,
    ...row.map((v, j) => (i === j ? `**${v}**` : String(v))),
  ]);
  return table(header, rows, "l" + "r".repeat(classNames.length));
}

function confusionSection(metrics: Metrics, charts: ChartFiles): string {
  const lines = [
    "## Confusion matrices",
    "",
    `![Confusion matrices](${charts.confusion})`,
    "",
    "Counts on the test split, summed over each model's seeds; rows are the true class, columns the " +
    "predicted class (numbered as in the per-class table), the diagonal in bold.",
  ];
  for (const m of ["baseline", "rdrop"] as const) {
    const matrix = metrics.confusion[m];
    if (!matrix) continue;
    const n = metrics.models.find((s) => s.model === m)!.seeds.length;
    lines.push(
      "",
      `### ${MODEL_LABEL[m]} (${n} seed${n === 1 ? "" : "s"})`,
      "",
      confusionTable(matrix, metrics.classNames),
    );
  }
  return lines.join("\n");
}

function runsSection(metrics: Metrics): string {
  const rows = metrics.runs.map((r) => [
    `${r.model}@${r.seed}`,
    pct(r.testAccuracy),
    r.testLoss.toFixed(4),
    String(r.epochs),
    String(r.alpha),
    `${r.trainSeconds.toFixed(1)} s`,
    r.samplesPerSecond.toFixed(0),
    r.requestedBackend === r.backend
      ? r.backend
      : `${r.backend} (asked ${r.requestedBackend})`,
    cell(r.adapter ?? "–"),
    String(r.resumedEpochs),
    String(r.examples),
  ]);
  return [
    "## Runs",
    "",
    table(
      [
        "Run",
        "Test accuracy",
        "Test loss",
        "Epochs",
        "Alpha",
        "Training time",
        "Samples/s",
        "Backend",
        "Adapter",
        "Resumed epochs",
        "Test examples",
      ],
      rows,
      "lrrrrrrllrr",
    ),
  ].join("\n");
}

/** Flattens params to dotted paths; arrays and empty objects stay one JSON value. */
export function flattenParams(
  value: unknown,
  prefix = "",
): Array<[string, string]> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length > 0) {
      return entries.flatMap(([k, v]) =>
        flattenParams(v, prefix ? `${prefix}.${k}` : k)
      );
    }
  }
  return [[prefix || "(params)", JSON.stringify(value) ?? "undefined"]];
}

function paramsSection(params: unknown): string {
  const rows = flattenParams(params).map((
    [k, v],
  ) => [`\`${cell(k)}\``, `\`${cell(v)}\``]);
  return ["## Params", "", table(["Param", "Value"], rows)].join("\n");
}

function environmentSection(metrics: Metrics): string {
  const env = metrics.environment;
  const rows = [
    ["Deno", env.deno],
    ["TensorFlow.js", env.tfjs],
    ["Backend", env.backend],
    ["WebGPU adapter", env.adapter ?? "none"],
  ];
  if (env.os) rows.push(["OS", env.os]);
  const lines = [
    "## Environment",
    "",
    table(["", "This report's process"], rows.map(([k, v]) => [k, cell(v)])),
  ];
  if (metrics.notes.length > 0) {
    lines.push("", ...metrics.notes.map((n) => `- Note: ${n}.`));
  }
  return lines.join("\n");
}

function warningBlock(warnings: readonly string[]): string | null {
  if (warnings.length === 0) return null;
  return [
    "> [!WARNING]",
    "> **These runs differ in more than the seed, so the comparisons below mix settings.**",
    ...warnings.map((w) => `> - ${w}`),
  ].join("\n");
}

/**
 * Renders report.md from the metrics, the DAG's Mermaid body, the chart file names and the
 * line saying how many trainings the report covers.
 */
export function renderMarkdown(
  metrics: Metrics,
  options: {
    mermaid: string;
    charts: ChartFiles;
    sweep?: string;
    /** What the report covers, e.g. "35 trainings: 6 alphas + baseline × 5 seeds (0–4)". */
    trainings: string;
    /** Tables (CSV, LaTeX) and untitled figures written for a paper, relative to report.md. */
    paperFiles?: readonly string[];
  },
): string {
  const sections = [
    "# R-Drop reproduction report",
    `Generated ${metrics.generatedAt} · ${options.trainings}.`,
    metrics.provenance
      ? provenanceSection(metrics.provenance, metrics.generatedAt)
      : null,
    warningBlock(metrics.warnings),
    options.sweep ?? null,
    summarySection(metrics),
    seedsSection(metrics.comparison),
    curvesSection(metrics, options.charts),
    perClassSection(metrics, options.charts),
    confusionSection(metrics, options.charts),
    runsSection(metrics),
    options.paperFiles ? paperFilesSection(options.paperFiles) : null,
    pipelineSection(metrics.stages, options.mermaid),
    paramsSection(metrics.params),
    environmentSection(metrics),
  ];
  return sections.filter((s) => s !== null).join("\n\n") + "\n";
}
