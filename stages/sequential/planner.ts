/**
 * The sequential decision rule as one pure function: from the finished per-seed results of the
 * baseline and each R-Drop arm, either the next round (which arms run which new seeds) or
 * "done" with the reason (the selected arm's interval excludes zero, it is narrower than the
 * precision, or the budget is spent).
 *
 * The planner keeps no state: it replays the rounds from the results alone. Round r covers
 * seeds 0 .. n_r - 1 (n_1 = firstRound, then + perRound up to maxSeeds); for each round whose
 * results are all in, it selects the arm with the best mean validation accuracy, checks the
 * stopping rule on that arm's paired test differences against the baseline, and otherwise
 * stops arms for the next round:
 *
 * - `behind`: the arm's paired validation difference to the selected arm has a confidence
 *   sequence wholly below zero (clearly behind, with the same anytime guarantee);
 * - `halving` (opt-in successive halving): only the best ceil(arms / eta) arms on validation
 *   go on.
 *
 * Validity: every arm's confidence sequence runs at level alpha / K (K R-Drop arms, Bonferroni),
 * so the selected arm's interval is valid whichever arm the data end up selecting and whenever
 * the experiment stops. Selection uses validation, the verdict test accuracy.
 *
 * Results the replay does not ask for (say a stopped arm's later seeds found in a cache) are
 * ignored, so the same results always give the same rounds and the same answer.
 *
 * @module
 */
import type { ConfidenceSequenceBound } from "../report/confidence_sequence.ts";
import { confidenceSequence } from "../report/confidence_sequence.ts";
import { stopCheck, type StopReason } from "../report/stopping_rule.ts";
import type { SequentialDesign } from "./design.ts";

/** The name the planner gives the baseline in a round's runs. */
export const BASELINE = "baseline";

/** One finished run of one arm. */
export interface SeedResult {
  seed: number;
  /** Final validation accuracy, or null when the runs held no validation split out. */
  validation: number | null;
  test: number;
}

/** The finished runs of one R-Drop arm. */
export interface ArmResults {
  /** The arm's name, e.g. its alpha as text ("0.01"); never "baseline". */
  arm: string;
  results: readonly SeedResult[];
}

/** Everything the planner reads. */
export interface PlannerInput {
  baseline: readonly SeedResult[];
  /** The R-Drop arms, in the order ties are broken (first wins). */
  arms: readonly ArmResults[];
}

/** An arm taken out, and why. */
export interface StoppedArm {
  arm: string;
  why: "behind" | "halving";
}

/** What happened in one finished round. */
export interface RoundRecord {
  round: number;
  /** Paired seeds per remaining arm after this round (seeds 0 .. seeds - 1). */
  seeds: number;
  /** Arms that ran this round. */
  active: string[];
  selected: string;
  /** The selected arm's test confidence sequence against the baseline. */
  bound: ConfidenceSequenceBound;
  /** Arms stopped after this round (they run no later round). */
  stopped: StoppedArm[];
  /** Trainings run up to and including this round. */
  trainings: number;
}

/** The runs of one arm in the next round. */
export interface RoundRuns {
  /** An arm's name or {@link BASELINE}. */
  arm: string;
  seeds: number[];
}

/** The planner's answer. */
export type Plan =
  | {
    kind: "round";
    /** The round to run now (1-based). */
    round: number;
    runs: RoundRuns[];
    history: RoundRecord[];
    /** What selection used. */
    selectedBy: "validation" | "test";
  }
  | {
    kind: "done";
    reason: StopReason;
    /** Rounds run. */
    rounds: number;
    selected: string;
    bound: ConfidenceSequenceBound;
    history: RoundRecord[];
    selectedBy: "validation" | "test";
    /** Trainings the experiment used. */
    trainings: number;
  };

/** Seeds per arm after round `round` (1-based). */
export function seedsThrough(round: number, design: SequentialDesign): number {
  return Math.min(
    design.firstRound + (round - 1) * design.perRound,
    design.maxSeeds,
  );
}

