/**
 * Deciding: for each planned instance, whether it is fresh, restorable from the cache, must run,
 * or runs only if an upstream that runs first changes its outputs (early cutoff), with every
 * reason. Status, dry run and run all decide here, so they tell the same story.
 *
 * An instance's key holds its upstream outputs' content hashes, so the walk goes upstream first:
 * a result that is cached (here, or in the remote) gives its outputs to the keys below it. Below
 * an instance that will run, the outputs it produced last time (`pipeline.lock`) stand in, so a
 * downstream instance whose key would otherwise be unchanged is `pending` ("runs if
 * train_baseline@0's outputs change"); the run decides it again once the upstream has run.
 *
 * @module
 */
import { join } from "node:path";
import { errorMessage } from "../errors.ts";
import { matchTarget, upstreamClosure } from "./graph.ts";
import { changeReasons } from "./key.ts";
import { type LockFile, readLockFile } from "../lock.ts";
import {
  type EngineOptions,
  type KeyedInstance,
  keyInstance,
  type OutputHashes,
  type Plan,
  type PlannedInstance,
  planPipeline,
} from "./mod.ts";
import type { StaleReason } from "./reasons.ts";
import { checkOutputs } from "../workspace.ts";
import {
  cacheReason,
  type ManifestRead,
  type RemoteStore,
  type Store,
} from "../store/mod.ts";
import { openStore } from "../store/open.ts";
import type { PipelineDeclaration } from "../types.ts";

/** What a run would do with an instance. */
export type Decision = "fresh" | "restore" | "run" | "pending";

/** One line of `status`. */
export interface StatusEntry {
  /** Instance name. */
  stage: string;
  /** Fresh: nothing to do. Stale: see reasons. Pending: runs only if an upstream's outputs change. */
  state: "fresh" | "stale" | "pending";
  /** Every reason it is stale (in words: `formatReason`). */
  reasons: StaleReason[];
}

/** What {@link staleness} found for one keyed instance. */
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
  /** The remote store has a result for its key (a run pulls it). */
  remoteResult?: boolean;
  /** The outputs of the result its key names, when one is cached (locally or remotely). */
  outputs?: OutputHashes;
}

/**
 * Why the keyed `instance` is stale (empty: fresh) and whether its result is in the cache. A
 * result counts as cached only when its manifest reads back valid and belongs to its key.
 */
export async function staleness(
  plan: Plan,
  instance: KeyedInstance,
  options: { lock: LockFile; store: Store },
): Promise<Staleness> {
  const { lock, store } = options;
  const read = await store.readManifest(instance.key);
  const cachedResult = read.state === "ok";
  const missingLocally = read.state === "missing";
  const outputs = read.state === "ok" ? read.manifest.outputs : undefined;
  const notCached = cacheReason(read);
  const entry = lock.instances[instance.name];
  if (entry === undefined) {
    const first: StaleReason = lock.olderFormat?.has(instance.name)
      ? { kind: "key-format" }
      : cachedResult
      ? { kind: "not-checked-out" }
      : missingLocally
      ? { kind: "not-run-yet" }
      : notCached as StaleReason;
    return { reasons: [first], cachedResult, missingLocally, outputs };
  }
  if (entry.key !== instance.key) {
    const reasons = changeReasons(entry, instance.record);
    if (reasons.length === 0) reasons.push({ kind: "key-format" });
    // The action (run or restore) says whether the new key is cached; only a corrupt entry adds a reason.
    if (notCached?.kind === "cache-entry-corrupt") reasons.push(notCached);
    return { reasons, cachedResult, missingLocally, outputs };
  }
  const reasons: StaleReason[] = [];
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
  if (notCached !== undefined) {
    // Recorded here by another checkout (a clone's pipeline.lock) and never run in this one.
    if (missingLocally && changed.length === instance.outputs.length) {
      return {
        reasons: [{ kind: "not-run-yet" }],
        cachedResult,
        missingLocally,
      };
    }
    reasons.push(notCached);
  }
  for (const output of changed) {
    reasons.push({ kind: "output", file: output });
  }
  return {
    reasons,
    cachedResult,
    missingLocally,
    outputs,
    ...(Object.keys(refreshed).length > 0
      ? { refreshedMtimes: refreshed }
      : {}),
  };
}

/** An instance with what the walk found for it. */
export interface Decided {
  /** The instance. */
  instance: PlannedInstance;
  /**
   * The instance with its key: the real one when `pendingOn` is empty, else the key it would
   * have if those upstream instances reproduce their last outputs; undefined when not even that
   * is known (an upstream that never ran).
   */
  keyed: KeyedInstance | undefined;
  /** Upstream instances that run first and whose new outputs its real key needs. */
  pendingOn: string[];
  /** What a run would do. */
  decision: Decision;
  /** What {@link staleness} found (for `pending`, of the predicted key). */
  staleness: Staleness;
}

/** Options of {@link decideInstances}. */
export interface DecideOptions extends RemoteLookupOptions {
  /** The instances to decide (with their upstream: see {@link selectInstances}). */
  selected: ReadonlySet<string>;
  /** `pipeline.lock`. */
  lock: LockFile;
  /** The local store. */
  store: Store;
  /** Look results missing locally up here (status and dry run; a run pulls as it goes). */
  remote?: RemoteStore;
  /** Decided to run whatever their keys say (`--force`): their outputs are not known. */
  forced?: ReadonlySet<string>;
}

/** What {@link decideInstances} found, and a remote lookup's problem if one failed. */
export interface DecideResult {
  /** Every selected instance, in plan order. */
  decided: Decided[];
  /** Why the remote could not be checked (said once); undefined when it was, or is not set. */
  remoteProblem?: string;
}

