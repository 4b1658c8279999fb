/**
 * Deciding: for each planned instance, whether it is fresh, restorable from the cache, or must
 * run, with every reason. Status, dry run and run all decide here, so they tell the same story.
 *
 * @module
 */
import { join } from "node:path";
import { errorMessage } from "./errors.ts";
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
import { checkOutputs } from "./workspace.ts";
import { cacheReason, type RemoteStore, type Store } from "./store/mod.ts";
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

/** What {@link staleness} found for one instance. */
export interface Staleness {
  /** Every reason it is stale (empty: fresh). */
  reasons: StaleReason[];
  /** The local store holds a valid result for its key. */
  cachedResult: boolean;
  /** The local store has no manifest at all for its key (the remote may have one). */
  missingLocally: boolean;
  /**
   * Outputs that hashed the same as recorded under another mtime: output -> mtime now. A run
   * writes them to the lock, so that the next no-op run does not hash them again.
   */
  refreshedMtimes?: Record<string, number>;
  /** {@link lookUpRemote} found its result in the remote store (a run pulls it). */
  remoteResult?: boolean;
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
): Promise<Staleness> {
  const read = await store.readManifest(instance.key);
  const cachedResult = read.state === "ok";
  const missingLocally = read.state === "missing";
  const notCached = cacheReason(read);
  const entry = lock.instances[instance.name];
  if (entry === undefined) {
    return {
      reasons: [notCached ?? { kind: "not-checked-out" }],
      cachedResult,
      missingLocally,
    };
  }
  if (entry.key !== instance.key) {
    const reasons = changeReasons(entry, instance.record);
    if (reasons.length === 0) reasons.push({ kind: "engine-format" });
    // The action (run or restore) says whether the new key is cached; only a corrupt entry adds a reason.
    if (notCached?.kind === "cache-entry-corrupt") reasons.push(notCached);
    return { reasons, cachedResult, missingLocally };
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
  const { changed, refreshed } = await checkOutputs(
    join(plan.root, instance.workspace),
    { recorded: entry.outputs, declared: instance.outputs },
  );
  for (const output of changed) {
    reasons.push({ kind: "output", file: output });
  }
  return {
    reasons,
    cachedResult,
    missingLocally,
    ...(Object.keys(refreshed).length > 0
      ? { refreshedMtimes: refreshed }
      : {}),
  };
}

/** An instance with what {@link staleness} found for it. */
export interface Decided {
  instance: PlannedInstance;
  staleness: Staleness;
}

/** {@link staleness} of each `selected` instance of the plan, in plan order. */
export async function decideInstances(
  plan: Plan,
  options: { selected: ReadonlySet<string>; lock: LockFile; store: Store },
): Promise<Decided[]> {
  const decided: Decided[] = [];
  for (const instance of plan.instances) {
    if (!options.selected.has(instance.name)) continue;
    decided.push({
      instance,
      staleness: await staleness(plan, instance, options.lock, options.store),
    });
  }
  return decided;
}

/** Options of {@link pipelineStatus}. */
export interface StatusOptions extends EngineOptions, RemoteLookupOptions {
  /** Only these targets and their upstream (default: all). */
  targets?: readonly string[];
  /** The remote store (opened and checked by the caller): results missing locally are looked up there. */
  remote?: RemoteStore;
  /** Told once when the remote could not be checked (`remote not checked (…)`). */
  onWarning?: (message: string) => void;
}

/** Status of every instance (or of `targets` and their upstream). No file is hashed but sources. */
export async function pipelineStatus<S extends PipelineDeclaration>(
  pipeline: S,
  options: StatusOptions,
): Promise<StatusEntry[]> {
  const plan = await planPipeline(pipeline, options);
  const lock = await readLockFile(plan.root);
  const store = openStore(plan.root);
  const selected = selectInstances(plan, options.targets ?? []);
  const decided = await decideInstances(plan, { selected, lock, store });
  if (options.remote !== undefined) {
    const problem = await lookUpRemote(options.remote, decided, options);
    if (problem !== undefined) options.onWarning?.(remoteNotChecked(problem));
  }
  return decided.map(({ instance, staleness: { reasons } }) => ({
    stage: instance.name,
    state: reasons.length === 0 ? "fresh" : "stale",
    reasons,
  }));
}

/** Options of {@link lookUpRemote}. */
export interface RemoteLookupOptions {
  /** Lookups in flight at once (default 8). */
  remoteConcurrency?: number;
  /** Milliseconds one lookup may take before the remote counts as unreachable (default 10 000). */
  remoteTimeoutMs?: number;
}

/** The one warning status and dry run give when the remote could not be looked up. */
export function remoteNotChecked(problem: string): string {
  return `remote not checked (${problem})`;
}

/**
 * Looks up in `remote` the results that the local store has no manifest for (one manifest read
 * each, a few at once, as the run would before computing them) and marks those found:
 * `not-in-cache` becomes `in-remote`, and `remoteResult` says a run pulls them. The first lookup
 * that fails or times out stops the rest; its problem is returned (to say once), and what was
 * not looked up stays as it was. A remote manifest that does not read back valid counts as
 * absent: the run removes it there and recomputes.
 */
export async function lookUpRemote(
  remote: RemoteStore,
  decided: readonly Decided[],
  options: RemoteLookupOptions = {},
): Promise<string | undefined> {
  const pending = decided.filter(({ staleness }) =>
    staleness.missingLocally && staleness.reasons.length > 0
  );
  const timeoutMs = options.remoteTimeoutMs ?? 10_000;
  let problem: string | undefined;
  let next = 0;
  const worker = async () => {
    while (problem === undefined && next < pending.length) {
      const { instance, staleness } = pending[next++];
      let found: boolean;
      try {
        const read = await withTimeout(
          remote.readManifest(instance.key),
          timeoutMs,
        );
        found = read.state === "ok";
      } catch (error) {
        problem ??= errorMessage(error);
        return;
      }
      if (!found) continue;
      staleness.remoteResult = true;
      staleness.reasons = staleness.reasons.map((reason) =>
        reason.kind === "not-in-cache"
          ? { kind: "in-remote", remote: remote.url }
          : reason
      );
    }
  };
  const width = Math.max(1, options.remoteConcurrency ?? 8);
  await Promise.all(
    Array.from({ length: Math.min(width, pending.length) }, worker),
  );
  return problem;
}

/**
 * Checks that `remote` can be read (credentials, bucket) before lookups, within `timeoutMs`
 * (default 10 000); returns the problem instead of throwing, since status and dry run only
 * inform and must not fail or hang on an unreachable remote.
 */
export async function checkRemoteForLookups(
  remote: RemoteStore,
  options: { timeoutMs?: number } = {},
): Promise<string | undefined> {
  try {
    await withTimeout(
      remote.check({ publish: false }),
      options.timeoutMs ?? 10_000,
    );
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/** `promise`, or a rejection naming the wait when it takes longer than `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ms / 1000} s`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
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
