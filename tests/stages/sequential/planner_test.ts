import { assert, assertEquals } from "../../assert.ts";
import { SequentialDesign } from "../../../stages/sequential/design.ts";
import {
  BASELINE,
  type Plan,
  type PlannerInput,
  planNextRound,
  type SeedResult,
} from "../../../stages/sequential/planner.ts";
import { seededUniform } from "../../../stages/report/paired_tests.ts";

const design = SequentialDesign.parse({
  firstRound: 4,
  perRound: 4,
  maxSeeds: 16,
  sigma: 0.008,
});

/** A synthetic world: each arm's accuracy per seed is its offset plus seeded noise. */
function world(offsets: Record<string, number>, noise = 0.004) {
  return (arm: string, seed: number): SeedResult => {
    const u = seededUniform(seed * 1000 + arm.length * 17 + arm.charCodeAt(0));
    const shared = seededUniform(seed)() - 0.5; // the seed's effect on every arm alike
    const offset = arm === BASELINE ? 0 : offsets[arm];
    return {
      seed,
      validation: 0.88 + offset + 0.01 * shared + noise * (u() - 0.5),
      test: 0.87 + offset + 0.01 * shared + noise * (u() - 0.5),
    };
  };
}

/** Runs the planner's rounds against `result` until done, as a driver would. */
function runToDecision(
  arms: string[],
  result: (arm: string, seed: number) => SeedResult,
  d = design,
): { plan: Plan & { kind: "done" }; rounds: Plan[] } {
  const input: {
    baseline: SeedResult[];
    arms: { arm: string; results: SeedResult[] }[];
  } = {
    baseline: [],
    arms: arms.map((arm) => ({ arm, results: [] })),
  };
  const rounds: Plan[] = [];
  for (let i = 0; i < 100; i++) {
    const plan = planNextRound(input, d);
    rounds.push(plan);
    if (plan.kind === "done") return { plan, rounds };
    for (const run of plan.runs) {
      const target = run.arm === BASELINE
        ? input.baseline
        : input.arms.find((a) => a.arm === run.arm)!.results;
      for (const seed of run.seeds) target.push(result(run.arm, seed));
    }
  }
  throw new Error("no decision in 100 rounds");
}

Deno.test("planner: with no results, round 1 runs the first seeds for the baseline and every arm", () => {
  const plan = planNextRound({
    baseline: [],
    arms: [{ arm: "0.01", results: [] }, { arm: "0.1", results: [] }],
  }, design);
  assertEquals(plan, {
    kind: "round",
    round: 1,
    runs: [
      { arm: BASELINE, seeds: [0, 1, 2, 3] },
      { arm: "0.01", seeds: [0, 1, 2, 3] },
      { arm: "0.1", seeds: [0, 1, 2, 3] },
    ],
    history: [],
    selectedBy: "validation",
  });
});

Deno.test("planner: a partly finished round asks only for the missing runs", () => {
  const result = world({ a: 0 });
  const plan = planNextRound({
    baseline: [0, 1, 2, 3].map((s) => result(BASELINE, s)),
    arms: [{ arm: "a", results: [0, 2].map((s) => result("a", s)) }],
  }, design);
  assert(plan.kind === "round");
  assertEquals(plan.runs, [{ arm: "a", seeds: [1, 3] }]);
});

Deno.test("planner: an arm clearly behind on validation is stopped and runs no later round", () => {
  const result = world({ good: 0.002, bad: -0.03 });
  const input: PlannerInput = {
    baseline: [0, 1, 2, 3].map((s) => result(BASELINE, s)),
    arms: ["good", "bad"].map((arm) => ({
      arm,
      results: [0, 1, 2, 3].map((s) => result(arm, s)),
    })),
  };
  const plan = planNextRound(input, design);
  assert(plan.kind === "round", JSON.stringify(plan));
  assertEquals(plan.round, 2);
  assertEquals(plan.runs.map((r) => r.arm), [BASELINE, "good"]);
  assertEquals(plan.runs[0].seeds, [4, 5, 6, 7]);
  assertEquals(plan.history[0].selected, "good");
  assertEquals(plan.history[0].stopped, [{ arm: "bad", why: "behind" }]);
  assertEquals(plan.history[0].trainings, 12);
  // A stopped arm's later runs (say found in a cache) change nothing.
  const extra = structuredClone(input) as PlannerInput;
  (extra.arms[1].results as SeedResult[]).push(
    result("bad", 4),
    result("bad", 5),
  );
  assertEquals(planNextRound(extra, design), plan);
});

