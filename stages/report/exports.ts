/**
 * The report's tables for a paper: the headline (summary), the per-alpha sweep table and
 * every training's accuracies, each as CSV and as a LaTeX booktabs tabular. Accuracies are
 * percentages with the report's two decimals, so the files and report.md print the same
 * numbers; every accuracy column names its split.
 *
 * @module
 */
import type { ReportRun } from "./input.ts";
import type { Metrics, Stat } from "./metrics.ts";
import {
  sortRuns,
  type SweepMetrics,
  type SweepStat,
  validationAccuracy,
} from "./sweep.ts";
import { latexSigned, latexText, toCsv, toLatex } from "./table_formats.ts";

/** One table in both formats. */
export interface ExportedTable {
  csv: string;
  latex: string;
}

const MODEL = { baseline: "Baseline", rdrop: "R-Drop" } as const;

function pct(fraction: number | null | undefined): string {
  return fraction === null || fraction === undefined
    ? ""
    : (fraction * 100).toFixed(2);
}

function latexStat(
  s: { mean: number; std: number | null },
  scale = 100,
  digits = 2,
) {
  const mean = (s.mean * scale).toFixed(digits);
  return s.std === null
    ? mean
    : `${mean} $\\pm$ ${(s.std * scale).toFixed(digits)}`;
}

function latexInterval(i: { low: number; high: number } | null): string {
  return i === null
    ? "--"
    : `[${latexSigned(i.low * 100)}, ${latexSigned(i.high * 100)}]`;
}

/** "R-Drop (alpha=0.01)": plain ASCII, so a spreadsheet reads it in any encoding. */
function rdropLabel(alpha: number): string {
  return `R-Drop (alpha=${alpha})`;
}

/**
 * The headline: each model's test accuracy and loss over its seeds, the paired R-Drop −
 * baseline difference with its 95 % interval, and the published single-run figures.
 */
export function headlineTable(metrics: Metrics): ExportedTable {
  const alpha = metrics.runs.find((r) => r.model === "rdrop")?.alpha;
  const label = (m: "baseline" | "rdrop") =>
    m === "rdrop" && alpha !== undefined ? rdropLabel(alpha) : MODEL[m];
  const c = metrics.comparison;
  const p = metrics.published;
  const header = [
    "model",
    "seeds",
    "test_acc_mean_pct",
    "test_acc_sd_pct",
    "test_loss_mean",
    "test_loss_sd",
    "test_acc_diff_vs_baseline_pp",
    "test_acc_diff_ci95_low_pp",
    "test_acc_diff_ci95_high_pp",
  ];
  const lossText = (s: Stat) => [s.mean.toFixed(4), s.std?.toFixed(4) ?? ""];
  const rows = metrics.models.map((m) => [
    label(m.model),
    String(m.seeds.length),
    pct(m.testAccuracy.mean),
    pct(m.testAccuracy.std),
    ...lossText(m.testLoss),
    ...(m.model === "rdrop" && c
      ? [
        (c.meanDifference * 100).toFixed(2),
        c.interval ? (c.interval.low * 100).toFixed(2) : "",
        c.interval ? (c.interval.high * 100).toFixed(2) : "",
      ]
      : ["", "", ""]),
  ]);
  rows.push(
    ["Published baseline", "1", pct(p.baseline), "", "", "", "", "", ""],
    [
      "Published R-Drop",
      "1",
      pct(p.rdrop),
      "",
      "",
      "",
      (p.difference * 100).toFixed(2),
      "",
      "",
    ],
  );
  const models = metrics.models.map((m) => [
    latexText(label(m.model)).replace("alpha=", "$\\alpha$="),
    String(m.seeds.length),
    latexStat(m.testAccuracy),
    latexStat(m.testLoss, 1, 4),
  ]);
  const difference = c === null ? [] : [[
    latexText("R-Drop − baseline (paired)"),
    String(c.pairedSeeds.length),
    `${latexSigned(c.meanDifference * 100)} ${latexInterval(c.interval)}`,
    latexSigned(c.meanLossDifference, 4),
  ]];
  const published = [
    [latexText("Published baseline (1 run)"), "1", pct(p.baseline), "--"],
    [latexText("Published R-Drop (1 run)"), "1", pct(p.rdrop), "--"],
  ];
  return {
    csv: toCsv(header, rows),
    latex: toLatex(
      {
        align: "lrrr",
        header: ["Model", "Seeds", "Test accuracy (\\%)", "Test loss"],
        groups: [models, difference, published],
      },
      "Test accuracy: mean $\\pm$ sample sd over seeds; the difference row: mean and 95 % paired t-interval in pp."
        .replace("95 %", "95 \\%"),
    ),
  };
}

function statCells(s: SweepStat | null): [string, string] {
  return s === null ? ["", ""] : [pct(s.mean), pct(s.std)];
}

