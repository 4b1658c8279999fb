/**
 * Sweeps (a params matrix): a nested object that mirrors the params tree and holds, at each
 * swept param, the LIST of values to try: `{"train": {"alpha": [0.01, 0.05]}}`. A leaf is
 * always a list of values, so a list-valued param stays unambiguous
 * (`{"train": {"hidden": [[256], [512, 512]]}}` sweeps two shapes).
 *
 * A stage fans out over the axes that change its own params (it declares `matrix`) or its
 * upstream's items; a stage whose params an axis does not change keeps one instance (and its
 * key) for every value of that axis.
 *
 * @module
 */
import type { z } from "zod";
import { UserError } from "../errors.ts";
import { canonicalJson } from "./hash.ts";
import { flattenParams, keysAt, setPath } from "./params.ts";
import { closest } from "../suggest.ts";
import type { AnyStage, ItemRecord, JsonValue } from "../types.ts";

/** One swept param: its dotted path and the values to try, in the order given. */
export interface MatrixAxis {
  /** Dotted param path, e.g. `train.alpha`. */
  path: string;
  /** The values to try (each a valid value of the param). */
  values: JsonValue[];
}

/**
 * The axes of a matrix object, in key order. Throws a {@link UserError} for a leaf that is not
 * a non-empty list of distinct values.
 */
export function matrixAxes(matrix: unknown, name = "matrix"): MatrixAxis[] {
  if (matrix === undefined || matrix === null) return [];
  const flat = flattenParams(matrix);
  const axes: MatrixAxis[] = [];
  for (const [path, values] of Object.entries(flat)) {
    if (path === "(value)") {
      throw new UserError(
        `${name} must be an object like {"train": {"alpha": [0.01, 0.05]}}`,
      );
    }
    if (!Array.isArray(values) || values.length === 0) {
      throw new UserError(
        `${name}.${path} must be a non-empty list of values to try, e.g. [${
          JSON.stringify(values)
        }]`,
      );
    }
    const seen = new Set<string>();
    for (const value of values) {
      const text = canonicalJson(value);
      if (seen.has(text)) {
        throw new UserError(
          `${name}.${path} lists ${text} twice; list each value once`,
        );
      }
      seen.add(text);
    }
    axes.push({ path, values: values as JsonValue[] });
  }
  return axes;
}

/**
 * zod issues for a matrix inside validated params: every swept path must name a param of
 * `schema` (with the closest key suggested) and every value must be valid for it. Use it in a
 * `superRefine` of the params schema; `matrixKey` is where the matrix sits (`matrix`).
 */
export function matrixIssues(
  schema: z.ZodType,
  params: Record<string, unknown>,
  matrixKey: string,
): { path: string[]; message: string }[] {
  let axes: MatrixAxis[];
  try {
    axes = matrixAxes(params[matrixKey], matrixKey);
  } catch (error) {
    return [{ path: [matrixKey], message: (error as Error).message }];
  }
  const issues: { path: string[]; message: string }[] = [];
  const base = { ...params, [matrixKey]: {} };
  for (const axis of axes) {
    const parts = axis.path.split(".");
    const known = keysAt(schema, parts.slice(0, -1));
    const last = parts[parts.length - 1];
    if (
      parts[0] === matrixKey || known === undefined || !known.includes(last)
    ) {
      const match = known === undefined ? undefined : closest(last, known);
      issues.push({
        path: [matrixKey, ...parts],
        message: `${axis.path} is not a param to sweep${
          match === undefined
            ? ""
            : `; did you mean ${[...parts.slice(0, -1), match].join(".")}?`
        }`,
      });
      continue;
    }
    for (const value of axis.values) {
      const result = schema.safeParse(
        setPath(base, { path: parts, value }),
      );
      if (!result.success) {
        const issue = result.error.issues[0];
        issues.push({
          path: [matrixKey, ...parts],
          message: `value ${
            JSON.stringify(value)
          } is not a valid ${axis.path} (${issue?.message ?? "invalid"})`,
        });
      }
    }
  }
  return issues;
}

/** Every combination of the axes' values (cartesian product, first axis slowest). */
export function combinations(axes: readonly MatrixAxis[]): ItemRecord[] {
  let out: Record<string, JsonValue>[] = [{}];
  for (const axis of axes) {
    const next: Record<string, JsonValue>[] = [];
    for (const partial of out) {
      for (const value of axis.values) {
        next.push({ ...partial, [axis.path]: value });
      }
    }
    out = next;
  }
  return out;
}

/** `params` with each of `combination`'s values set at its dotted path. */
export function applyCombination(
  params: unknown,
  combination: ItemRecord,
): unknown {
  let out = params;
  for (const [path, value] of Object.entries(combination)) {
    out = setPath(out, { path: path.split("."), value });
  }
  return out;
}

/**
 * The axes that change `stage`'s params: an axis counts when two of its values give the stage
 * different params. A stage without `matrix` is swept by none (it keeps one instance).
 */
export function stageAxes(
  stage: AnyStage<unknown>,
  allParams: unknown,
): MatrixAxis[] {
  if (stage.matrix === undefined) return [];
  const axes = matrixAxes(stage.matrix(allParams));
  return axes.filter((axis) => {
    const seen = new Set<string>();
    for (const value of axis.values) {
      const params = applyCombination(allParams, { [axis.path]: value });
      seen.add(
        canonicalJson(stage.params === undefined ? {} : stage.params(params)),
      );
    }
    return seen.size > 1;
  });
}

/**
 * How an item record appears in an instance name: `alpha=0.01,seed=3`. A path shows by its
 * last part unless two paths of the record end alike; values are compact JSON, strings bare.
 */
export function itemLabel(item: ItemRecord): string {
  const paths = Object.keys(item);
  const lastOf = (path: string) => path.slice(path.lastIndexOf(".") + 1);
  const counts = new Map<string, number>();
  for (const path of paths) {
    counts.set(lastOf(path), (counts.get(lastOf(path)) ?? 0) + 1);
  }
  return paths.map((path) => {
    const shown = counts.get(lastOf(path)) === 1 ? lastOf(path) : path;
    const value = item[path];
    return `${shown}=${
      typeof value === "string" ? value : canonicalJson(value)
    }`;
  }).join(",");
}
