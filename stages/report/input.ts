/**
 * The report's input: what the report stage collects from upstream outputs, validated
 * before anything is computed so a wiring mistake fails with a message, not a wrong table.
 *
 * @module
 */
import { z } from "zod";
import { Evaluation, RunRecord, TrainHistory } from "../artifacts.ts";
import { ReportError } from "./errors.ts";
import { Provenance } from "./provenance.ts";

/**
 * The published single-run test accuracies of the reference experiment (the PyTorch
 * Fashion-MNIST MLP this project reproduces), used when the input names no others.
 */
export const PUBLISHED_DEFAULT = {
  baseline: 0.8426,
  rdrop: 0.8534,
  source: "the reference notebook (mathfirst/R-Dropout)",
  url: "https://github.com/mathfirst/R-Dropout",
} as const;

/** One trained and evaluated model: the three artifacts of one (model, seed) pair. */
export const ReportRun = z.object({
  model: z.enum(["baseline", "rdrop"]),
  seed: z.number().int(),
  history: TrainHistory,
  run: RunRecord,
  evaluation: Evaluation,
});
/** One trained and evaluated model. */
export type ReportRun = z.infer<typeof ReportRun>;

/** Timing and cache status of one pipeline stage in the run that produced the report. */
export const StageTiming = z.object({
  name: z.string().min(1),
  seconds: z.number().nonnegative(),
  cached: z.boolean(),
});
/** Timing and cache status of one pipeline stage. */
export type StageTiming = z.infer<typeof StageTiming>;

/** Where the report was generated (the current process; cached runs may differ). */
export const ReportEnvironment = z.object({
  deno: z.string(),
  tfjs: z.string(),
  backend: z.string(),
  adapter: z.string().nullable(),
  os: z.string().optional(),
});
/** Where the report was generated. */
export type ReportEnvironment = z.infer<typeof ReportEnvironment>;

/** Schema of {@link ReportInput}. */
export const ReportInputSchema = z.object({
  runs: z.array(ReportRun),
  /** The whole validated params object; printed as JSON. */
  params: z.unknown(),
  /** The DAG as a Mermaid flowchart body. */
  mermaid: z.string(),
  stages: z.array(StageTiming),
  environment: ReportEnvironment,
  /** ISO date; the only field allowed to change the output of an otherwise equal input. */
  generatedAt: z.string().min(1),
  /** Published reference accuracies; `source` names where they come from in the report. */
  published: z.object({
    baseline: z.number().min(0).max(1),
    rdrop: z.number().min(0).max(1),
    source: z.string().min(1).optional(),
    /** Where the published figures can be checked. */
    url: z.url().optional(),
  }).optional(),
  /** Commit, command, machine and versions (see provenance.ts); absent in older inputs. */
  provenance: Provenance.optional(),
});

/** Everything {@link renderReport} needs; the lead's report stage collects it. */
export type ReportInput = z.input<typeof ReportInputSchema>;

/** The input after validation, with runs sorted (baseline first, then by seed). */
export interface ValidatedInput {
  /** Runs sorted baseline first, then by seed. */
  runs: ReportRun[];
  /** The params object as given. */
  params: unknown;
  /** The DAG's Mermaid text. */
  mermaid: string;
  /** Stage timings in the order given. */
  stages: StageTiming[];
  /** The process that made the report. */
  environment: ReportEnvironment;
  /** ISO date of the report. */
  generatedAt: string;
  /** Published reference accuracies, defaulted to {@link PUBLISHED_DEFAULT}. */
  published: { baseline: number; rdrop: number; source: string; url?: string };
  /** Where and how the report was made, or null when not given. */
  provenance: Provenance | null;
}

/**
 * zod's readable issue list, cut after `max` issues: one wrong array (say a confusion
 * matrix off by a factor) would otherwise produce hundreds of lines.
 */
export function shortIssues(error: z.ZodError, max = 8): string {
  const shown = z.prettifyError(new z.ZodError(error.issues.slice(0, max)));
  const more = error.issues.length - max;
  return more > 0 ? `${shown}\n… and ${more} more issue(s)` : shown;
}

const MODEL_ORDER = { baseline: 0, rdrop: 1 } as const;

/** "baseline@0": how runs are named in messages and tables. */
export function runLabel(run: { model: string; seed: number }): string {
  return `${run.model}@${run.seed}`;
}

/**
 * Validates the input, checks that each run's three artifacts agree on model and seed
 * (otherwise artifacts of different runs were mixed), rejects duplicate runs, and sorts
 * runs so the output does not depend on the order upstream stages finished in.
 */
export function validateInput(input: ReportInput): ValidatedInput {
  const parsed = ReportInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new ReportError(
      `report input is invalid; check what the report stage collects:\n${
        shortIssues(parsed.error)
      }`,
    );
  }
  const data = parsed.data;
  if (data.runs.length === 0) {
    throw new ReportError(
      "report input has no runs; the report needs at least one evaluated model " +
        "(check that the evaluate stages are dependencies of the report stage).",
    );
  }
  const seen = new Set<string>();
  for (const r of data.runs) {
    const label = runLabel(r);
    const claims: Array<[string, string, number]> = [
      ["history.json", r.history.mode, r.history.seed],
      ["run.json", r.run.mode, r.run.seed],
      ["evaluation.json", r.evaluation.model, r.evaluation.seed],
    ];
    for (const [file, model, seed] of claims) {
      if (model !== r.model || seed !== r.seed) {
        throw new ReportError(
          `report input for ${label} carries a ${file} of ${model}@${seed}; ` +
            "the report stage mixed artifacts of different runs, pass each run's own files.",
        );
      }
    }
    const e = r.evaluation;
    const k = e.classNames.length;
    if (
      e.perClassAccuracy.length !== k || e.confusion.length !== k ||
      e.confusion.some((row) => row.length !== k)
    ) {
      throw new ReportError(
        `evaluation.json of ${label} has ${k} class names but per-class accuracy or ` +
          "confusion matrix of another size; re-run its evaluate stage.",
      );
    }
    if (seen.has(label)) {
      throw new ReportError(
        `report input has ${label} twice; pass each (model, seed) once.`,
      );
    }
    seen.add(label);
  }
  const runs = [...data.runs].sort((a, b) =>
    MODEL_ORDER[a.model] - MODEL_ORDER[b.model] || a.seed - b.seed
  );
  return {
    runs,
    params: data.params,
    mermaid: data.mermaid,
    stages: data.stages,
    environment: data.environment,
    generatedAt: data.generatedAt,
    published: data.published
      ? {
        ...data.published,
        source: data.published.source ?? "the published source",
      }
      : { ...PUBLISHED_DEFAULT },
    provenance: data.provenance ?? null,
  };
}