/** The sweep table: the baseline and every alpha on both splits, the selected one marked. */
export function alphaTable(sweep: SweepMetrics): ExportedTable {
  const withValidation = sweep.rows[0].validationAccuracy !== null;
  const header = [
    "model",
    "alpha",
    "seeds",
    ...(withValidation ? ["val_acc_mean_pct", "val_acc_sd_pct"] : []),
    "test_acc_mean_pct",
    "test_acc_sd_pct",
    "test_acc_diff_vs_baseline_pp",
    "test_acc_diff_ci95_low_pp",
    "test_acc_diff_ci95_high_pp",
    `selected_on_${sweep.selectedBy}`,
  ];
  const rows: string[][] = [];
  const base = sweep.baseline;
  if (base !== null) {
    rows.push([
      "Baseline",
      "0",
      String(base.seeds.length),
      ...(withValidation ? statCells(base.validationAccuracy) : []),
      ...statCells(base.testAccuracy),
      "",
      "",
      "",
      "",
    ]);
  }
  for (const row of sweep.rows) {
    const d = row.testDifference;
    rows.push([
      "R-Drop",
      String(row.alpha),
      String(row.seeds.length),
      ...(withValidation ? statCells(row.validationAccuracy) : []),
      ...statCells(row.testAccuracy),
      d === null ? "" : (d.mean * 100).toFixed(2),
      d?.interval ? (d.interval.low * 100).toFixed(2) : "",
      d?.interval ? (d.interval.high * 100).toFixed(2) : "",
      row.selected ? "yes" : "",
    ]);
  }
  const latexRow = (
    name: string,
    seeds: number,
    val: SweepStat | null,
    test: SweepStat,
    diff: SweepMetrics["rows"][number]["testDifference"],
  ) => [
    name,
    String(seeds),
    ...(withValidation ? [val === null ? "--" : latexStat(val)] : []),
    latexStat(test),
    diff === null
      ? "--"
      : `${latexSigned(diff.mean * 100)} ${latexInterval(diff.interval)}`,
  ];
  const baseGroup = base === null ? [] : [
    latexRow(
      "Baseline",
      base.seeds.length,
      base.validationAccuracy,
      base.testAccuracy,
      null,
    ),
  ];
  const alphaGroup = sweep.rows.map((r) =>
    latexRow(
      `${latexText(`α=${r.alpha}`)}${r.selected ? " (selected)" : ""}`,
      r.seeds.length,
      r.validationAccuracy,
      r.testAccuracy,
      r.testDifference,
    )
  );
  return {
    csv: toCsv(header, rows),
    latex: toLatex(
      {
        align: withValidation ? "lrrrr" : "lrrr",
        header: [
          "Model",
          "Seeds",
          ...(withValidation ? ["Validation acc. (\\%)"] : []),
          "Test acc. (\\%)",
          "$\\Delta$ test vs baseline (pp)",
        ],
        groups: [baseGroup, alphaGroup],
      },
      `Accuracy: mean $\\pm$ sample sd over seeds; $\\Delta$: paired mean and 95 \\% t-interval. Alpha selected on ${sweep.selectedBy} accuracy.`,
    ),
  };
}

/** Every training's final accuracies: model, alpha, seed, validation and test. */
export function perSeedTable(runs: readonly ReportRun[]): ExportedTable {
  const sorted = sortRuns(runs);
  const withValidation = sorted.every((r) => validationAccuracy(r) !== null);
  const header = [
    "model",
    "alpha",
    "seed",
    ...(withValidation ? ["val_acc_pct"] : []),
    "test_acc_pct",
    "test_loss",
  ];
  const rows = sorted.map((r) => [
    MODEL[r.model],
    r.model === "baseline" ? "0" : String(r.history.alpha),
    String(r.seed),
    ...(withValidation ? [pct(validationAccuracy(r))] : []),
    pct(r.evaluation.testAccuracy),
    r.evaluation.testLoss.toFixed(4),
  ]);
  const groups = [
    ...new Set(sorted.map((r) => `${r.model} ${r.history.alpha}`)),
  ]
    .map((key) =>
      sorted.filter((r) => `${r.model} ${r.history.alpha}` === key).map((r) => [
        r.model === "baseline" ? "Baseline" : latexText(`α=${r.history.alpha}`),
        String(r.seed),
        ...(withValidation ? [pct(validationAccuracy(r))] : []),
        pct(r.evaluation.testAccuracy),
        r.evaluation.testLoss.toFixed(4),
      ])
    );
  return {
    csv: toCsv(header, rows),
    latex: toLatex(
      {
        align: withValidation ? "lrrrr" : "lrrr",
        header: [
          "Model",
          "Seed",
          ...(withValidation ? ["Validation acc. (\\%)"] : []),
          "Test acc. (\\%)",
          "Test loss",
        ],
        groups,
      },
      "Every training's final accuracies, one row per seed.",
    ),
  };
}

/** The report section that lists the files for a paper, linked. */
export function paperFilesSection(files: readonly string[]): string {
  const link = (f: string) => `[${f}](${f})`;
  const of = (suffix: string) => files.filter((f) => f.endsWith(suffix));
  return [
    "## Files for a paper",
    "",
    `- Tables as CSV (accuracies in %, two decimals as printed here; every accuracy column names its split): ${
      of(".csv").map(link).join(", ")
    }.`,
    `- The same tables as LaTeX (booktabs; \`\\input\` inside a \`table\` environment): ${
      of(".tex").map(link).join(", ")
    }.`,
    `- The charts without their in-figure title, for a caption: ${
      of(".svg").map(link).join(", ")
    }.`,
  ].join("\n");
}