/**
 * Decides every selected instance (see the module doc), upstream first, instances whose
 * upstream is decided a few at once (their manifests, and remote lookups, overlap).
 */
export async function decideInstances(
  plan: Plan,
  options: DecideOptions,
): Promise<DecideResult> {
  const { lock, selected } = options;
  const byName = new Map(plan.instances.map((i) => [i.name, i]));
  const known = new Map<string, OutputHashes>();
  /** Outputs that stand in for those of instances that run first, and what they wait on. */
  const assumed = new Map<string, { outputs: OutputHashes; roots: string[] }>();
  const results = new Map<string, Decided>();
  const remote = { problem: undefined as string | undefined };
  const decideOne = async (instance: PlannedInstance): Promise<Decided> => {
    const roots = new Set<string>();
    let unknown = false;
    for (const dep of instance.deps) {
      if (known.has(dep)) continue;
      const stand = assumed.get(dep);
      if (stand === undefined) unknown = true;
      else for (const root of stand.roots) roots.add(root);
    }
    const pendingOn = [...roots].sort();
    if (unknown) {
      // An upstream that never ran: nothing predicts this key.
      const waits = instance.deps.filter((dep) => !known.has(dep));
      const reasons: StaleReason[] = lock.instances[instance.name] === undefined
        ? [{ kind: "not-run-yet" }]
        : [{ kind: "upstream-pending", names: waits }];
      return {
        instance,
        keyed: undefined,
        pendingOn: waits,
        decision: "run",
        staleness: { reasons, cachedResult: false, missingLocally: true },
      };
    }
    const keyed = keyInstance(
      instance,
      (dep) => known.get(dep) ?? assumed.get(dep)?.outputs,
    ) as KeyedInstance;
    const found = await staleness(plan, keyed, options);
    if (
      found.missingLocally && options.remote !== undefined &&
      remote.problem === undefined && found.reasons.length > 0
    ) {
      await lookUp(options.remote, keyed, found, {
        ...options,
        onProblem: (problem) => remote.problem ??= problem,
      });
    }
    const forced = options.forced?.has(instance.name) ?? false;
    const decision: Decision = forced
      ? "run"
      : found.reasons.length === 0
      ? (pendingOn.length === 0 ? "fresh" : "pending")
      : found.cachedResult || found.remoteResult
      ? "restore"
      : "run";
    if (decision === "pending") {
      found.reasons = [{ kind: "upstream-pending", names: pendingOn }];
    } else if (forced) {
      found.reasons = [{ kind: "forced" }, ...found.reasons];
    }
    return { instance, keyed, pendingOn, decision, staleness: found };
  };
  const record = (d: Decided) => {
    results.set(d.instance.name, d);
    const { name } = d.instance;
    const outputs = d.staleness.outputs;
    if (d.decision === "run") {
      // It runs: what it wrote last time stands in for what it will write.
      const last = lock.instances[name]?.outputs;
      if (last !== undefined) {
        assumed.set(name, { outputs: last, roots: [name] });
      }
    } else if (outputs !== undefined && d.pendingOn.length === 0) {
      known.set(name, outputs);
    } else if (outputs !== undefined) {
      assumed.set(name, { outputs, roots: d.pendingOn });
    }
  };
  const todo = plan.instances.filter((i) => selected.has(i.name));
  const width = Math.max(1, options.remoteConcurrency ?? 8);
  while (results.size < todo.length) {
    const wave = todo.filter((i) =>
      !results.has(i.name) &&
      i.deps.every((dep) => results.has(dep) || !byName.has(dep))
    );
    for (let at = 0; at < wave.length; at += width) {
      const batch = await Promise.all(
        wave.slice(at, at + width).map(decideOne),
      );
      batch.forEach(record);
    }
  }
  return {
    decided: todo.map((i) => results.get(i.name) as Decided),
    remoteProblem: remote.problem,
  };
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
  const { decided, remoteProblem } = await decideInstances(plan, {
    ...options,
    selected,
    lock,
    store,
  });
  if (remoteProblem !== undefined) {
    options.onWarning?.(remoteNotChecked(remoteProblem));
  }
  return decided.map(({ instance, decision, staleness: { reasons } }) => ({
    stage: instance.name,
    state: decision === "fresh"
      ? "fresh"
      : decision === "pending"
      ? "pending"
      : "stale",
    reasons,
  }));
}

/** Options of remote lookups. */
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
 * Looks the result of `instance` up in `remote` (one manifest read, as the run would before
 * computing it): when found, `not-run-yet` / `not-in-cache` become `in-remote`, `remoteResult`
 * says a run pulls it and its outputs key the instances below. A lookup that fails or times out
 * reports its problem (said once; later lookups are skipped). A remote manifest that does not
 * read back valid counts as absent: the run removes it there and recomputes.
 */
async function lookUp(
  remote: RemoteStore,
  instance: KeyedInstance,
  found: Staleness,
  options: RemoteLookupOptions & { onProblem: (problem: string) => void },
): Promise<void> {
  let read: ManifestRead;
  try {
    read = await withTimeout(
      remote.readManifest(instance.key),
      options.remoteTimeoutMs ?? 10_000,
    );
  } catch (error) {
    options.onProblem(errorMessage(error));
    return;
  }
  if (read.state !== "ok") return;
  found.remoteResult = true;
  found.outputs = read.manifest.outputs;
  found.reasons = found.reasons.map((reason) =>
    reason.kind === "not-in-cache" || reason.kind === "not-run-yet"
      ? { kind: "in-remote", remote: remote.url }
      : reason
  );
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
