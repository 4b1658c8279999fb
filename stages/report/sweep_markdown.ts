/**
 * The sweep section of `report.md`: the verdicts, the table per alpha and the two charts.
 *
 * @module
 */
import { pct, pp, table } from "./format.ts";
import type { SweepMetrics, SweepRow, SweepStat } from "./sweep.ts";

/** Chart file names of the sweep section. */
export interface SweepChartFiles {
  /** Accuracy against alpha. */
  alpha: string;
  /** Learning curves per alpha. */
  curves: string;
}

function stat(s: SweepStat | null): string {
  if (s === null) return "–";
  if (s.std === null) return pct(s.mean);
  return `${(s.mean * 100).toFixed(2)} ± ${(s.std * 100).toFixed(2)} %`;
}

function diff(d: SweepRow["testDifference"]): [string, string] {
  if (d === null) return ["–", "–"];
  const interval = d.interval === null
    ? "– (1 seed)"
    : `[${pp(d.interval.low)}, ${pp(d.interval.high)}]`;
  return [pp(d.mean), interval];
}

/** The three verdict sentences as a list, for the report and the terminal. */
export function verdictLines(sweep: SweepMetrics): string[] {
  return [
    `Does R-Drop help? ${sweep.verdicts.helps}`,
    `At which alpha? ${sweep.verdicts.whichAlpha}`,
    `How sure? ${sweep.verdicts.howSure}`,
  ];
}

/** The sweep table: the baseline, then one row per alpha, the selected one marked. */
export function sweepTable(sweep: SweepMetrics): string {
  const rows: string[][] = [];
  if (sweep.baseline !== null) {
    rows.push([
      "baseline",
      String(sweep.baseline.seeds.length),
      stat(sweep.baseline.validationAccuracy),
      stat(sweep.baseline.testAccuracy),
      "",
      "",
      "",
    ]);
  }
  for (const row of sweep.rows) {
    const [mean, interval] = diff(row.testDifference);
    rows.push([
      `R-Drop α=${row.alpha}`,
      String(row.seeds.length),
      stat(row.validationAccuracy),
      stat(row.testAccuracy),
      mean,
      interval,
      row.selected ? "**selected**" : "",
    ]);
  }
  return table(
    [
      "model",
      "seeds",
      "val accuracy (mean ± sd)",
      "test accuracy (mean ± sd)",
      "Δ test vs baseline (paired)",
      "95 % t-interval of Δ",
      `selection (on ${sweep.selectedBy})`,
    ],
    rows,
    "lrrrrrl",
  );
}

/** What the accuracy-against-alpha chart shows: both splits, or test alone. */
export function alphaChartTitle(sweep: SweepMetrics): string {
  return sweep.baseline?.validationAccuracy || sweep.rows[0].validationAccuracy
    ? "Validation and test accuracy against alpha"
    : "Test accuracy against alpha";
}

/** One collapsed table per alpha: each seed's accuracies next to the baseline's. */
export function perSeedTables(sweep: SweepMetrics): string {
  const withValidation = sweep.rows[0].validationAccuracy !== null;
  const base = new Map(sweep.baseline?.perSeed.map((s) => [s.seed, s]) ?? []);
  const show = (v: number | null | undefined) =>
    v === null || v === undefined ? "–" : pct(v);
  const header = [
    "Seed",
    ...(withValidation ? ["Baseline val. acc.", "R-Drop val. acc."] : []),
    "Baseline test acc.",
    "R-Drop test acc.",
    "R-Drop − baseline (test)",
  ];
  const blocks = sweep.rows.map((row) => {
    const rows = row.perSeed.map((s) => {
      const b = base.get(s.seed);
      return [
        String(s.seed),
        ...(withValidation
          ? [show(b?.validationAccuracy), show(s.validationAccuracy)]
          : []),
        show(b?.testAccuracy),
        show(s.testAccuracy),
        b === undefined ? "–" : pp(s.testAccuracy - b.testAccuracy),
      ];
    });
    return [
      "<details>",
      `<summary>R-Drop α=${row.alpha}${
        row.selected ? " (selected)" : ""
      }: accuracy per seed</summary>`,
      "",
      table(header, rows, "r".repeat(header.length)),
      "",
      "</details>",
    ].join("\n");
  });
  return ["Per-seed results of every alpha (click to open):", ...blocks].join(
    "\n\n",
  );
}

/** The whole sweep section. */
export function sweepSection(
  sweep: SweepMetrics,
  charts: SweepChartFiles,
): string {
  const notes = [
    sweep.selectedBy === "validation"
      ? `Alpha is selected by mean accuracy on ${sweep.validationExamples} held-out training examples (stratified by class, the same for every run); the test split only judges the selected alpha.`
      : "No validation split (preprocess.validation 0, the reference protocol): alpha is picked by test accuracy, which is optimistic; the same numbers pick and judge it.",
    `KL reduction: ${sweep.klReductions.join(", ")}${
      sweep.klReductions.includes("sum")
        ? " (summed over the batch, as in the reference: the penalty grows with the batch size, so alpha does not transfer across batch sizes)"
        : " (divided by the batch size)"
    }.`,
  ];
  if (sweep.partialBatch !== null) {
    notes.push(
      `With batchmean the last batch of each epoch has ${sweep.partialBatch.size} examples but is divided by the full batch size, so its KL term weighs ${
        (sweep.partialBatch.factor * 100).toFixed(0)
      } % of an exact batchmean.`,
    );
  }
  return [
    "## Alpha sweep",
    verdictLines(sweep).map((line) => `- ${line}`).join("\n"),
    sweepTable(sweep),
    notes.map((n) => `- ${n}`).join("\n"),
    `![${alphaChartTitle(sweep)}](${charts.alpha})`,
    `![${
      sweep.validationExamples > 0 ? "Validation" : "Test"
    } accuracy per epoch, per alpha](${charts.curves})`,
    perSeedTables(sweep),
    `The rest of this report details the selected alpha (${sweep.selectedAlpha}) against the baseline.`,
  ].join("\n\n");
}

/**
 * One line on the protocol of a run that is not a sweep: the KL reduction and the split the
 * per-epoch curves were drawn on.
 */
export function protocolNote(
  options: { klReduction: string; validationExamples: number },
): string {
  const curves = options.validationExamples > 0
    ? `the per-epoch curves are drawn on ${options.validationExamples} held-out training examples (validation), the test split is used only at the end`
    : "no validation split: the per-epoch curves are drawn on the test split (the reference protocol)";
  return `Protocol: R-Drop's KL term is reduced by ${options.klReduction}${
    options.klReduction === "sum"
      ? " (as in the reference: its weight grows with the batch size)"
      : " (divided by the batch size)"
  }; ${curves}.`;
}
