/**
 * Params: read the params file, apply `--set` overrides, validate with the pipeline's zod schema,
 * and describe differences between two params values key by key.
 *
 * @module
 */
import type { z } from "zod";
import { permissionError, UserError } from "../errors.ts";
import { readTextOrUndefined } from "../fs.ts";
import { closest } from "../suggest.ts";
import { formatParamValue } from "./reasons.ts";

/** One `--set key.path=value` override, parsed. */
export interface ParamOverride {
  /** Key path, e.g. `["train", "alpha"]`. */
  path: string[];
  /** The value: parsed as JSON where it parses, else the raw string. */
  value: unknown;
}

/** Parses `key.path=value`; the value is JSON where it parses (`0.1`, `true`, `[1,2]`), else a string. */
export function parseOverride(text: string): ParamOverride {
  const eq = text.indexOf("=");
  if (eq <= 0) {
    throw new UserError(
      `--set ${
        JSON.stringify(text)
      }: expected key.path=value, e.g. --set train.alpha=0.1`,
    );
  }
  const path = text.slice(0, eq).split(".");
  if (path.some((part) => part === "")) {
    throw new UserError(
      `--set ${
        JSON.stringify(text)
      }: empty part in key path; write it like train.alpha=0.1`,
    );
  }
  const raw = text.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return { path, value };
}

/** Returns a copy of `params` with the override's value set at its path, creating objects on the way. */
export function setPath(
  params: unknown,
  override: ParamOverride,
): Record<string, unknown> {
  const { path, value } = override;
  const root = isPlainObject(params) ? structuredClone(params) : {};
  let node: Record<string, unknown> = root;
  for (const [index, part] of path.entries()) {
    if (index === path.length - 1) {
      node[part] = value;
    } else {
      const next = node[part];
      if (!isPlainObject(next)) {
        if (next !== undefined) {
          throw new UserError(
            `--set ${path.join(".")}: ${
              path.slice(0, index + 1).join(".")
            } is not an object, it is ${JSON.stringify(next)}`,
          );
        }
        node[part] = {};
      }
      node = node[part] as Record<string, unknown>;
    }
  }
  return root;
}

/** Options of {@link loadParams}. */
export interface LoadParamsOptions {
  /** `--set` overrides, applied in order after the file is read. */
  overrides?: readonly ParamOverride[];
  /** Name of the file in messages (defaults to `file`). */
  displayName?: string;
  /** The file must exist (it was named on the command line); else a missing file means defaults. */
  required?: boolean;
}

/**
 * Reads the params file (a missing file means "all defaults" unless `required`), applies
 * overrides and validates. Any problem is a {@link UserError} naming the file and every
 * offending key; a file the process may not read names the permission to change.
 */
export async function loadParams<S extends z.ZodType>(
  schema: S,
  file: string,
  options: LoadParamsOptions = {},
): Promise<z.output<S>> {
  const name = options.displayName ?? file;
  const text = await readParamsText(file, name, options.required ?? false);
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new UserError(
        `${name}: not valid JSON (${(error as Error).message}); fix the file`,
      );
    }
  }
  for (const override of options.overrides ?? []) {
    raw = setPath(raw, override);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) =>
      formatIssue(issue, schema)
    );
    throw new UserError(
      `invalid params (${name} and --set):\n  ${lines.join("\n  ")}`,
    );
  }
  return result.data;
}

async function readParamsText(
  file: string,
  name: string,
  required: boolean,
): Promise<string | undefined> {
  let text: string | undefined;
  try {
    text = await readTextOrUndefined(file);
  } catch (error) {
    const denied = permissionError(error);
    if (denied !== undefined) {
      throw new UserError(`params file ${name}: ${denied.message}`, {
        cause: error,
      });
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new UserError(
        `params file ${name} is a directory; name a JSON file`,
      );
    }
    throw error;
  }
  if (text === undefined && required) {
    throw new UserError(
      `params file ${name} does not exist (${file}); check the path given to --params`,
    );
  }
  return text;
}

