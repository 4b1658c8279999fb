/**
 * Finds settings that differ between runs other than the seed, so the report can say
 * prominently that it compares unlike things instead of averaging them silently.
 *
 * @module
 */
import { type ReportEnvironment, type ReportRun, runLabel } from "./input.ts";

/** Groups runs by a value: "10 (baseline@0, rdrop@0), 5 (baseline@1)". */
function describeGroups(
  runs: readonly ReportRun[],
  valueOf: (r: ReportRun) => string,
): string | null {
  const groups = new Map<string, string[]>();
  for (const r of runs) {
    const v = valueOf(r);
    const list = groups.get(v) ?? [];
    list.push(runLabel(r));
    groups.set(v, list);
  }
  if (groups.size < 2) return null;
  return [...groups].map(([v, labels]) => `${v} (${labels.join(", ")})`).join(
    "; ",
  );
}

/** Settings that must be equal across all runs, with how to read each from a run. */
const SHARED_SETTINGS: Array<[string, (r: ReportRun) => string]> = [
  ["epochs", (r) => String(r.history.epochs.length)],
  // The curves are labelled with one split; a mix would mislabel some of them.
  [
    "curve split",
    (r) => `${r.history.curveSplit} (${r.history.validationExamples} held out)`,
  ],
  ["backend", (r) => r.run.backend],
  ["requested backend", (r) => r.run.requestedBackend],
  ["test examples", (r) => String(r.evaluation.examples)],
  ["class names", (r) => r.evaluation.classNames.join("|")],
  ["Deno version", (r) => r.run.deno],
  ["tfjs version", (r) => r.run.tfjs],
];

/**
 * One message per setting that differs between runs beyond the seed: the epoch count,
 * backend, test-set size, class names, versions across all runs, alpha within a model,
 * and seeds that only one model ran. Empty when the runs are comparable.
 */
export function findMixedSettings(runs: readonly ReportRun[]): string[] {
  const warnings: string[] = [];
  for (const [name, valueOf] of SHARED_SETTINGS) {
    const groups = describeGroups(runs, valueOf);
    if (groups) warnings.push(`${name} differs between runs: ${groups}`);
  }
  for (const model of ["baseline", "rdrop"] as const) {
    const own = runs.filter((r) => r.model === model);
    const groups = describeGroups(own, (r) => String(r.history.alpha));
    if (groups) warnings.push(`alpha differs between ${model} runs: ${groups}`);
  }
  const baseSeeds = runs.filter((r) => r.model === "baseline").map((r) =>
    r.seed
  );
  const rdropSeeds = runs.filter((r) => r.model === "rdrop").map((r) => r.seed);
  if (baseSeeds.length > 0 && rdropSeeds.length > 0) {
    const paired = baseSeeds.filter((s) => rdropSeeds.includes(s));
    const same = paired.length === baseSeeds.length &&
      paired.length === rdropSeeds.length;
    if (!same) {
      warnings.push(
        `seeds differ between models: baseline ran [${
          baseSeeds.join(", ")
        }], ` +
          `rdrop ran [${
            rdropSeeds.join(", ")
          }]; the summary averages each model over its ` +
          `own seeds, the paired difference uses only [${paired.join(", ")}]`,
      );
    }
  }
  return warnings;
}

/**
 * Differences between the process that made the report and the one(s) that trained the
 * runs. Not an error: cached runs legitimately come from an earlier process.
 */
export function findEnvironmentNotes(
  runs: readonly ReportRun[],
  environment: ReportEnvironment,
): string[] {
  const notes: string[] = [];
  const fields: Array<[string, string, (r: ReportRun) => string]> = [
    ["backend", environment.backend, (r) => r.run.backend],
    ["Deno", environment.deno, (r) => r.run.deno],
    ["tfjs", environment.tfjs, (r) => r.run.tfjs],
  ];
  for (const [name, current, valueOf] of fields) {
    const trained = [...new Set(runs.map(valueOf))];
    if (trained.some((v) => v !== current)) {
      notes.push(
        `this process uses ${name} ${current}, the runs were trained with ${
          trained.join(", ")
        } (cached from an earlier run, or the backend fell back)`,
      );
    }
  }
  return notes;
}

function pick(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return undefined;
    }
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * Compares the runs with the params the report was generated with, where those params
 * have the expected shape (`train.epochs`, `train.alpha`, `seeds`): a report whose params
 * say one thing while its runs did another is mixing results. Params of another shape
 * are skipped, since the report layer does not own the params schema.
 */
export function findParamMismatches(
  runs: readonly ReportRun[],
  params: unknown,
): string[] {
  const warnings: string[] = [];
  const epochs = pick(params, ["train", "epochs"]);
  if (typeof epochs === "number") {
    const off = runs.filter((r) => r.history.epochs.length !== epochs);
    if (off.length > 0) {
      warnings.push(
        `params say train.epochs = ${epochs}, but ${
          off.map((r) => `${runLabel(r)} has ${r.history.epochs.length}`).join(
            ", ",
          )
        }`,
      );
    }
  }
  const alpha = pick(params, ["train", "alpha"]);
  if (typeof alpha === "number") {
    const off = runs.filter((r) =>
      r.model === "rdrop" && r.history.alpha !== alpha
    );
    if (off.length > 0) {
      warnings.push(
        `params say train.alpha = ${alpha}, but ${
          off.map((r) => `${runLabel(r)} used ${r.history.alpha}`).join(", ")
        }`,
      );
    }
  }
  const seeds = pick(params, ["seeds"]);
  if (Array.isArray(seeds) && seeds.every((s) => typeof s === "number")) {
    const extra = [...new Set(runs.map((r) => r.seed))].filter((s) =>
      !seeds.includes(s)
    );
    if (extra.length > 0) {
      warnings.push(
        `params say seeds = [${
          seeds.join(", ")
        }], but the report got runs of seed(s) ` +
          `[${extra.join(", ")}]`,
      );
    }
  }
  return warnings;
}

/**
 * The setting the published reference figures belong to (the reference experiment's
 * values, as dotted params paths). Only paths present in the params are compared.
 */
export const REFERENCE_SETTING: Readonly<Record<string, unknown>> = Object
  .freeze({
    "preprocess.limit": null,
    "train.epochs": 10,
    "train.batchSize": 32,
    "train.learningRate": 0.001,
    "train.hidden": [512, 512],
    "train.dropout": 0.5,
    "train.alpha": 0.05,
    "train.shuffle": false,
  });

/**
 * Params that differ from {@link REFERENCE_SETTING}, as "train.epochs = 3 (reference 10)".
 * Non-empty means the published rows are not a like-for-like comparison.
 */
export function findReferenceDifferences(
  params: unknown,
  reference: Readonly<Record<string, unknown>> = REFERENCE_SETTING,
): string[] {
  const out: string[] = [];
  for (const [path, expected] of Object.entries(reference)) {
    const actual = pick(params, path.split("."));
    if (actual === undefined) continue;
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      out.push(
        `${path} = ${JSON.stringify(actual)} (reference ${
          JSON.stringify(expected)
        })`,
      );
    }
  }
  return out;
}
