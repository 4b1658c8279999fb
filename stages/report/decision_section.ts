/**
 * The report's section on a sequential experiment (params `sequential`): the verdict and why it
 * stopped, the rounds (which arms ran how many seeds, which were stopped and why), the compute
 * used against a uniform grid, the method with its reference, and the statistics beside the
 * t-interval for the selected arm (bootstrap, sign-flip permutation, probability of
 * outperforming), with the sources of variation the seeds cover.
 *
 * The rounds are recomputed here by the same pure planner the decide stage ran, from the same
 * runs, so the report needs nothing but the runs and the params.
 *
 * @module
 */
import { z } from "zod";
import { SequentialDesign } from "../sequential/design.ts";
import { type ArmRun, plannerInput } from "../sequential/arms.ts";
import { BASELINE, type Plan, planNextRound } from "../sequential/planner.ts";
import { pp, table } from "./format.ts";
import type { ReportRun } from "./input.ts";
import {
  pairedBootstrap,
  probabilityOfOutperforming,
  signFlipTest,
} from "./paired_tests.ts";
import { pairedTInterval, sampleStd } from "./stats.ts";
import { sweptAlphas, validationAccuracy } from "./sweep.ts";

const Bound = z.object({ low: z.number(), high: z.number() });

/** The `decision` section of `metrics.json`. */
export const DecisionMetrics = z.object({
  decided: z.boolean(),
  /** Why it stopped (null while not decided). */
  reason: z.enum(["excludes-zero", "precise", "budget"]).nullable(),
  selectedAlpha: z.string(),
  rounds: z.array(z.object({
    round: z.number().int(),
    seeds: z.number().int(),
    active: z.array(z.string()),
    selected: z.string(),
    low: z.number(),
    high: z.number(),
    stopped: z.array(z.object({ arm: z.string(), why: z.string() })),
    trainings: z.number().int(),
  })),
  trainings: z.number().int(),
  trainingEpochs: z.number().int(),
  /** Trainings of a uniform grid giving every arm the selected arm's seeds. */
  uniformTrainings: z.number().int(),
  trainSeconds: z.number().nonnegative(),
  design: SequentialDesign,
  /** Statistics of the selected arm's paired test differences (null with < 2 pairs). */
  statistics: z.object({
    pairs: z.number().int(),
    observedSd: z.number().nullable(),
    confidenceSequence: Bound,
    tInterval: Bound,
    bootstrap: Bound,
    signFlipP: z.number(),
    signFlipExact: z.boolean(),
    probabilityOfOutperforming: z.object({
      estimate: z.number(),
      low: z.number(),
      high: z.number(),
    }),
  }).nullable(),
  shuffle: z.boolean(),
});
/** The `decision` section of `metrics.json`. */
export type DecisionMetrics = z.infer<typeof DecisionMetrics>;

const ParamsView = z.object({
  sequential: SequentialDesign.optional(),
  train: z.object({
    alpha: z.number(),
    epochs: z.number().int(),
    shuffle: z.boolean().default(false),
  }).passthrough(),
}).passthrough();

function armRun(run: ReportRun): ArmRun {
  return {
    arm: run.model === "baseline" ? BASELINE : String(run.history.alpha),
    result: {
      seed: run.seed,
      validation: validationAccuracy(run),
      test: run.evaluation.testAccuracy,
    },
  };
}

