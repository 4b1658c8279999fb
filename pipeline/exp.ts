/**
 * Experiments: every finished instance in the store whose stage declares a `metrics` output,
 * whatever params it ran with, as rows of a table (`exp show`), compared two at a time
 * (`exp diff`). Generic: it reads manifests and the declared metrics file, nothing else.
 *
 * @module
 */
import { join } from "node:path";
import type { z } from "zod";
import { UserError } from "./errors.ts";
import { listDir } from "./fs.ts";
import { canonicalJson } from "./plan/hash.ts";
import { readLockFile } from "./lock.ts";
import { flattenParams } from "./plan/params.ts";
import type { Manifest } from "./store/mod.ts";
import { LocalStore as Store } from "./store/local.ts";
import type { AnyStage, PipelineDeclaration } from "./types.ts";

/** One finished experiment: an instance of a stage that declares its metrics file. */
export interface ExpRow {
  /** Short id: the first 8 hex digits of the key (unique among the rows shown). */
  id: string;
  /** Its key. */
  key: string;
  /** Instance name, e.g. `report`. */
  instance: string;
  /** When it finished (ISO). */
  finishedAt: string;
  /** Seconds of computation: it and every upstream result it was made from. */
  seconds: number;
  /** Its params as its key saw them. */
  params: unknown;
  /** Param paths whose value differs from what the current params give the stage. */
  changed: Record<string, { row: unknown; current: unknown }>;
  /** The metrics file's values (numbers and strings, nested keys dotted). */
  metrics: Record<string, number | string>;
  /** Whether its outputs are the ones checked out now (in `pipeline.lock`). */
  checkedOut: boolean;
  /** The root-relative file to open (its workspace) when checked out, else null. */
  open: string | null;
  /**
   * Whether its params are the whole params (the stage's selector gives them back unchanged),
   * so that they alone reproduce it: `exp params ID > FILE` then `deno task pipeline --params
   * FILE` restores it from the cache while the code is unchanged.
   */
  restorable: boolean;
}

/** Options of {@link listExperiments}. */
export interface ListOptions {
  /** The current params (validated): `changed` is relative to them. */
  currentParams: unknown;
}

/** The stages that declare a metrics file, by name. */
export function metricStages(
  pipeline: PipelineDeclaration,
): Map<string, AnyStage<unknown>> {
  return new Map(
    (pipeline.stages as readonly AnyStage<unknown>[])
      .filter((stage) => stage.metrics !== undefined)
      .map((stage) => [stage.name, stage]),
  );
}

/** Every readable manifest in the store, by key. */
export async function readManifests(
  store: Store,
): Promise<Map<string, Manifest>> {
  const out = new Map<string, Manifest>();
  for (const entry of await listDir(join(store.dir, "runs"))) {
    if (!entry.name.endsWith(".json")) continue;
    const read = await store.readManifest(entry.name.slice(0, -5));
    if (read.state === "ok") out.set(read.manifest.key, read.manifest);
  }
  return out;
}

/**
 * The keys gc keeps for experiments: every manifest of a stage that declares metrics (with that
 * file among its outputs), and everything upstream of it that is still in the store.
 */
export async function experimentKeys(
  pipeline: PipelineDeclaration,
  root: string,
): Promise<Set<string>> {
  const stages = metricStages(pipeline);
  const manifests = await readManifests(new Store(root));
  const keep = new Set<string>();
  // The same results exp show lists (those with their metrics file), so exp remove can free any.
  const stack = [...manifests.values()]
    .filter((m) => {
      const metrics = stages.get(m.stage)?.metrics;
      return metrics !== undefined && metrics in m.outputs;
    })
    .map((m) => m.key);
  while (stack.length > 0) {
    const key = stack.pop() as string;
    if (keep.has(key)) continue;
    keep.add(key);
    const manifest = manifests.get(key);
    if (manifest !== undefined) stack.push(...Object.values(manifest.upstream));
  }
  return keep;
}

/** Lists every finished experiment in the store, newest first. */
export async function listExperiments(
  pipeline: PipelineDeclaration,
  root: string,
  options: ListOptions,
): Promise<ExpRow[]> {
  const store = new Store(root);
  const stages = metricStages(pipeline);
  const manifests = await readManifests(store);
  const lock = await readLockFile(root);
  const checkedOut = new Set(
    Object.values(lock.instances).map((entry) => entry.key),
  );
  const rows: ExpRow[] = [];
  for (const manifest of manifests.values()) {
    const stage = stages.get(manifest.stage);
    if (stage === undefined) continue;
    const metricsFile = stage.metrics as string;
    const record = manifest.outputs[metricsFile];
    if (record === undefined) continue;
    const metrics = await readMetrics(store.objectPath(record.sha256));
    if (metrics === undefined) continue;
    const current = stage.params === undefined
      ? {}
      : stage.params(options.currentParams);
    const isCurrent = checkedOut.has(manifest.key);
    const workspace = stage.workspace ?? `.pipeline/out/${manifest.instance}`;
    rows.push({
      id: manifest.key.slice(0, 8),
      key: manifest.key,
      instance: manifest.instance,
      finishedAt: manifest.finishedAt,
      seconds: totalSeconds(manifest, manifests),
      params: manifest.params,
      changed: changedParams(manifest.params, current),
      metrics,
      checkedOut: isCurrent,
      open: isCurrent
        ? `${workspace}/${Object.keys(manifest.outputs)[0]}`
        : null,
      // Listing writes nothing: it works on a read-only cache, and reading is all it does.
      restorable: wholeParams(pipeline.params, stage, manifest),
    });
  }
  return rows.sort((a, b) =>
    b.finishedAt.localeCompare(a.finishedAt) || a.key.localeCompare(b.key)
  );
}

