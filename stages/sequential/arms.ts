/**
 * How the experiment's instances map to the planner's arms: the baseline is one arm, each
 * R-Drop alpha another (named by its alpha as text), and a seed of an arm exists in a round
 * when it is below that arm's count in `roundSeeds`.
 *
 * @module
 */
import type { ItemRecord } from "../../pipeline/mod.ts";
import type { Params } from "../params.ts";
import {
  BASELINE,
  type Plan,
  type PlannerInput,
  type SeedResult,
} from "./planner.ts";

/** The R-Drop arms of these params: the swept alphas, else the one alpha, as text. */
export function armNames(p: Params): string[] {
  const swept = (p.matrix as { train?: { alpha?: unknown } }).train?.alpha;
  const alphas = Array.isArray(swept) ? swept : [p.train.alpha];
  return alphas.map((a) => String(a));
}

/** The arm of a train/evaluate instance. */
export function armOf(
  p: Params,
  mode: "baseline" | "rdrop",
  item: ItemRecord,
): string {
  if (mode === "baseline") return BASELINE;
  const alpha = item["train.alpha"];
  return String(alpha === undefined ? p.train.alpha : alpha);
}

/**
 * Whether a train/evaluate instance exists: always without a sequential design; with one, when
 * its seed is below its arm's count this round (round 1: the design's first round).
 */
export function seedIncluded(
  p: Params,
  mode: "baseline" | "rdrop",
  item: ItemRecord,
): boolean {
  if (p.sequential === undefined) return true;
  const count = p.roundSeeds?.[armOf(p, mode, item)] ??
    (p.roundSeeds === undefined ? p.sequential.firstRound : 0);
  return Number(item.seed) < count;
}

/** One finished run as the planner sees it. */
export interface ArmRun {
  /** {@link BASELINE} or an arm name. */
  arm: string;
  result: SeedResult;
}

/** The planner's input from finished runs, arms in the given order. */
export function plannerInput(
  runs: readonly ArmRun[],
  arms: readonly string[],
): PlannerInput {
  const of = (arm: string) =>
    runs.filter((r) => r.arm === arm).map((r) => r.result)
      .sort((a, b) => a.seed - b.seed);
  return {
    baseline: of(BASELINE),
    arms: arms.map((arm) => ({ arm, results: of(arm) })),
  };
}

/** Seeds per arm after the planned round: what every arm has, raised by the round's runs. */
export function nextRoundSeeds(
  input: PlannerInput,
  plan: Plan & { kind: "round" },
): Record<string, number> {
  const count = (results: readonly SeedResult[]) =>
    results.reduce((m, r) => Math.max(m, r.seed + 1), 0);
  const out: Record<string, number> = {
    [BASELINE]: count(input.baseline),
  };
  for (const arm of input.arms) out[arm.arm] = count(arm.results);
  for (const run of plan.runs) {
    out[run.arm] = Math.max(out[run.arm] ?? 0, ...run.seeds.map((s) => s + 1));
  }
  return out;
}

/** One line about a plan, for the terminal and status. */
export function describePlan(plan: Plan): string {
  const last = plan.history.at(-1);
  const interval = last === undefined
    ? ""
    : ` (alpha ${last.selected} leads: ${last.seeds} seeds, test CS [${
      (last.bound.low * 100).toFixed(2)
    }, ${(last.bound.high * 100).toFixed(2)}] pp)`;
  if (plan.kind === "done") {
    return `decided after round ${plan.rounds}: ${plan.reason}${interval}, ${plan.trainings} trainings`;
  }
  const stopped = last?.stopped.map((s) => `${s.arm} (${s.why})`) ?? [];
  return `round ${plan.round} next: ${
    plan.runs.map((r) => `${r.arm} x${r.seeds.length}`).join(", ")
  }${interval}${stopped.length > 0 ? `; stopped ${stopped.join(", ")}` : ""}`;
}
