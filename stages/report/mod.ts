/**
 * The results report: `report.md`, `metrics.json` and SVG charts from the evaluated runs.
 *
 * The lead's report stage collects a {@link ReportInput} from upstream outputs and calls
 * {@link renderReport}; the returned files are written next to each other (the markdown
 * links the charts by relative name). Output is deterministic for equal input apart
 * from `generatedAt`.
 *
 * @module
 */
import { writeTextFileAtomic } from "../../data/atomic.ts";
import {
  type ChartSpec,
  confusionSpec,
  learningCurveSpec,
  perClassSpec,
  renderSvg,
  withoutTitle,
} from "./charts.ts";
import {
  alphaTable,
  type ExportedTable,
  headlineTable,
  perSeedTable,
} from "./exports.ts";
import {
  isAlphaSweep,
  REPORT_FILES,
  type ReportFile,
  reportFilesFor,
} from "./files.ts";
import { ReportError } from "./errors.ts";
import { type ReportInput, shortIssues, validateInput } from "./input.ts";
import { type ChartFiles, renderMarkdown } from "./markdown.ts";
import { computeMetrics, Metrics } from "./metrics.ts";
import { ReportRun } from "./input.ts";
import { computeSweep, type SweepMetrics } from "./sweep.ts";
import { alphaCurvesSpec, alphaSpec } from "./sweep_charts.ts";
import { protocolNote, sweepSection } from "./sweep_markdown.ts";
import { trainingsLine } from "./trainings.ts";
import { z } from "zod";
import { matrixAxes } from "../../pipeline/mod.ts";
import { computeDecision, decisionMarkdown } from "./decision_section.ts";

export { ReportError } from "./errors.ts";
export { PUBLISHED_DEFAULT, ReportInputSchema } from "./input.ts";
export type {
  ReportEnvironment,
  ReportInput,
  ReportRun,
  StageTiming,
} from "./input.ts";
export { Metrics } from "./metrics.ts";
export { Provenance, provenanceSection } from "./provenance.ts";
export type { Comparison, ModelSummary, Stat } from "./metrics.ts";
export {
  mean,
  pairedTInterval,
  sampleStd,
  studentTCdf,
  studentTQuantile,
  verdictOf,
} from "./stats.ts";
export type { PairedInterval, Verdict } from "./stats.ts";
export { flattenParams, renderMarkdown, verdictSentence } from "./markdown.ts";
export type { ChartFiles } from "./markdown.ts";
export { computeMetrics } from "./metrics.ts";
export { validateInput } from "./input.ts";
export type { ValidatedInput } from "./input.ts";
export {
  confusionSpec,
  learningCurveSpec,
  MODEL_LABEL,
  perClassSpec,
  renderSvg,
  withoutTitle,
} from "./charts.ts";
export type { ChartSpec, CurveField } from "./charts.ts";
export {
  findEnvironmentNotes,
  findMixedSettings,
  findParamMismatches,
  findReferenceDifferences,
  REFERENCE_SETTING,
} from "./consistency.ts";

export { isAlphaSweep, REPORT_FILES, reportFilesFor } from "./files.ts";
export { headline, sweepHeadline } from "./headline.ts";

/** What {@link renderReport} produces. */
export interface RenderedReport {
  /** File name (relative to the report directory) -> content. */
  files: Record<string, string>;
  /** The validated metrics (the content of metrics.json), e.g. for {@link headline}. */
  metrics: Metrics;
  /** The sweep's statistics (also in metrics.json as `sweep`); null unless alphas were swept. */
  sweep: SweepMetrics | null;
}

export { computeSweep, SweepMetrics, sweptAlphas } from "./sweep.ts";
export { verdictLines } from "./sweep_markdown.ts";

/**
 * Validates the input, computes the metrics, renders the charts headlessly and the
 * markdown. Throws {@link ReportError} for inconsistent input (mixed artifacts,
 * duplicate runs, no runs) or if the metrics fail their own schema.
 */
