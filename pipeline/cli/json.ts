/**
 * What `--json` prints, as zod schemas: `status --json`, `run --dry-run --json`, `verify --json`
 * and `gc --json`. A script reading the output parses it with the same schema; the shapes are
 * documented in pipeline/README.md ("Machine-readable output").
 *
 * @module
 */
import { z } from "zod";
import type { PlanEntry } from "../events.ts";
import type { StatusEntry } from "../plan/decide.ts";
import type { GcResult } from "../gc.ts";
import { formatReason, StaleReason } from "../plan/reasons.ts";
import type { VerifyResult } from "../verify.ts";

/** One entry of `status --json`: `reasons` in words (as `status` prints them), `why` as typed values. */
export const StatusJson = z.strictObject({
  /** Instance name, e.g. `train_rdrop@alpha=0.1,seed=0`. */
  stage: z.string(),
  /** `fresh`, `stale` or `pending` (runs only if an upstream's outputs change). */
  state: z.enum(["fresh", "stale", "pending"]),
  reasons: z.array(z.string()),
  why: z.array(StaleReason),
});

/** `status --json`: one entry per instance, in run order. */
export const StatusListJson = z.array(StatusJson);

/** `status --json` of these entries. */
export function statusJson(entries: readonly StatusEntry[]): string {
  return print(
    StatusListJson,
    entries.map((entry) => ({
      stage: entry.stage,
      state: entry.state,
      reasons: entry.reasons.map(formatReason),
      why: entry.reasons,
    })),
  );
}

/** One entry of `run --dry-run --json`: what the run would do with one instance, and why. */
export const DryRunEntryJson = z.strictObject({
  /** Instance name. */
  stage: z.string(),
  /** `run` (compute), `restore` (check out the cached result), `pending` or `fresh`. */
  action: z.enum(["run", "restore", "fresh", "pending"]),
  reasons: z.array(z.string()),
  why: z.array(StaleReason),
});

/** `run --dry-run --json`: the plan, and how many instances take each action. */
export const DryRunJson = z.strictObject({
  plan: z.array(DryRunEntryJson),
  counts: z.strictObject({
    run: z.number().int(),
    restore: z.number().int(),
    pending: z.number().int(),
    fresh: z.number().int(),
  }),
});

/** `run --dry-run --json` of a plan. */
export function dryRunJson(entries: readonly PlanEntry[]): string {
  const count = (action: PlanEntry["action"]) =>
    entries.filter((entry) => entry.action === action).length;
  return print(DryRunJson, {
    plan: entries.map((entry) => ({
      stage: entry.instance,
      action: entry.action,
      reasons: entry.reasons.map(formatReason),
      why: entry.reasons,
    })),
    counts: {
      run: count("run"),
      restore: count("restore"),
      pending: count("pending"),
      fresh: count("fresh"),
    },
  });
}

/** `verify --json`: exit code 1 when `problems` is not empty. */
export const VerifyJson = z.strictObject({
  /** Files and cache entries checked. */
  checked: z.number().int(),
  problems: z.array(z.strictObject({
    /** Instance name. */
    stage: z.string(),
    /** Output path, or the cache entry's file name when `where` is `manifest`. */
    output: z.string(),
    /** The checked-out file, the cached object, or the cache entry itself. */
    where: z.enum(["workspace", "store", "manifest"]),
    problem: z.enum(["missing", "corrupt"]),
    detail: z.string().optional(),
  })),
  /** Instances pipeline.lock names that never ran or were restored here (not a problem). */
  notRunHere: z.array(z.string()),
});

/** `verify --json` of a result. */
export function verifyJson(result: VerifyResult): string {
  return print(VerifyJson, {
    checked: result.checked,
    problems: result.problems.map(({ instance, ...problem }) => ({
      stage: instance,
      ...problem,
    })),
    notRunHere: result.notRunHere,
  });
}

/** `gc --json` (needs `--dry-run` or `--yes`: it cannot ask). */
export const GcJson = z.strictObject({
  /** True when nothing was removed because of `--dry-run`. */
  dryRun: z.boolean(),
  /** Whether the listed items were deleted. */
  deleted: z.boolean(),
  manifests: z.number().int(),
  objects: z.number().int(),
  /** Scratch dirs, temp files and job specs. */
  dirs: z.number().int(),
  bytes: z.number().int(),
  items: z.array(z.strictObject({
    kind: z.enum(["manifest", "object", "scratch", "temp"]),
    /** Relative to the project root. */
    path: z.string(),
    bytes: z.number().int(),
    /** The stage instance of a manifest, when known. */
    stage: z.string().optional(),
  })),
});

/** `gc --json` of a result. */
export function gcJson(result: GcResult, dryRun: boolean): string {
  return print(GcJson, {
    dryRun,
    deleted: !dryRun && !result.kept,
    manifests: result.manifests,
    objects: result.objects,
    dirs: result.dirs,
    bytes: result.bytes,
    items: result.items.map(({ instance, ...item }) => ({
      ...item,
      ...(instance === undefined ? {} : { stage: instance }),
    })),
  });
}

/** Checks `value` against the documented shape before printing it (a drift fails here). */
function print<T extends z.ZodType>(schema: T, value: z.input<T>): string {
  return JSON.stringify(schema.parse(value), null, 2) + "\n";
}