/** The decision's metrics, or null when the params hold no sequential design. */
export function computeDecision(
  runs: readonly ReportRun[],
  params: unknown,
): DecisionMetrics | null {
  const view = ParamsView.safeParse(params);
  if (!view.success || view.data.sequential === undefined) return null;
  const design = view.data.sequential;
  const arms = (sweptAlphas(params) ?? [view.data.train.alpha]).map(String);
  const input = plannerInput(runs.map(armRun), arms);
  const plan: Plan = planNextRound(input, design);
  const last = plan.history.at(-1);
  const selected = plan.kind === "done"
    ? plan.selected
    : last?.selected ?? arms[0];
  const trainings = plan.history.at(-1)?.trainings ?? 0;
  const seedsOfSelected = last?.seeds ?? 0;
  const base = new Map(input.baseline.map((r) => [r.seed, r.test]));
  const own = input.arms.find((a) => a.arm === selected)?.results ?? [];
  const differences = own
    .filter((r) => r.seed < seedsOfSelected && base.has(r.seed))
    .map((r) => r.test - (base.get(r.seed) as number));
  return DecisionMetrics.parse({
    decided: plan.kind === "done",
    reason: plan.kind === "done" ? plan.reason : null,
    selectedAlpha: selected,
    rounds: plan.history.map((r) => ({
      round: r.round,
      seeds: r.seeds,
      active: r.active,
      selected: r.selected,
      low: r.bound.low,
      high: r.bound.high,
      stopped: r.stopped,
      trainings: r.trainings,
    })),
    trainings,
    trainingEpochs: trainings * view.data.train.epochs,
    uniformTrainings: (arms.length + 1) * seedsOfSelected,
    trainSeconds: runs.reduce((s, r) => s + r.run.trainSeconds, 0),
    design,
    statistics: differences.length < 2 || last === undefined ? null : {
      pairs: differences.length,
      observedSd: sampleStd(differences),
      confidenceSequence: { low: last.bound.low, high: last.bound.high },
      tInterval: pick(pairedTInterval(differences)),
      bootstrap: pick(pairedBootstrap(differences)),
      signFlipP: signFlipTest(differences).p,
      signFlipExact: signFlipTest(differences).exact,
      probabilityOfOutperforming: (({ estimate, low, high }) => ({
        estimate,
        low,
        high,
      }))(probabilityOfOutperforming(differences)),
    },
    shuffle: view.data.train.shuffle,
  });
}

function pick(b: { low: number; high: number }) {
  return { low: b.low, high: b.high };
}

const REASON_WORDS = {
  "excludes-zero": "the selected arm's confidence sequence excludes zero",
  precise:
    "the selected arm's confidence sequence is narrower than the stated precision",
  budget: "the budget is spent",
} as const;

function interval(b: { low: number; high: number }): string {
  return `[${pp(b.low)}, ${pp(b.high)}]`;
}

function verdict(d: DecisionMetrics): string {
  const last = d.rounds.at(-1);
  if (last === undefined) return "No round has finished yet.";
  const cs = interval(last);
  const at =
    `alpha ${d.selectedAlpha} (selected on validation), ${last.seeds} paired seeds`;
  if (!d.decided) {
    return `Not decided yet: after round ${last.round}, ${at}, confidence sequence ${cs}; run the pipeline to continue.`;
  }
  const bound = Math.max(Math.abs(last.low), Math.abs(last.high));
  const sign = last.low > 0
    ? `R-Drop helps: the whole interval ${cs} is above zero`
    : last.high < 0
    ? `R-Drop hurts: the whole interval ${cs} is below zero`
    : `Not shown either way: the interval ${cs} includes zero, so no effect larger than ${
      pp(bound).replace("+", "")
    } in either direction`;
  return `Decided after round ${last.round} because ${
    REASON_WORDS[d.reason as keyof typeof REASON_WORDS]
  }. ${sign} (${at}).`;
}

