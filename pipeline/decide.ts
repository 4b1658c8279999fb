/**
 * Deciding: for each planned instance, whether it is fresh, restorable from the cache, or must
 * run, with every reason. Status, dry run and run all decide here, so they tell the same story.
 *
 * @module
 */
import { join } from "node:path";
import { matchTarget, upstreamClosure } from "./graph.ts";
import { changeReasons } from "./key.ts";
import { type LockFile, readLockFile } from "./lock.ts";
import {
  type EngineOptions,
  type Plan,
  type PlannedInstance,
  planPipeline,
} from "./plan.ts";
import type { StaleReason } from "./reasons.ts";
import { changedOutputs } from "./workspace.ts";
import { cacheReason, type Store } from "./store/mod.ts";
import { openStore } from "./store/open.ts";
import type { PipelineDeclaration } from "./types.ts";

/** One line of `status`. */
export interface StatusEntry {
  /** Instance name. */
  stage: string;
  /** Fresh: nothing to do. Stale: see reasons. */
  state: "fresh" | "stale";
  /** Every reason it is stale (in words: `formatReason`). */
  reasons: StaleReason[];
}

/**
 * Why `instance` is stale (empty: fresh) and whether its result is in the cache. Status, dry run
 * and run all decide here, so they tell the same story; a result counts as cached only when its
 * manifest reads back valid.
 */
export async function staleness(
  plan: Plan,
  instance: PlannedInstance,
  lock: LockFile,
  store: Store,
): Promise<{ reasons: StaleReason[]; cachedResult: boolean }> {
  const read = await store.readManifest(instance.key);
  const cachedResult = read.state === "ok";
  const notCached = cacheReason(read);
  const entry = lock.instances[instance.name];
  if (entry === undefined) {
    return {
      reasons: [notCached ?? { kind: "not-checked-out" }],
      cachedResult,
    };
  }
  if (entry.key !== instance.key) {
    const reasons = changeReasons(entry, instance.record);
    if (reasons.length === 0) reasons.push({ kind: "engine-format" });
    // The action (run or restore) says whether the new key is cached; only a corrupt entry adds a reason.
    if (notCached?.kind === "cache-entry-corrupt") reasons.push(notCached);
    return { reasons, cachedResult };
  }
  const reasons: StaleReason[] = [];
  if (notCached !== undefined) reasons.push(notCached);
  if (entry.workspace !== instance.workspace) {
    reasons.push({
      kind: "workspace",
      from: entry.workspace,
      to: instance.workspace,
    });
  }
  const changed = await changedOutputs(join(plan.root, instance.workspace), {
    recorded: entry.outputs,
    declared: instance.stage.outputs,
  });
  for (const output of changed) {
    reasons.push({ kind: "output", file: output });
  }
  return { reasons, cachedResult };
}

/** Status of every instance (or of `targets` and their upstream). No file is hashed but sources. */
export async function pipelineStatus<S extends PipelineDeclaration>(
  pipeline: S,
  options: EngineOptions & { targets?: readonly string[] },
): Promise<StatusEntry[]> {
  const plan = await planPipeline(pipeline, options);
  const lock = await readLockFile(plan.root);
  const store = openStore(plan.root);
  const selected = selectInstances(plan, options.targets ?? []);
  const out: StatusEntry[] = [];
  for (const instance of plan.instances) {
    if (!selected.has(instance.name)) continue;
    const { reasons } = await staleness(plan, instance, lock, store);
    out.push({
      stage: instance.name,
      state: reasons.length === 0 ? "fresh" : "stale",
      reasons,
    });
  }
  return out;
}

/** The instances `targets` name and their upstream (all when none). */
export function selectInstances(
  plan: Plan,
  targets: readonly string[],
): Set<string> {
  if (targets.length === 0) {
    return new Set(plan.instances.map((instance) => instance.name));
  }
  const names = targets.flatMap((target) =>
    matchTarget(plan.instances, target)
  );
  return upstreamClosure(plan.instances, names);
}
