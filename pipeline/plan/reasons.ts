/**
 * Why an instance is stale, as typed values. The engine, events and status carry
 * {@link StaleReason}s; only the edges (the renderer, `status` text, error messages) turn them
 * into words, through {@link formatReason}, so nothing builds a reason string and parses it back.
 *
 * @module
 */
import { z } from "zod";

/** A changed param: its dotted path and the old and new value (absent: unset on that side). */
const ParamsReason = z.strictObject({
  kind: z.literal("params"),
  path: z.string(),
  from: z.unknown().optional(),
  to: z.unknown().optional(),
});

/**
 * Every reason an instance can be stale, as a zod schema: `status --json`'s `why` entries read
 * back with it (and a test checks they do).
 */
export const StaleReason = z.discriminatedUnion("kind", [
  ParamsReason,
  /** A hashed file (source or declared data file) changed. */
  z.strictObject({ kind: z.literal("code"), file: z.string() }),
  /** An npm/import-map dependency changed version (absent: not a dependency on that side). */
  z.strictObject({
    kind: z.literal("dependency"),
    name: z.string(),
    from: z.string().optional(),
    to: z.string().optional(),
  }),
  /** Direct upstream instances whose key changed, or that the plan added or removed. */
  z.strictObject({
    kind: z.literal("upstream"),
    change: z.enum(["changed", "added", "removed"]),
    names: z.array(z.string()).min(1),
  }),
  /**
   * Upstream instances that are stale themselves: this one runs only if their new outputs
   * differ from the ones it last read (early cutoff), which is known once they ran.
   */
  z.strictObject({
    kind: z.literal("upstream-pending"),
    names: z.array(z.string()).min(1),
  }),
  /** No result for the key in the cache. */
  z.strictObject({ kind: z.literal("not-in-cache") }),
  /** Never run in this checkout: no result in the cache and no output checked out. */
  z.strictObject({ kind: z.literal("not-run-yet") }),
  /** No result for the key in the local cache, but the remote store has one: a run pulls it. */
  z.strictObject({ kind: z.literal("in-remote"), remote: z.string() }),
  /** The result is cached but not checked out (no lock entry). */
  z.strictObject({ kind: z.literal("not-checked-out") }),
  /** What is recorded was made by an older key format, whose keys mean something else. */
  z.strictObject({ kind: z.literal("key-format") }),
  /** The instance's workspace directory moved. */
  z.strictObject({
    kind: z.literal("workspace"),
    from: z.string(),
    to: z.string(),
  }),
  /** A checked-out output is gone or edited. */
  z.strictObject({ kind: z.literal("output"), file: z.string() }),
  /** The key's manifest does not read back valid. */
  z.strictObject({
    kind: z.literal("cache-entry-corrupt"),
    detail: z.string(),
  }),
  /** Restoring found the manifest invalid (and removed it). */
  z.strictObject({ kind: z.literal("cached-result-invalid") }),
  /** Restoring found these outputs missing from the manifest or not matching their hash. */
  z.strictObject({
    kind: z.literal("cached-result-corrupt"),
    outputs: z.array(z.string()),
  }),
  /** `run --force` named it or an upstream of it. */
  z.strictObject({ kind: z.literal("forced") }),
]);

/** Why an instance is stale. */
export type StaleReason = z.infer<typeof StaleReason>;

/** A param value as reasons print it: JSON, or `(unset)`. */
export function formatParamValue(value: unknown): string {
  return value === undefined ? "(unset)" : JSON.stringify(value);
}

/**
 * The words for `reason`, as `status`, `--dry-run` and the run log print them:
 * `params changed (alpha 0.05 -> 0.1)`, `code changed (models/mlp.ts)`,
 * `upstream removed (train@1, train@2, train@3 and 4 more)`, `not in cache`.
 */
export function formatReason(reason: StaleReason): string {
  switch (reason.kind) {
    case "params":
      return `params changed (${reason.path} ${
        formatParamValue(reason.from)
      } -> ${formatParamValue(reason.to)})`;
    case "code":
      return `code changed (${reason.file})`;
    case "dependency":
      return `dependency changed (${reason.name} ${
        reason.from ?? "(none)"
      } -> ${reason.to ?? "(none)"})`;
    case "upstream":
      return `upstream ${reason.change} (${nameList(reason.names)})`;
    case "upstream-pending":
      return reason.names.length === 1
        ? `runs if ${reason.names[0]}'s outputs change`
        : `runs if the outputs of ${nameList(reason.names, "and")} change`;
    case "not-in-cache":
      return "not in cache";
    case "not-run-yet":
      return "not run yet";
    case "in-remote":
      return `in the remote cache (${reason.remote}; run pulls it)`;
    case "not-checked-out":
      return "not checked out (result in cache)";
    case "key-format":
      return "made by an older key format; will recompute";
    case "workspace":
      return `workspace changed (${reason.from} -> ${reason.to})`;
    case "output":
      return `output missing or corrupt (${reason.file})`;
    case "cache-entry-corrupt":
      return `cache entry corrupt (manifest: ${reason.detail})`;
    case "cached-result-invalid":
      return "cached result invalid";
    case "cached-result-corrupt":
      return `cached result corrupt (${reason.outputs.join(", ")})`;
    case "forced":
      return "forced";
  }
}

/** Every reason's words, joined as one line says them. */
export function formatReasons(reasons: readonly StaleReason[]): string {
  return reasons.map(formatReason).join("; ");
}

/** Up to three names, then how many more; with `last`, `a, b and c` rather than `a, b, c`. */
function nameList(names: readonly string[], last?: "and"): string {
  if (names.length > 3) {
    return `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`;
  }
  if (last === undefined || names.length < 2) return names.join(", ");
  return `${names.slice(0, -1).join(", ")} ${last} ${names[names.length - 1]}`;
}