/**
 * One issue in params words. An unknown key names the closest valid key (a likely typo) and
 * every key of its section, so the fix is on the screen.
 */
export function formatIssue(
  issue: z.core.$ZodIssue,
  schema: z.ZodType,
): string {
  const at = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const known = keysAt(schema, issue.path);
    const section = at === "" ? "the params file" : at;
    return issue.keys
      .map((key) => {
        const full = at === "" ? key : `${at}.${key}`;
        if (known === undefined) return `unknown key ${full}`;
        const match = closest(key, known);
        const suggestion = match === undefined
          ? ";"
          : `; did you mean ${at === "" ? match : `${at}.${match}`}?`;
        return `unknown key ${full}${suggestion} keys of ${section}: ${
          known.join(", ")
        }`;
      })
      .join("\n  ");
  }
  return `${at === "" ? "(root)" : at}: ${issue.message}`;
}

/** The keys an object schema accepts at `path`, looking through defaults and optionals. */
export function keysAt(
  schema: z.ZodType,
  path: readonly PropertyKey[],
): string[] | undefined {
  let node: unknown = schema;
  for (const part of [...path, undefined]) {
    node = unwrap(node);
    const def = (node as { _zod?: { def?: SchemaDef } })?._zod?.def;
    if (def?.type !== "object" || def.shape === undefined) return undefined;
    if (part === undefined) return Object.keys(def.shape);
    node = def.shape[String(part)];
  }
  return undefined;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
}

function unwrap(node: unknown): unknown {
  for (let i = 0; i < 16; i++) {
    const def = (node as { _zod?: { def?: SchemaDef } })?._zod?.def;
    if (def === undefined) return node;
    if (def.innerType !== undefined) node = def.innerType;
    else if (def.type === "pipe" && def.in !== undefined) node = def.in;
    else return node;
  }
  return node;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Flattens nested objects to dotted key paths; arrays and other values are leaves.
 * `{a: {b: 1}, c: [1]}` -> `{"a.b": 1, "c": [1]}`.
 */
export function flattenParams(
  value: unknown,
  prefix = "",
): Record<string, unknown> {
  if (!isPlainObject(value)) {
    return { [prefix === "" ? "(value)" : prefix]: value };
  }
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    if (isPlainObject(member) && Object.keys(member).length > 0) {
      Object.assign(out, flattenParams(member, path));
    } else {
      out[path] = member;
    }
  }
  return out;
}

/**
 * One line per changed key path, sorted: `alpha 0.05 -> 0.1`, `train.epochs 10 -> 20`.
 * Keys only on one side show `(unset)` on the other.
 */
export function diffParams(before: unknown, after: unknown): string[] {
  return paramChanges(before, after).map((change) =>
    `${change.path} ${formatParamValue(change.from)} -> ${
      formatParamValue(change.to)
    }`
  );
}

/** One changed key path: its old and new value (undefined: unset on that side). */
export interface ParamChange {
  /** Dotted key path. */
  path: string;
  /** The value before. */
  from: unknown;
  /** The value after. */
  to: unknown;
}

/** The changes {@link diffParams} lists, as values. */
export function paramChanges(before: unknown, after: unknown): ParamChange[] {
  const a = flattenParams(before);
  const b = flattenParams(after);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const changes: ParamChange[] = [];
  for (const key of keys) {
    if (formatParamValue(a[key]) === formatParamValue(b[key])) continue;
    // `matrix {} ` on one side and `matrix.train.alpha [...]` on the other: the member lines
    // already say it all.
    if (emptiedObject(a, b, key) || emptiedObject(b, a, key)) continue;
    changes.push({ path: key, from: a[key], to: b[key] });
  }
  return changes;
}

/** `key` is an empty object in `empty` and holds members (flattened below it) in `full`. */
function emptiedObject(
  empty: Record<string, unknown>,
  full: Record<string, unknown>,
  key: string,
): boolean {
  const value = empty[key];
  return isPlainObject(value) && Object.keys(value).length === 0 &&
    !(key in full) && Object.keys(full).some((k) => k.startsWith(`${key}.`));
}
