/**
 * The report's files, relative to the report directory, and which of them a run writes:
 * the sweep's charts and table only when the params sweep train.alpha. The report stage
 * declares these as its outputs, so every file is cached and restored.
 *
 * @module
 */
import { sweptAlphas } from "./sweep.ts";

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
  headlineCsv: "tables/headline.csv",
  headlineTex: "tables/headline.tex",
  alphaCsv: "tables/alpha.csv",
  alphaTex: "tables/alpha.tex",
  perSeedCsv: "tables/per_seed.csv",
  perSeedTex: "tables/per_seed.tex",
  accuracyNoTitle: "figures/accuracy_notitle.svg",
  trainLossNoTitle: "figures/train_loss_notitle.svg",
  perClassNoTitle: "figures/per_class_notitle.svg",
  confusionNoTitle: "figures/confusion_notitle.svg",
  alphaNoTitle: "figures/alpha_notitle.svg",
  alphaCurvesNoTitle: "figures/alpha_curves_notitle.svg",
} as const;

/** A key of {@link REPORT_FILES}. */
export type ReportFile = keyof typeof REPORT_FILES;

/** The files only a sweep over train.alpha has. */
export const SWEEP_ONLY: readonly ReportFile[] = [
  "alpha",
  "alphaCurves",
  "alphaCsv",
  "alphaTex",
  "alphaNoTitle",
  "alphaCurvesNoTitle",
];

/** Whether the params sweep train.alpha over more than one value. */
export function isAlphaSweep(params: unknown): boolean {
  return (sweptAlphas(params)?.length ?? 0) > 1;
}

/** The files a report with these params writes (its stage's outputsFor). */
export function reportFilesFor(params: unknown): string[] {
  const sweep = isAlphaSweep(params);
  return (Object.keys(REPORT_FILES) as ReportFile[])
    .filter((key) => sweep || !SWEEP_ONLY.includes(key))
    .map((key) => REPORT_FILES[key]);
}
