/**
 * Gathers the report's input from the upstream outputs of the report stage.
 *
 * @module
 */
import type { StageContext } from "../pipeline/mod.ts";
import { Evaluation, RunRecord, TrainHistory } from "./artifacts.ts";
import { readJson } from "./json_files.ts";
import type { ReportInput } from "./report/mod.ts";
import { collectProvenance } from "./provenance.ts";
import { fileURLToPath } from "node:url";

/** Tracked files every run rewrites (the lock and the report): not a sign of a dirty tree. */
const GENERATED = ["pipeline.lock", "results/"];

const INSTANCE = /^(train|evaluate)_(baseline|rdrop)@(.+)$/;

/** Reads every train/evaluate instance's artifacts, pairing them by model and seed. */
export async function collectReportInput(
  ctx: StageContext<unknown>,
): Promise<ReportInput> {
  const runs: ReportInput["runs"] = [];
  for (
    const [name, dir] of Object.entries(ctx.inputs).sort(([a], [b]) =>
      a.localeCompare(b)
    )
  ) {
    const match = INSTANCE.exec(name);
    if (!match || match[1] !== "train") continue;
    const [, , model, seed] = match;
    const evaluationDir = ctx.inputs[`evaluate_${model}@${seed}`];
    runs.push({
      model: model as "baseline" | "rdrop",
      seed: Number(seed),
      history: await readJson(`${dir}/history.json`, TrainHistory),
      run: await readJson(`${dir}/run.json`, RunRecord),
      evaluation: await readJson(
        `${evaluationDir}/evaluation.json`,
        Evaluation,
      ),
    });
  }
  const first = runs[0]?.run;
  const stages = Object.entries(ctx.upstream)
    .map(([name, info]) => ({
      name,
      seconds: info.seconds,
      cached: info.cached,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    runs,
    // Gathered now and written into the report only: none of it is part of a stage key.
    provenance: await collectProvenance(
      fileURLToPath(new URL("..", import.meta.url)),
      runs.map((r) => r.run),
      { generated: GENERATED },
    ),
    params: ctx.allParams,
    mermaid: ctx.mermaid,
    stages,
    environment: {
      deno: Deno.version.deno,
      tfjs: first?.tfjs ?? "unknown",
      backend: first?.backend ?? "unknown",
      adapter: first?.adapter ?? null,
      os: `${Deno.build.os} ${Deno.build.arch}`,
    },
    generatedAt: new Date().toISOString(),
  };
}
