/**
 * report: `results/report.md`, `results/metrics.json`, the charts, and for a paper the tables
 * (`results/tables/*.csv|tex`) and untitled figures (`results/figures/`), from every train
 * and evaluate instance.
 *
 * @module
 */
import { defineStage, importLater } from "../pipeline/mod.ts";
import type { Params } from "./params.ts";
import { REPORT_FILES, reportFilesFor } from "./report/files.ts";

/** The report's run body (gathering its input, rendering), loaded only when it runs. */
const REPORT_RUN = [
  new URL("./report_input.ts", import.meta.url),
  new URL("./report/mod.ts", import.meta.url),
];

/** Collects all runs and renders the report into `results/`. */
export const report = defineStage({
  name: "report",
  description: "write results/report.md, metrics.json and the charts",
  deps: [
    "train_baseline",
    "train_rdrop",
    "evaluate_baseline",
    "evaluate_rdrop",
  ],
  // The report prints the whole params table, so all of it is this stage's input.
  params: (p: Params) => p,
  outputs: Object.values(REPORT_FILES),
  // A run without an alpha sweep draws no sweep charts and writes no per-alpha table.
  outputsFor: (p: Params) => reportFilesFor(p),
  // What `exp show` lists for every report in the cache.
  metrics: REPORT_FILES.summary,
  workspace: "results",
  code: import.meta.url,
  codeFor: () => REPORT_RUN,
  async run(ctx) {
    const [{ collectReportInput }, { renderReport, writeReportFiles }] =
      await Promise.all([
        importLater<typeof import("./report_input.ts")>(REPORT_RUN[0]),
        importLater<typeof import("./report/mod.ts")>(REPORT_RUN[1]),
      ]);
    const rendered = await renderReport(await collectReportInput(ctx));
    await writeReportFiles(ctx.outDir, rendered.files);
  },
});
