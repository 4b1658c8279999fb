/**
 * Gathers the report's input from the upstream outputs of the report stage.
 *
 * @module
 */
import {
  canonicalJson,
  type StageContext,
  upstreamInstance,
  upstreamInstances,
} from "../pipeline/mod.ts";
import { Evaluation, RunRecord, TrainHistory } from "./artifacts.ts";
import { readJson } from "./json_files.ts";
import type { ReportInput } from "./report/mod.ts";
import { collectProvenance } from "./provenance.ts";
import { fileURLToPath } from "node:url";

/** Tracked files every run rewrites (the lock and the report): not a sign of a dirty tree. */
const GENERATED = ["pipeline.lock", "results/"];

const MODELS = ["baseline", "rdrop"] as const;

/**
 * Reads every train instance's artifacts with its evaluate instance (the one with the same
 * item): the model, seed and alpha come from the artifacts themselves, not from names.
 */
export async function collectReportInput(
  ctx: StageContext<unknown>,
): Promise<ReportInput> {
  const runs: ReportInput["runs"] = [];
  for (const model of MODELS) {
    const trained = upstreamInstances(ctx, `train_${model}`)
      .sort((a, b) =>
        canonicalJson(a.item ?? null).localeCompare(
          canonicalJson(b.item ?? null),
        )
      );
    for (const train of trained) {
      const evaluation = upstreamInstance(ctx, `evaluate_${model}`, train.item);
      const history = await readJson(`${train.dir}/history.json`, TrainHistory);
      runs.push({
        model,
        seed: history.seed,
        history,
        run: await readJson(`${train.dir}/run.json`, RunRecord),
        evaluation: await readJson(
          `${evaluation.dir}/evaluation.json`,
          Evaluation,
        ),
      });
    }
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
      { generated: GENERATED, args: ctx.args },
    ),
    params: ctx.params,
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