export async function renderReport(
  input: ReportInput,
): Promise<RenderedReport> {
  // A sweep: statistics over every alpha, then the detailed report of the selected one.
  const allRuns = z.array(ReportRun).safeParse(input.runs);
  const sweep = allRuns.success ? computeSweep(allRuns.data) : null;
  // A sweep is what the params declare; alphas that differ without one are a mix-up that
  // the detailed report warns about.
  const swept = allRuns.success && sweep !== null &&
    isAlphaSweep(input.params);
  if (isAlphaSweep(input.params) && !swept) {
    throw new ReportError(
      "the params sweep train.alpha but no R-Drop run reached the report; check that " +
        "train_rdrop and evaluate_rdrop are dependencies of the report stage.",
    );
  }
  const others = otherSweptParams(input.params);
  if (others.length > 0) {
    throw new ReportError(
      `the report compares alphas; it cannot yet summarise a sweep over ${
        others.join(", ")
      } (several runs per model and seed). Sweep train.alpha only, or run one value at a time and compare the reports with "exp show"/"exp diff".`,
    );
  }
  const validated = validateInput(
    swept ? selectedInput(input, allRuns.data, sweep.selectedAlpha) : input,
  );
  const computed = computeMetrics(validated);
  const checked = Metrics.safeParse(computed);
  if (!checked.success) {
    // A bug here, not the user's: the numbers computed do not match the documented file.
    throw new ReportError(
      `metrics.json would not match its schema; report this as a bug:\n${
        shortIssues(checked.error)
      }`,
    );
  }
  const metrics = checked.data;
  const charts: ChartFiles = {
    accuracy: REPORT_FILES.accuracy,
    trainLoss: REPORT_FILES.trainLoss,
    perClass: REPORT_FILES.perClass,
    confusion: REPORT_FILES.confusion,
  };
  const runs = validated.runs;
  const everyRun = allRuns.success ? allRuns.data : validated.runs;
  const tables: Array<readonly [ReportFile, ReportFile, ExportedTable]> = [
    ["headlineCsv", "headlineTex", headlineTable(metrics)],
    ...(swept ? [["alphaCsv", "alphaTex", alphaTable(sweep)] as const] : []),
    ["perSeedCsv", "perSeedTex", perSeedTable(everyRun)],
  ];
  const chartSpecs: Array<readonly [ReportFile, ReportFile, ChartSpec]> = [
    [
      "accuracy",
      "accuracyNoTitle",
      learningCurveSpec(runs, { field: "accuracy", curves: metrics.curves }),
    ],
    [
      "trainLoss",
      "trainLossNoTitle",
      learningCurveSpec(runs, { field: "trainLoss", curves: metrics.curves }),
    ],
    ["perClass", "perClassNoTitle", perClassSpec(metrics, runs)],
    ["confusion", "confusionNoTitle", confusionSpec(metrics)],
    ...(swept
      ? [
        ["alpha", "alphaNoTitle", alphaSpec(sweep)] as const,
        [
          "alphaCurves",
          "alphaCurvesNoTitle",
          alphaCurvesSpec(everyRun, sweep),
        ] as const,
      ]
      : []),
  ];
  const paperFiles = [
    ...tables.flatMap(([csv, tex]) => [REPORT_FILES[csv], REPORT_FILES[tex]]),
    ...chartSpecs.map(([, untitled]) => REPORT_FILES[untitled]),
  ];
  // A sequential experiment: its own section, after the rest (decision_section.ts).
  const decision = allRuns.success
    ? computeDecision(allRuns.data, input.params)
    : null;
  const files: Record<string, string> = {
    [REPORT_FILES.markdown]: renderMarkdown(metrics, {
      mermaid: validated.mermaid,
      // All trainings, every alpha's: the detailed sections cover the selected one.
      trainings: trainingsLine(everyRun),
      charts,
      paperFiles,
      sweep: swept
        ? sweepSection(sweep, {
          alpha: REPORT_FILES.alpha,
          curves: REPORT_FILES.alphaCurves,
        })
        : sweep === null
        ? undefined
        : protocolNote({
          klReduction: sweep.klReductions.join(", "),
          validationExamples: sweep.validationExamples,
        }),
    }) + (decision === null ? "" : `\n${decisionMarkdown(decision)}`),
    [REPORT_FILES.metrics]: JSON.stringify(
      {
        ...metrics,
        sweep: swept ? sweep : null,
        ...(decision === null ? {} : { decision }),
      },
      null,
      2,
    ) +
      "\n",
  };
  for (const [csv, tex, table] of tables) {
    files[REPORT_FILES[csv]] = table.csv;
    files[REPORT_FILES[tex]] = table.latex;
  }
  // One render at a time: vega's SVG ids are module-global (see renderSvg).
  for (const [titled, untitled, spec] of chartSpecs) {
    files[REPORT_FILES[titled]] = await renderSvg(spec) + "\n";
    files[REPORT_FILES[untitled]] = await renderSvg(withoutTitle(spec)) + "\n";
  }
  files[REPORT_FILES.summary] = JSON.stringify(
    {
      ...experimentSummary(metrics, swept ? sweep : null),
      ...(decision === null ? {} : {
        decision: decision.reason ?? "undecided",
        rounds: decision.rounds.length,
        trainings: decision.trainings,
        "training-epochs": decision.trainingEpochs,
      }),
    },
    null,
    2,
  ) + "\n";
  const expected = reportFilesFor(input.params).sort();
  const written = Object.keys(files).sort();
  if (expected.join() !== written.join()) {
    // A bug: the stage declares reportFilesFor's list as the files it writes.
    throw new ReportError(
      `the report wrote ${written.join(", ")} but declares ${
        expected.join(", ")
      }; report this as a bug.`,
    );
  }
  return { files, metrics, sweep: swept ? sweep : null };
}

