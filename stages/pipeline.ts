/**
 * The experiment as one declaration (this project's dvc.yaml):
 * download -> preprocess -> train_{baseline,rdrop}@seed -> evaluate_{baseline,rdrop}@seed -> report.
 *
 * @module
 */
import { relative } from "node:path";
import { definePipeline, importLater } from "../pipeline/mod.ts";
import { z } from "zod";
import { readJson } from "./json_files.ts";
import { decide, RoundFile } from "./decide.ts";
import { download } from "./download.ts";
import { evaluateStage } from "./evaluate.ts";
import { Params } from "./params.ts";
import { preprocess } from "./preprocess.ts";
import { report } from "./report_stage.ts";
import { trainStage } from "./train.ts";
import type { ResolvedBackend, TrainStageOptions } from "./train_params.ts";
import { resolveAutoBackend } from "./auto_backend.ts";

/**
 * What `backend: auto` means: fixed (`autoBackend`, as tests and worker fixtures say), or
 * probed by `detectAutoBackend` when a command's params ask for it.
 */
export type PipelineOptions = TrainStageOptions | {
  /** Probes this machine (see auto_backend.ts); called at most once per command. */
  detectAutoBackend: () => Promise<ResolvedBackend>;
};

/** Builds the pipeline for a machine whose `backend: auto` resolves as `options` says. */
export function createPipeline(options: PipelineOptions) {
  // One probe per process: params are resolved on every plan (a run in rounds plans more than
  // once), and the machine does not change between them.
  let probed: Promise<ResolvedBackend> | undefined;
  const detect = "detectAutoBackend" in options
    ? () => probed ??= options.detectAutoBackend()
    : undefined;
  const stageOptions: TrainStageOptions = "autoBackend" in options
    ? { autoBackend: options.autoBackend }
    : {};
  return definePipeline({
    params: Params,
    paramsFile: "params.json",
    ...(detect === undefined
      ? {}
      : { resolveParams: (p: Params) => resolveAutoBackend(p, detect) }),
    stages: [
      download,
      preprocess,
      trainStage("baseline", stageOptions),
      trainStage("rdrop", stageOptions),
      evaluateStage("baseline", stageOptions),
      evaluateStage("rdrop", stageOptions),
      decide,
      report,
    ],
    // A sequential experiment (params `sequential`): decide's round.json adds the next seeds.
    rounds: {
      stage: "decide",
      file: "round.json",
      next: (raw) => {
        const { roundSeeds } = RoundFile.parse(raw);
        return roundSeeds === null
          ? null
          : [{ path: ["roundSeeds"], value: roundSeeds }];
      },
      describe: (raw) => RoundFile.parse(raw).note,
    },
    async summary(outputs) {
      // Computed imports: a literal one would make Deno load vega before every command.
      const [{ headline, sweepHeadline }, { Metrics }, { SweepMetrics }] =
        await Promise.all([
          importLater<typeof import("./report/headline.ts")>(
            "./report/headline.ts",
            import.meta.url,
          ),
          importLater<typeof import("./report/metrics.ts")>(
            "./report/metrics.ts",
            import.meta.url,
          ),
          importLater<typeof import("./report/sweep.ts")>(
            "./report/sweep.ts",
            import.meta.url,
          ),
        ]);
      const dir = outputs.report;
      if (!dir) return [];
      const path = `${dir}/metrics.json`;
      const metrics = await readJson(path, Metrics);
      const { sweep } = await readJson(
        path,
        z.object({ sweep: SweepMetrics.nullable().default(null) }),
      );
      return [
        `Report: ${relative(Deno.cwd(), `${dir}/report.md`)}`,
        ...(sweep === null ? [] : [sweepHeadline(sweep)]),
        headline(metrics),
      ];
    },
  });
}
