/**
 * report: `results/report.md`, `results/metrics.json` and the charts, from every train and
 * evaluate instance.
 *
 * @module
 */
import { defineStage } from "../pipeline/mod.ts";
import type { Params } from "./params.ts";
import { REPORT_FILES } from "./report/mod.ts";

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