Deno.test("planner: pure and deterministic: same answer twice, any result order, input untouched", () => {
  const result = world({ a: 0.001, b: 0.003, c: -0.002 });
  const input: PlannerInput = {
    baseline: [0, 1, 2, 3, 4, 5, 6, 7].map((s) => result(BASELINE, s)),
    arms: ["a", "b", "c"].map((arm) => ({
      arm,
      results: [0, 1, 2, 3, 4, 5, 6, 7].map((s) => result(arm, s)),
    })),
  };
  const frozen = structuredClone(input);
  const first = planNextRound(input, design);
  assertEquals(planNextRound(input, design), first);
  assertEquals(input, frozen);
  const shuffled: PlannerInput = {
    baseline: [...input.baseline].reverse(),
    arms: input.arms.map((a) => ({
      arm: a.arm,
      results: [...a.results].reverse(),
    })),
  };
  assertEquals(planNextRound(shuffled, design), first);
});

Deno.test("planner: a clear effect is decided as soon as the interval excludes zero", () => {
  const { plan } = runToDecision(["x"], world({ x: 0.03 }));
  assertEquals(plan.reason, "excludes-zero");
  assertEquals(plan.selected, "x");
  assert(plan.bound.low > 0);
  assertEquals(plan.rounds, plan.history.length);
  assertEquals(plan.trainings, 2 * plan.history.at(-1)!.seeds);
});

Deno.test("planner: no effect with tiny noise is decided by precision; a noisy one spends the budget", () => {
  const precise = runToDecision(
    ["x"],
    world({ x: 0 }, 0.0005),
    SequentialDesign.parse({ ...design, sigma: 0.001, precision: 0.002 }),
  ).plan;
  assertEquals(precise.reason, "precise");
  assert(precise.bound.halfWidth <= 0.002);
  const budget = runToDecision(["x"], world({ x: 0 }, 0.02)).plan;
  assertEquals(budget.reason, "budget");
  assertEquals(budget.history.at(-1)!.seeds, design.maxSeeds);
  assertEquals(budget.rounds, 4); // 4, 8, 12, 16 seeds
});

Deno.test("planner: the training budget stops before a round that would exceed it", () => {
  const d = SequentialDesign.parse({ ...design, maxTrainings: 20 });
  const { plan } = runToDecision(["x", "y"], world({ x: 0, y: 0 }, 0.02), d);
  assertEquals(plan.reason, "budget");
  // Round 1 is 3 arms x 4 seeds = 12; round 2 would add 12 more.
  assertEquals(plan.trainings, 12);
});

Deno.test("planner: successive halving keeps the better half on validation each round", () => {
  const d = SequentialDesign.parse({ ...design, halving: { eta: 2 } });
  const offsets = { a: 0.001, b: 0.002, c: 0.0015, d: 0.0005 };
  const { plan, rounds } = runToDecision(
    Object.keys(offsets),
    world(offsets, 0.0001),
    d,
  );
  const second = rounds[1];
  assert(second.kind === "round");
  assertEquals(second.runs.map((r) => r.arm), [BASELINE, "b", "c"]);
  assertEquals(
    plan.history[0].stopped.map((s) => s.why),
    plan.history[0].stopped.map(() => "halving"),
  );
  assertEquals(plan.history[0].stopped.map((s) => s.arm).sort(), ["a", "d"]);
  // Fewer trainings than running all four arms as long.
  assert(plan.trainings < 5 * plan.history.at(-1)!.seeds);
});
