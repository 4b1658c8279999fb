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
  /** An upstream recomputed in this run under the same key produced other bytes. */
  z.strictObject({ kind: z.literal("upstream-output"), name: z.string() }),
  /** No result for the key in the cache. */
  z.strictObject({ kind: z.literal("not-in-cache") }),
  /** No result for the key in the local cache, but the remote store has one: a run pulls it. */
  z.strictObject({ kind: z.literal("in-remote"), remote: z.string() }),
  /** The result is cached but not checked out (no lock entry). */
  z.strictObject({ kind: z.literal("not-checked-out") }),
  /** The key changed but nothing the record shows did: the key format itself. */
  z.strictObject({ kind: z.literal("engine-format") }),
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
    case "upstream-output":
      return `upstream output changed (${reason.name})`;
    case "not-in-cache":
      return "not in cache";
    case "in-remote":
      return `in the remote cache (${reason.remote}; run pulls it)`;
    case "not-checked-out":
      return "not checked out (result in cache)";
    case "engine-format":
      return "key changed (engine format)";
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

/** Up to three names, then how many more. */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(", ");
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}