/** The markdown of the section. */
export function decisionMarkdown(d: DecisionMetrics): string {
  const design = d.design;
  const k = d.rounds[0]?.active.length ?? 1;
  const lines = [
    "## Sequential decision",
    "",
    `**${verdict(d)}**`,
    "",
    table(
      [
        "round",
        "seeds per arm",
        "arms running",
        "leader",
        "its test CS",
        "stopped after it",
      ],
      d.rounds.map((r) => [
        String(r.round),
        String(r.seeds),
        r.active.join(", "),
        r.selected,
        interval(r),
        r.stopped.length === 0
          ? "—"
          : r.stopped.map((s) =>
            `${s.arm} (${
              s.why === "behind"
                ? "clearly behind the leader on validation"
                : "successive halving on validation"
            })`
          ).join(", "),
      ]),
      "rrlllll",
    ),
    "",
    `Compute: ${d.trainings} trainings (${d.trainingEpochs} training-epochs, ${
      d.trainSeconds.toFixed(0)
    } s of training loops summed over runs); a uniform grid giving all ${
      k + 1
    } arms the selected arm's ${
      d.rounds.at(-1)?.seeds ?? 0
    } seeds would take ${d.uniformTrainings} trainings.`,
    "",
    `Method: seeds are added in rounds (${design.firstRound}, then +${design.perRound}, at most ${design.maxSeeds} per arm${
      design.maxTrainings === null
        ? ""
        : `, ${design.maxTrainings} trainings in all`
    }); after each round the arm with the best mean validation accuracy is judged on its paired test differences to the baseline with an anytime-valid **normal-mixture confidence sequence** (Robbins 1970; Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Annals of Statistics 2021), at level 1 − ${design.alpha}/${k} per arm (Bonferroni over the ${k} alphas, so the verdict is valid whichever arm is selected and whenever it stops). It assumes each paired difference is sub-Gaussian with sd at most σ = ${
      (design.sigma * 100).toFixed(2)
    } pp, stated in advance. The experiment stops when the interval excludes zero, when its half-width is at most ${
      (design.precision * 100).toFixed(2)
    } pp, or when the budget is spent. Arms whose validation confidence sequence against the leader lies below zero are stopped${
      design.halving === null
        ? ""
        : `, and after each round only the best 1/${design.halving.eta} of the arms on validation go on (successive halving, never fewer than ${design.halving.keep})`
    }.`,
  ];
  const s = d.statistics;
  if (s !== null) {
    const sdNote = s.observedSd === null
      ? ""
      : s.observedSd > design.sigma
      ? ` **The observed sd (${
        (s.observedSd * 100).toFixed(2)
      } pp) exceeds the assumed σ: the confidence sequence may be too narrow; rerun with a larger sequential.sigma.**`
      : ` The observed sd of the differences is ${
        (s.observedSd * 100).toFixed(2)
      } pp, within the assumed σ.`;
    const p = s.probabilityOfOutperforming;
    lines.push(
      "",
      `Statistics of alpha ${d.selectedAlpha}'s ${s.pairs} paired test differences:${sdNote}`,
      "",
      table(
        ["statistic", "value", "valid under optional stopping"],
        [
          [
            "confidence sequence (the verdict)",
            interval(s.confidenceSequence),
            "yes",
          ],
          ["95 % paired t-interval", interval(s.tInterval), "no (fixed n)"],
          [
            "95 % paired bootstrap interval (10,000 resamples, seed 0)",
            interval(s.bootstrap),
            "no (fixed n)",
          ],
          [
            `sign-flip permutation p (${
              s.signFlipExact ? "exact" : "Monte Carlo, 10,000 draws"
            })`,
            s.signFlipP.toFixed(4),
            "no (fixed n)",
          ],
          [
            "P(R-Drop beats the baseline on a new seed), 95 % bootstrap interval (Bouthillier et al., MLSys 2021)",
            `${p.estimate.toFixed(2)} [${p.low.toFixed(2)}, ${
              p.high.toFixed(2)
            }]`,
            "no (fixed n)",
          ],
        ],
        "lrl",
      ),
      "",
      "The fixed-n statistics are shown for comparison: read after a data-dependent stop they are optimistic; the confidence sequence is the one the decision rests on.",
    );
  }
  lines.push(
    "",
    `Sources of variation the seeds cover: weight initialisation and dropout masks${
      d.shuffle
        ? ", and the order of the training data (train.shuffle is on)"
        : "; not the data order (train.shuffle is off, every seed sees the same order)"
    }. The data split and the test set are fixed, so the verdict is about this test set.`,
  );
  return lines.join("\n") + "\n";
}