async function readMetrics(
  path: string,
): Promise<Record<string, number | string> | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined; // A missing or unreadable object: verify reports it, exp skips it.
  }
  const out: Record<string, number | string> = {};
  for (const [key, leaf] of Object.entries(flattenParams(value))) {
    if (typeof leaf === "number" || typeof leaf === "string") out[key] = leaf;
  }
  return out;
}

function totalSeconds(
  manifest: Manifest,
  manifests: Map<string, Manifest>,
): number {
  const seen = new Set<string>();
  let total = 0;
  const stack = [manifest.key];
  while (stack.length > 0) {
    const key = stack.pop() as string;
    if (seen.has(key)) continue;
    seen.add(key);
    const found = manifests.get(key);
    if (found === undefined) continue;
    total += found.seconds;
    stack.push(...Object.values(found.upstream));
  }
  return total;
}

/** Param paths where `row` and `current` differ (both flattened to dotted paths). */
export function changedParams(
  row: unknown,
  current: unknown,
): Record<string, { row: unknown; current: unknown }> {
  const a = leaves(row);
  const b = leaves(current);
  const out: Record<string, { row: unknown; current: unknown }> = {};
  for (
    const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
  ) {
    if (canonicalJson(a[key] ?? null) !== canonicalJson(b[key] ?? null)) {
      out[key] = { row: a[key] ?? null, current: b[key] ?? null };
    }
  }
  return out;
}

/** Dotted leaves without empty objects (an empty matrix is no swept param). */
function leaves(value: unknown): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(flattenParams(value)).filter(([, leaf]) =>
      !(leaf !== null && typeof leaf === "object" && !Array.isArray(leaf) &&
        Object.keys(leaf).length === 0)
    ),
  );
}

/** Whether the manifest's params are the whole params (the stage's selector keeps them all). */
function wholeParams(
  schema: z.ZodType,
  stage: AnyStage<unknown>,
  manifest: Manifest,
): boolean {
  const parsed = schema.safeParse(manifest.params);
  if (!parsed.success || stage.params === undefined) return false;
  return canonicalJson(stage.params(parsed.data)) ===
    canonicalJson(manifest.params);
}

/** The one row whose id or key starts with `prefix`; a {@link UserError} otherwise. */
export function findRow(rows: readonly ExpRow[], prefix: string): ExpRow {
  const found = rows.filter((row) =>
    row.key.startsWith(prefix) || row.id === prefix
  );
  if (found.length === 1) return found[0];
  const ids = rows.map((row) => row.id).join(", ");
  throw new UserError(
    found.length === 0
      ? `no experiment ${prefix}; ids: ${ids || "(none yet)"} (run "exp show")`
      : `experiment id ${prefix} is ambiguous (${
        found.map((r) => r.id).join(", ")
      }); give more of the key`,
  );
}

/** Keeps the rows whose param path (or metric) `key` equals `value` (compared as JSON). */
export function whereRows(
  rows: readonly ExpRow[],
  condition: { key: string; value: unknown },
): ExpRow[] {
  const wanted = canonicalJson(condition.value);
  return rows.filter((row) => {
    const params = flattenParams(row.params);
    const value = condition.key in params
      ? params[condition.key]
      : row.metrics[condition.key];
    return value !== undefined && canonicalJson(value) === wanted;
  });
}

/** Sorts rows by a numeric metric, highest first; rows without it go last. */
export function sortRows(rows: readonly ExpRow[], metric: string): ExpRow[] {
  if (!rows.some((row) => typeof row.metrics[metric] === "number")) {
    const known = [...new Set(rows.flatMap((row) => Object.keys(row.metrics)))]
      .sort();
    throw new UserError(
      `--sort ${metric}: no experiment has that numeric metric; metrics: ${
        known.join(", ")
      }`,
    );
  }
  const value = (row: ExpRow) =>
    typeof row.metrics[metric] === "number"
      ? row.metrics[metric] as number
      : -Infinity;
  return [...rows].sort((a, b) => value(b) - value(a));
}

/** What differs between two rows: params (path -> [a, b]) and metrics (name -> [a, b]). */
export function diffRows(
  a: ExpRow,
  b: ExpRow,
): {
  params: Record<string, [unknown, unknown]>;
  metrics: Record<string, [number | string | null, number | string | null]>;
} {
  const params: Record<string, [unknown, unknown]> = {};
  for (
    const [key, change] of Object.entries(changedParams(a.params, b.params))
  ) {
    params[key] = [change.row, change.current];
  }
  const metrics: Record<
    string,
    [number | string | null, number | string | null]
  > = {};
  const keys = [
    ...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)]),
  ].sort();
  for (const key of keys) {
    metrics[key] = [a.metrics[key] ?? null, b.metrics[key] ?? null];
  }
  return { params, metrics };
}
