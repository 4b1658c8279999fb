/**
 * report: `results/report.md`, `results/metrics.json`, the charts, and for a paper the tables
 * (`results/tables/*.csv|tex`) and untitled figures (`results/figures/`), from every train
 * and evaluate instance.
 *
 * @module
 */
import { defineStage } from "../pipeline/mod.ts";
import type { Params } from "./params.ts";
import { REPORT_FILES, reportFilesFor } from "./report/files.ts";

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
  async run(ctx) {
    const { collectReportInput } = await import("./report_input.ts");
    const { renderReport, writeReportFiles } = await import("./report/mod.ts");
    const rendered = await renderReport(await collectReportInput(ctx));
    await writeReportFiles(ctx.outDir, rendered.files);
  },
});
