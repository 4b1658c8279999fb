import { assert, assertAlmostEquals, assertEquals } from "../../assert.ts";
import {
  computeDecision,
  decisionMarkdown,
} from "../../../stages/report/decision_section.ts";
import { pairedTInterval } from "../../../stages/report/stats.ts";
import { renderReport } from "../../../stages/report/mod.ts";
import { correctFor, makeInput, makeRun } from "./fixtures.ts";

/** A run whose test accuracy is `correct` / 1000 and validation accuracy `validation`. */
function run(
  model: "baseline" | "rdrop",
  seed: number,
  options: { alpha?: number; correct: number; validation: number },
) {
  return makeRun(model, seed, {
    alpha: options.alpha ?? 0,
    correct: correctFor(options.correct),
    validation: { examples: 500, accuracy: options.validation },
  });
}

const design = {
  firstRound: 4,
  perRound: 4,
  maxSeeds: 8,
  sigma: 0.008,
  precision: 0.003,
};

function params(sequential: unknown) {
  return {
    seeds: [0, 1, 2, 3, 4, 5, 6, 7],
    train: { epochs: 3, alpha: 0.05, shuffle: false },
    matrix: { train: { alpha: [0.01, 0.1] } },
    ...(sequential === undefined ? {} : { sequential }),
  };
}

/** Round 1 of a clear effect: alpha 0.01 is 3 pp above the baseline on every seed. */
function clearRuns() {
  const offsets = [0, 2, 5, 1];
  return offsets.flatMap((o, seed) => [
    run("baseline", seed, { correct: 850 + o, validation: 0.85 }),
    run("rdrop", seed, {
      alpha: 0.01,
      correct: 880 + o + seed,
      validation: 0.88,
    }),
    run("rdrop", seed, { alpha: 0.1, correct: 700 + o, validation: 0.7 }),
  ]);
}

Deno.test("decision section: absent without a sequential design", () => {
  assertEquals(computeDecision(clearRuns(), params(undefined)), null);
});

Deno.test("decision section: a clear effect is decided in round 1, with the statistics of its paired differences", () => {
  const d = computeDecision(clearRuns(), params(design))!;
  assertEquals(
    [d.decided, d.reason, d.selectedAlpha],
    [true, "excludes-zero", "0.01"],
  );
  assertEquals(d.rounds.length, 1);
  assertEquals(d.rounds[0].active, ["0.01", "0.1"]);
  assertEquals([d.trainings, d.trainingEpochs, d.uniformTrainings], [
    12,
    36,
    12,
  ]);
  const differences = [0, 1, 2, 3].map((seed) => (30 + seed) / 1000);
  const s = d.statistics!;
  assertEquals(s.pairs, 4);
  const t = pairedTInterval(differences);
  assertAlmostEquals(s.tInterval.low, t.low, 1e-12);
  assertAlmostEquals(s.tInterval.high, t.high, 1e-12);
  // All four differences positive: only the all-plus and all-minus sign patterns reach it.
  assertEquals([s.signFlipP, s.signFlipExact], [2 / 16, true]);
  assertEquals(s.probabilityOfOutperforming.estimate, 1);
  assert(s.confidenceSequence.low > 0);
  // The confidence sequence pays for optional stopping: wider than the bootstrap interval.
  assert(
    s.confidenceSequence.high - s.confidenceSequence.low >
      s.bootstrap.high - s.bootstrap.low,
  );
  const md = decisionMarkdown(d);
  assert(md.includes("Decided after round 1"), md);
  assert(md.includes("Howard, Ramdas, McAuliffe & Sekhon"), md);
  assert(md.includes("Bouthillier et al., MLSys 2021"), md);
  assert(md.includes("not the data order (train.shuffle is off"), md);
});

Deno.test("decision section: no effect and noise leave it undecided after round 1, and say so", () => {
  const noise = [0, 9, -7, 4];
  const runs = noise.flatMap((n, seed) => [
    run("baseline", seed, { correct: 850, validation: 0.85 }),
    run("rdrop", seed, { alpha: 0.01, correct: 850 + n, validation: 0.851 }),
    run("rdrop", seed, { alpha: 0.1, correct: 850 - n, validation: 0.849 }),
  ]);
  const d = computeDecision(runs, params(design))!;
  assertEquals([d.decided, d.reason], [false, null]);
  assert(decisionMarkdown(d).includes("Not decided yet: after round 1"));
});

Deno.test("decision section: the report appends it and summary.json names the decision and compute", async () => {
  const input = makeInput(clearRuns());
  input.params = params(design);
  const rendered = await renderReport(input);
  const md = rendered.files["report.md"];
  assert(md.includes("## Sequential decision"));
  const summary = JSON.parse(rendered.files["summary.json"]);
  assertEquals(
    [summary.decision, summary.rounds, summary.trainings],
    ["excludes-zero", 1, 12],
  );
  assertEquals(
    JSON.parse(rendered.files["metrics.json"]).decision.selectedAlpha,
    "0.01",
  );
});
