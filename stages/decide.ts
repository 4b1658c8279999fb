/**
 * decide: the sequential experiment's decision stage. It reads every finished training's
 * validation accuracy and evaluation's test accuracy, runs the pure planner, and writes
 * `round.json`: the next round (which arms get which seeds, and the `roundSeeds` that make
 * those instances exist) or done with the reason. Cached like any stage, so a rerun replays
 * the rounds. It exists only when the params hold a `sequential` design.
 *
 * @module
 */
import { z } from "zod";
import {
  canonicalJson,
  defineStage,
  type StageContext,
  upstreamInstance,
  upstreamInstances,
} from "../pipeline/mod.ts";
import { Evaluation, TrainHistory } from "./artifacts.ts";
import { readJson } from "./json_files.ts";
import type { Params } from "./params.ts";
import {
  armNames,
  type ArmRun,
  describePlan,
  nextRoundSeeds,
  plannerInput,
} from "./sequential/arms.ts";
import { SequentialDesign } from "./sequential/design.ts";
import { BASELINE, type Plan, planNextRound } from "./sequential/planner.ts";

/** What `round.json` holds (validated where it is read back). */
export const RoundFile = z.object({
  /** The planner's answer (see planner.ts). */
  plan: z.object({ kind: z.enum(["round", "done"]) }).passthrough(),
  /** Seeds per arm in the next round; null when done. */
  roundSeeds: z.record(z.string(), z.number().int().nonnegative()).nullable(),
  /** One line about it. */
  note: z.string(),
});
/** What `round.json` holds. */
export type RoundFile = z.infer<typeof RoundFile>;

const DecideParams = z.object({
  design: SequentialDesign,
  arms: z.array(z.string()).min(1),
});

/** Reads every finished run (train history + evaluation) of one mode as planner input. */
async function armRuns(
  ctx: StageContext<unknown>,
  mode: "baseline" | "rdrop",
): Promise<ArmRun[]> {
  const out: ArmRun[] = [];
  const trained = upstreamInstances(ctx, `train_${mode}`).sort((a, b) =>
    canonicalJson(a.item ?? null).localeCompare(canonicalJson(b.item ?? null))
  );
  for (const train of trained) {
    const history = await readJson(`${train.dir}/history.json`, TrainHistory);
    const evaluation = await readJson(
      `${
        upstreamInstance(ctx, `evaluate_${mode}`, train.item).dir
      }/evaluation.json`,
      Evaluation,
    );
    const last = history.epochs.at(-1);
    out.push({
      arm: mode === "baseline" ? BASELINE : String(history.alpha),
      result: {
        seed: history.seed,
        validation: history.curveSplit === "validation" && last !== undefined
          ? last.testAccuracy
          : null,
        test: evaluation.testAccuracy,
      },
    });
  }
  return out;
}

/** The decision stage (one instance, only with `sequential` params). */
export const decide = defineStage({
  name: "decide",
  description:
    "sequential experiment: next round of seeds, or decided (and why)",
  deps: [
    "train_baseline",
    "train_rdrop",
    "evaluate_baseline",
    "evaluate_rdrop",
  ],
  params: (p: Params) =>
    p.sequential === undefined
      ? {}
      : { design: p.sequential, arms: armNames(p) },
  include: (p: Params) => p.sequential !== undefined,
  outputs: ["round.json"],
  // The accuracies only: a retraining that reproduces them decides nothing new.
  reads: {
    train_baseline: ["history.json"],
    train_rdrop: ["history.json"],
    evaluate_baseline: ["evaluation.json"],
    evaluate_rdrop: ["evaluation.json"],
  },
  code: import.meta.url,
  async run(ctx) {
    const { design, arms } = DecideParams.parse(ctx.params);
    const runs = [
      ...await armRuns(ctx, "baseline"),
      ...await armRuns(ctx, "rdrop"),
    ];
    const input = plannerInput(runs, arms);
    const plan: Plan = planNextRound(input, design);
    const file: RoundFile = {
      plan,
      roundSeeds: plan.kind === "round" ? nextRoundSeeds(input, plan) : null,
      note: describePlan(plan),
    };
    ctx.log(file.note);
    await Deno.writeTextFile(
      `${ctx.outDir}/round.json`,
      JSON.stringify(file, null, 2) + "\n",
    );
  },
});