function index(results: readonly SeedResult[]): Map<number, SeedResult> {
  const out = new Map<number, SeedResult>();
  for (const r of results) out.set(r.seed, r);
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** The next round, or done with the reason: a pure function of `input` and `design`. */
export function planNextRound(
  input: PlannerInput,
  design: SequentialDesign,
): Plan {
  if (input.arms.length === 0) {
    throw new Error("planNextRound: needs at least one R-Drop arm");
  }
  const names = input.arms.map((a) => a.arm);
  if (names.includes(BASELINE) || new Set(names).size !== names.length) {
    throw new Error(
      `planNextRound: arm names must be distinct and not "${BASELINE}", got ${names}`,
    );
  }
  const base = index(input.baseline);
  const arms = new Map(input.arms.map((a) => [a.arm, index(a.results)]));
  const selectedBy =
    [...input.baseline, ...input.arms.flatMap((a) => a.results)]
        .every((r) => r.validation !== null)
      ? "validation"
      : "test";
  const score = (r: SeedResult) =>
    selectedBy === "validation" ? r.validation as number : r.test;
  const csOptions = {
    sigma: design.sigma,
    alpha: design.alpha / input.arms.length,
    tunedFor: design.tunedFor,
  };
  const history: RoundRecord[] = [];
  let active = [...names];
  let trainings = 0;
  let done = 0;
  for (let round = 1;; round++) {
    const n = seedsThrough(round, design);
    const runs: RoundRuns[] = [BASELINE, ...active].map((arm) => ({
      arm,
      seeds: range(0, n).filter((s) =>
        !(arm === BASELINE ? base : arms.get(arm)!).has(s)
      ),
    })).filter((r) => r.seeds.length > 0);
    if (runs.length > 0) {
      return { kind: "round", round, runs, history, selectedBy };
    }
    trainings += (active.length + 1) * (n - done);
    done = n;
    const seeds = range(0, n);
    const meanScore = (arm: string) =>
      seeds.reduce((s, seed) => s + score(arms.get(arm)!.get(seed)!), 0) / n;
    // Best mean score; on a tie the earlier arm.
    const selected = active.reduce((a, b) =>
      meanScore(b) > meanScore(a) ? b : a
    );
    const own = arms.get(selected)!;
    const differences = seeds.map((s) => own.get(s)!.test - base.get(s)!.test);
    const check = stopCheck(differences, {
      ...csOptions,
      precision: design.precision,
      maxPairs: design.maxSeeds,
    });
    const record: RoundRecord = {
      round,
      seeds: n,
      active,
      selected,
      bound: check.bound,
      stopped: [],
      trainings,
    };
    history.push(record);
    const finish = (reason: StopReason): Plan => ({
      kind: "done",
      reason,
      rounds: round,
      selected,
      bound: check.bound,
      history,
      selectedBy,
      trainings,
    });
    if (check.stop) return finish(check.reason);
    const behind = active.filter((arm) =>
      arm !== selected &&
      confidenceSequence(
          seeds.map((s) => score(arms.get(arm)!.get(s)!) - score(own.get(s)!)),
          csOptions,
        ).high < 0
    );
    record.stopped.push(
      ...behind.map((arm) => ({ arm, why: "behind" as const })),
    );
    let next = active.filter((arm) => !behind.includes(arm));
    if (design.halving !== null && next.length > 1) {
      const keep = Math.max(
        design.halving.keep,
        Math.ceil(next.length / design.halving.eta),
      );
      // Stable by the given order on equal means.
      const ranked = [...next].sort((a, b) =>
        meanScore(b) - meanScore(a) || names.indexOf(a) - names.indexOf(b)
      );
      const halved = ranked.slice(keep);
      record.stopped.push(
        ...halved.map((arm) => ({ arm, why: "halving" as const })),
      );
      next = next.filter((arm) => !halved.includes(arm));
    }
    if (
      design.maxTrainings !== null &&
      trainings +
            (next.length + 1) * (seedsThrough(round + 1, design) - n) >
        design.maxTrainings
    ) {
      return finish("budget");
    }
    active = next;
  }
}
