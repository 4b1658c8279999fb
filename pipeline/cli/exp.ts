/**
 * `deno task pipeline exp ...`: `show` (every finished experiment in the cache, as a table or
 * JSON; `--sort METRIC`, `--where KEY=VALUE`), `diff A B` (params and metrics side by side),
 * `remove ID...` (let gc collect an experiment).
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import {
  diffRows,
  type ExpRow,
  findRow,
  listExperiments,
  sortRows,
  whereRows,
} from "../exp.ts";
import {
  loadParams,
  type ParamOverride,
  parseOverride,
} from "../plan/params.ts";
import { formatDuration } from "../progress.ts";
import { LocalStore as Store } from "../store/local.ts";
import type { PipelineDeclaration } from "../types.ts";

/** The `exp --help` text. */
export const EXP_HELP = `Usage: deno task pipeline exp COMMAND [FLAGS]

Every finished result of a stage that declares a metrics file (here: each report), whatever
params it ran with, stays in the cache and is listed here; gc keeps them (and everything they
were made from) until you remove them with "exp remove".

Commands:
  show                 one row per experiment, newest first: id, when, compute time, its
                       metrics, the params that differ from the current params file, and
                       where to open it (or the command that restores it from the cache)
  diff A B             params and metrics of two experiments side by side (ids or key prefixes)
  params ID            print its params as a params file: save it and pass it to
                       --params to restore the experiment from the cache
  remove ID...         forget these experiments: the next gc may delete them and whatever
                       only they used

Flags:
  --json               show, diff: print JSON
  --sort METRIC        show: highest METRIC first
  --where KEY=VALUE    show: only rows whose param path or metric KEY equals VALUE
                       (JSON where it parses; repeatable)
  --params FILE        compare with FILE instead of the pipeline's params file
  --set KEY.PATH=VALUE compare with these params overrides (repeatable)

Examples:
  exp show --sort rdrop.test_acc --where train.epochs=10
  exp diff 1a2b3c4d 5e6f7a8b`;

interface ExpArgs {
  command: "show" | "diff" | "params" | "remove" | "help";
  ids: string[];
  json: boolean;
  sort?: string;
  where: ParamOverride[];
  paramsFile?: string;
  overrides: ParamOverride[];
}

/** Parses `exp` arguments; a {@link UserError} names a bad flag or command. */
export function parseExpArgs(args: readonly string[]): ExpArgs {
  const out: ExpArgs = {
    command: "help",
    ids: [],
    json: false,
    where: [],
    overrides: [],
  };
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new UserError(`${arg} needs a value`);
      return next;
    };
    if (arg === "--json") out.json = true;
    else if (arg === "--sort") out.sort = value();
    else if (arg === "--where") out.where.push(parseWhere(value()));
    else if (arg === "--params") out.paramsFile = value();
    else if (arg === "--set") out.overrides.push(parseOverride(value()));
    else if (arg === "-h" || arg === "--help") positionals.unshift("help");
    else if (arg.startsWith("-")) {
      throw new UserError(`exp: unknown flag ${arg}; see "exp --help"`);
    } else positionals.push(arg);
  }
  const [command, ...ids] = positionals;
  if (command === undefined) return out;
  if (!["show", "diff", "params", "remove", "help"].includes(command)) {
    throw new UserError(
      `exp: unknown command ${command}; use show, diff, params or remove (see "exp --help")`,
    );
  }
  out.command = command as ExpArgs["command"];
  out.ids = ids;
  if (out.command === "diff" && ids.length !== 2) {
    throw new UserError(
      "exp diff needs two experiment ids, e.g. exp diff 1a2b3c4d 5e6f7a8b",
    );
  }
  if (out.command === "params" && ids.length !== 1) {
    throw new UserError(
      "exp params needs one experiment id, e.g. exp params 1a2b3c4d > old.json",
    );
  }
  if (out.command === "remove" && ids.length === 0) {
    throw new UserError("exp remove needs at least one experiment id");
  }
  if (out.command === "show" && ids.length > 0) {
    throw new UserError(
      `exp show takes no ids (got ${ids.join(" ")}); use exp diff A B`,
    );
  }
  return out;
}

function parseWhere(text: string): ParamOverride {
  try {
    return parseOverride(text);
  } catch {
    throw new UserError(
      `--where ${
        JSON.stringify(text)
      }: expected KEY=VALUE, e.g. --where train.alpha=0.01`,
    );
  }
}

