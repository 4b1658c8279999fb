/**
 * The report's file names, apart from the renderer so that declaring the report stage does not
 * load vega (the renderer loads only when a report is rendered).
 *
 * @module
 */

/** File names of the report's files, relative to the report directory. */
export const REPORT_FILES = {
  markdown: "report.md",
  metrics: "metrics.json",
  accuracy: "accuracy.svg",
  trainLoss: "train_loss.svg",
  perClass: "per_class.svg",
  confusion: "confusion.svg",
  alpha: "alpha.svg",
  alphaCurves: "alpha_curves.svg",
  summary: "summary.json",
} as const;
