/**
 * Checks of the params that would otherwise fail late: a validation split that takes every
 * training example (preprocess ran, then training failed), and layers too large to allocate
 * (`RangeError: Array buffer allocation failed` with a stack, minutes in). Each issue names
 * the param and the fix; every combination of a sweep is checked.
 *
 * @module
 */
import { type JsonValue, matrixAxes } from "../pipeline/mod.ts";

/** Training images of Fashion-MNIST (the train split before `preprocess.limit`). */
export const TRAIN_EXAMPLES = 60_000;

/** Pixels per image, the first layer's width. */
const INPUTS = 28 * 28;
/** Classes, the last layer's width. */
const CLASSES = 10;

/** One problem, at a params path. */
export interface ParamsIssue {
  /** Where, e.g. `["preprocess", "validation"]`. */
  path: string[];
  /** What is wrong and how to fix it. */
  message: string;
}

/** The params these checks read (the validated params file, before the sweep is expanded). */
export interface CheckedParams {
  preprocess: { limit: number | null; validation: number };
  train: { hidden: number[]; batchSize: number };
  matrix: Record<string, unknown>;
}

/**
 * Bytes one training run needs, roughly: four copies of the weights (weights, gradients and
 * Adam's two moments) and a few per-example activations of each layer (two dropout passes for
 * R-Drop, their masks and gradients), 4-byte floats.
 */
export function trainingBytes(hidden: readonly number[], batchSize: number) {
  const widths = [INPUTS, ...hidden, CLASSES];
  let weights = 0;
  for (let i = 1; i < widths.length; i++) {
    weights += widths[i - 1] * widths[i] + widths[i];
  }
  const activations = batchSize * widths.reduce((a, b) => a + b, 0) * 8;
  return 4 * (4 * weights + activations);
}

/** The problems of `params` and of every combination its matrix sweeps. */
export function paramsIssues(
  params: CheckedParams,
  options: { memoryBytes?: number } = {},
): ParamsIssue[] {
  const issues: ParamsIssue[] = [];
  let axes;
  try {
    axes = matrixAxes(params.matrix);
  } catch {
    return []; // the matrix check reports it
  }
  const values = <T>(path: string, base: T): T[] => {
    const axis = axes.find((a) => a.path === path);
    return axis === undefined ? [base] : axis.values as T[];
  };
  const swept = (path: string) => axes.some((a) => a.path === path);
  const at = (path: string) =>
    swept(path) ? ["matrix", ...path.split(".")] : path.split(".");
  for (const limit of values("preprocess.limit", params.preprocess.limit)) {
    const examples = Math.min(limit ?? TRAIN_EXAMPLES, TRAIN_EXAMPLES);
    for (
      const validation of values(
        "preprocess.validation",
        params.preprocess.validation,
      )
    ) {
      if (validation < examples) continue;
      issues.push({
        path: at("preprocess.validation"),
        message:
          `holds out ${validation} examples for validation, but training has ${examples}${
            limit === null ? "" : ` (preprocess.limit ${limit})`
          }: nothing would be left to train on; set preprocess.validation below ${examples} (e.g. ${
            Math.floor(examples / 6)
          }) or 0 for no validation split`,
      });
    }
  }
  const memory = options.memoryBytes;
  if (memory === undefined) return issues;
  for (const hidden of values<JsonValue>("train.hidden", params.train.hidden)) {
    for (const batchSize of values("train.batchSize", params.train.batchSize)) {
      const needed = trainingBytes(hidden as number[], batchSize);
      if (needed <= memory) continue;
      issues.push({
        path: at("train.hidden"),
        message: `layers ${
          JSON.stringify(hidden)
        } (batch ${batchSize}) need about ${
          gib(needed)
        } to train, more than this machine's ${
          gib(memory)
        } of memory; use smaller layers (the reference is [512, 512])`,
      });
    }
  }
  return issues;
}

function gib(bytes: number): string {
  const value = bytes / 2 ** 30;
  return `${value >= 100 ? value.toExponential(1) : value.toFixed(1)} GiB`;
}

/**
 * This machine's memory in bytes, where the process may read it (the pipeline task grants
 * `--allow-sys=systemMemoryInfo`); undefined elsewhere, and the memory check is skipped.
 */
export function machineMemory(): number | undefined {
  try {
    const state = Deno.permissions.querySync({
      name: "sys",
      kind: "systemMemoryInfo",
    }).state;
    return state === "granted" ? Deno.systemMemoryInfo().total : undefined;
  } catch {
    return undefined;
  }
}