/**
 * `summary.json`: the few numbers `exp show` lists per report (the stage's declared metrics
 * file): each model's mean test accuracy, the paired difference, seeds, alpha, backend and,
 * for a sweep, how alpha was selected.
 */
export function experimentSummary(
  metrics: Metrics,
  sweep: SweepMetrics | null,
): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const model of metrics.models) {
    out[`${model.model}.test_acc`] = model.testAccuracy.mean;
  }
  if (metrics.comparison) {
    out["rdrop-baseline"] = metrics.comparison.meanDifference;
    if (metrics.comparison.interval) {
      out["rdrop-baseline.low"] = metrics.comparison.interval.low;
      out["rdrop-baseline.high"] = metrics.comparison.interval.high;
    }
  }
  out.seeds = Math.max(...metrics.models.map((m) => m.seeds.length));
  const rdrop = metrics.runs.find((r) => r.model === "rdrop");
  if (rdrop) out.alpha = rdrop.alpha;
  if (sweep !== null) {
    out.alphas = sweep.rows.length;
    out.selected_by = sweep.selectedBy;
    const row = sweep.rows.find((r) => r.selected);
    if (row?.validationAccuracy) {
      out["rdrop.val_acc"] = row.validationAccuracy.mean;
    }
  }
  out.backend = [...new Set(metrics.models.flatMap((m) => m.backends))].join(
    "+",
  );
  return out;
}

/** Swept params (more than one value) other than train.alpha. */
function otherSweptParams(params: unknown): string[] {
  const matrix = (params as { matrix?: unknown } | null)?.matrix;
  if (matrix === undefined || matrix === null || typeof matrix !== "object") {
    return [];
  }
  return matrixAxes(matrix)
    .filter((axis) => axis.path !== "train.alpha" && axis.values.length > 1)
    .map((axis) => axis.path);
}

/** The input of the detailed report: the baseline and the selected alpha's runs. */
function selectedInput(
  input: ReportInput,
  runs: readonly ReportRun[],
  alpha: number,
): ReportInput {
  const params = structuredClone(input.params) as Record<string, unknown>;
  const train = params?.train as Record<string, unknown> | undefined;
  if (train !== undefined) train.alpha = alpha;
  return {
    ...input,
    params,
    runs: runs.filter((r) =>
      r.model === "baseline" || r.history.alpha === alpha
    ),
  };
}

/**
 * Writes the rendered files (some in a subfolder, `tables/`) into `dir` atomically (temp file in the same directory, then
 * rename), so a reader never sees a half-written report. Needs --allow-write on `dir`.
 */
export async function writeReportFiles(
  dir: string,
  files: Record<string, string>,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const name of Object.keys(files).sort()) {
    // A file name, or one folder and a file name (tables/headline.csv): nothing that could
    // leave the report directory.
    if (!/^([A-Za-z0-9_-]+\/)?[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) {
      throw new ReportError(
        `report file name ${
          JSON.stringify(name)
        } must be a plain file name, or a folder and a file name.`,
      );
    }
    const slash = name.indexOf("/");
    if (slash > 0) {
      await Deno.mkdir(`${dir}/${name.slice(0, slash)}`, { recursive: true });
    }
    await writeTextFileAtomic(`${dir}/${name}`, files[name]);
  }
}