/** Runs `exp`; returns the exit code. */
export async function runExpCli(
  pipeline: PipelineDeclaration,
  args: readonly string[],
  options: { root: string; stdout: (text: string) => void },
): Promise<number> {
  const parsed = parseExpArgs(args);
  const { stdout, root } = options;
  if (parsed.command === "help") {
    stdout(`${EXP_HELP}\n`);
    return 0;
  }
  const loadedParams = await loadParams(
    pipeline.params,
    parsed.paramsFile ?? join(root, pipeline.paramsFile),
    {
      overrides: parsed.overrides,
      displayName: parsed.paramsFile ?? pipeline.paramsFile,
      required: parsed.paramsFile !== undefined,
    },
  );
  const currentParams = await pipeline.resolveParams?.(loadedParams) ??
    loadedParams;
  let rows = await listExperiments(pipeline, root, { currentParams });
  if (parsed.command === "remove") {
    const store = new Store(root);
    const lock = await store.lockRun({ command: "exp remove" });
    try {
      for (const id of parsed.ids) {
        const row = findRow(rows, id);
        await store.removeManifest(row.key);
        stdout(
          `removed experiment ${row.id} (${row.instance}); "gc" may now delete what only it used\n`,
        );
      }
    } finally {
      await lock.release();
    }
    return 0;
  }
  if (parsed.command === "params") {
    const row = findRow(rows, parsed.ids[0]);
    if (!row.restorable) {
      throw new UserError(
        `experiment ${row.id} (${row.instance}) was made from part of the params, which ` +
          "alone do not make a params file; exp show --json lists them",
      );
    }
    stdout(JSON.stringify(row.params, null, 2) + "\n");
    return 0;
  }
  if (parsed.command === "diff") {
    const [a, b] = parsed.ids.map((id) => findRow(rows, id));
    const diff = diffRows(a, b);
    if (parsed.json) {
      stdout(JSON.stringify({ a: a.id, b: b.id, ...diff }, null, 2) + "\n");
      return 0;
    }
    stdout(formatDiff(a, b, diff));
    return 0;
  }
  for (const condition of parsed.where) {
    rows = whereRows(rows, {
      key: condition.path.join("."),
      value: condition.value,
    });
  }
  if (parsed.sort !== undefined) rows = sortRows(rows, parsed.sort);
  if (parsed.json) {
    stdout(JSON.stringify(rows, null, 2) + "\n");
    return 0;
  }
  stdout(formatRows(rows));
  return 0;
}

function formatValue(value: unknown): string {
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : value.toFixed(4);
  }
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

function alignTable(header: string[], body: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((row) => row[i].length))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n") + "\n";
}

/** The `exp show` table, then where to open (or how to restore) each row. */
export function formatRows(rows: readonly ExpRow[]): string {
  if (rows.length === 0) {
    return "no finished experiments in the cache yet (run the pipeline first)\n";
  }
  const metrics = [...new Set(rows.flatMap((row) => Object.keys(row.metrics)))];
  const header = ["id", "finished", "compute", ...metrics, "params ≠ current"];
  const body = rows.map((row) => [
    row.checkedOut ? `${row.id}*` : row.id,
    row.finishedAt.slice(0, 16).replace("T", " "),
    formatDuration(row.seconds),
    ...metrics.map((m) => m in row.metrics ? formatValue(row.metrics[m]) : "–"),
    Object.entries(row.changed)
      .map(([key, c]) => `${key}=${formatValue(c.row)}`)
      .join(" ") || "(same)",
  ]);
  const where = rows.map((row) =>
    row.open !== null
      ? `${row.id}*  open ${row.open}`
      : row.restorable
      ? `${row.id}   restore from the cache: deno task pipeline exp params ${row.id} > ${row.id}.json && deno task pipeline --params ${row.id}.json`
      : `${row.id}   not restorable from a params file (its stage selects part of the params)`
  );
  return alignTable(header, body) + "\n" + where.join("\n") +
    "\n(* = checked out now)\n";
}

function formatDiff(
  a: ExpRow,
  b: ExpRow,
  diff: ReturnType<typeof diffRows>,
): string {
  const params = Object.entries(diff.params).map(([key, [x, y]]) => [
    key,
    formatValue(x),
    formatValue(y),
    "",
  ]);
  const metrics = Object.entries(diff.metrics).map(([key, [x, y]]) => [
    key,
    x === null ? "–" : formatValue(x),
    y === null ? "–" : formatValue(y),
    typeof x === "number" && typeof y === "number"
      ? `${y - x >= 0 ? "+" : ""}${formatValue(y - x)}`
      : "",
  ]);
  const header = ["", a.id, b.id, "change"];
  return [
    params.length === 0
      ? "params: the same\n"
      : "params:\n" + alignTable(header, params),
    "metrics:\n" + alignTable(header, metrics),
  ].join("\n");
}
