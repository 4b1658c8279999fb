/**
 * The experiment as one declaration (this project's dvc.yaml):
 * download -> preprocess -> train_{baseline,rdrop}@seed -> evaluate_{baseline,rdrop}@seed -> report.
 *
 * @module
 */
import { relative } from "node:path";
import { definePipeline } from "../pipeline/mod.ts";
import { decide, RoundFile } from "./decide.ts";
import { download } from "./download.ts";
import { evaluateStage } from "./evaluate.ts";
import { Params } from "./params.ts";
import { preprocess } from "./preprocess.ts";
import { report } from "./report_stage.ts";
import { trainStage } from "./train.ts";
import type { TrainStageOptions } from "./train_params.ts";

/** Builds the pipeline for a machine whose `backend: auto` resolves as `options` says. */
export function createPipeline(options: TrainStageOptions) {
  return definePipeline({
    params: Params,
    paramsFile: "params.json",
    stages: [
      download,
      preprocess,
      trainStage("baseline", options),
      trainStage("rdrop", options),
      evaluateStage("baseline", options),
      evaluateStage("rdrop", options),
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
      const { headline, Metrics, SweepMetrics, sweepHeadline } = await import(
        "./report/mod.ts"
      );
      const { z } = await import("zod");
      const { readJson } = await import("./json_files.ts");
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
