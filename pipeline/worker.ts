/**
 * The `worker` subcommand: computes ONE instance, named by its key, in a process of its own (a
 * local process of `--jobs N`, or a Slurm job). It re-plans from the same code and params and
 * refuses when its plan gives that instance another key (other code, params, or a machine where
 * `backend: auto` resolves differently). Inputs are checked out from the store into the run's
 * own directory; the result goes to the store under its key (and to the remote, if any). It
 * never touches workspaces or `pipeline.lock`: the coordinator does, under its run lock.
 *
 * @module
 */
import { z } from "zod";
import { UserError } from "./errors.ts";
import type { PipelineEvent } from "./events.ts";
import type { JobSpec } from "./executor/mod.ts";
import { upstreamClosure } from "./plan/graph.ts";
import { changeReasons, type PreviousRecord } from "./plan/key.ts";
import {
  type EngineOptions,
  type KeyedInstance,
  keyInstance,
  type OutputHashes,
  type Plan,
  type PlannedInstance,
  planPipeline,
} from "./plan/mod.ts";
import {
  formatReason,
  formatReasons,
  type StaleReason,
} from "./plan/reasons.ts";
import { runStage } from "./stage_run.ts";
import {
  cacheReason,
  CodeRecord,
  type Manifest,
  type Store,
} from "./store/mod.ts";
import { keysFromStore } from "./plan/stored_keys.ts";
import { openStore } from "./store/open.ts";
import type { PipelineDeclaration, UpstreamInfo } from "./types.ts";

/** Options of {@link runWorker}. */
export interface WorkerOptions extends EngineOptions {
  /** Aborted on Ctrl-C (or when the coordinator stops the worker). */
  signal: AbortSignal;
  /** Seconds the stage gets to return after the signal. Default 10. */
  abortGraceSeconds?: number;
  /** Seconds between uploads of changed checkpoints to the remote. Default 30. */
  scratchSyncSeconds?: number;
  /** Compute even when the store already has a result for the key (`run --force`). */
  recompute?: boolean;
}

/** What a worker did. */
export type WorkerOutcome = "ran" | "cached";

/** Computes the instance with `key` (see the module doc); throws a UserError when it refuses. */
export async function runWorker<S extends PipelineDeclaration>(
  pipeline: S,
  key: string,
  options: WorkerOptions,
): Promise<WorkerOutcome> {
  const emit = options.onEvent ?? (() => {});
  const plan = await planPipeline(pipeline, options);
  const store = openStore(plan.root, {
    remote: options.remote,
    onWarning: (message) => emit({ type: "warning", message }),
  });
  const spec = parseJob(await store.getJob(key));
  const target = spec && plan.instances.find((i) => i.name === spec.instance);
  if (spec === undefined || target === undefined) throw refusal(key, spec);
  const { keyed: upstreamKeyed, instance } = await keyFromStore(
    plan,
    target,
    { store, spec },
  );
  if (instance.key !== key) throw refusal(key, spec, instance);
  const found = options.recompute
    ? { state: "missing" as const }
    : await store.fetch(key, {
      declared: instance.outputs,
      remote: true,
      name: instance.name,
    });
  if (found.state !== "missing") {
    emit({
      type: "log",
      instance: instance.name,
      line:
        `${instance.name}: already in the store (${found.state}); nothing to compute`,
    });
    return "cached";
  }
  // The direct upstream results' objects, here (downloaded and re-hashed if remote).
  for (const dep of instance.deps) {
    const other = upstreamKeyed.get(dep) as KeyedInstance;
    const fetched = await store.fetch(other.key, {
      declared: other.outputs,
      remote: true,
      name: other.name,
    });
    if (fetched.state === "missing") throw notStored(other, fetched.reason);
  }
  const upstream: Record<string, UpstreamInfo> = {};
  for (const [name, other] of upstreamKeyed) {
    upstream[name] = {
      key: other.key,
      seconds: spec.upstream[name]?.seconds ?? 0,
      cached: spec.upstream[name]?.cached ?? true,
      stage: other.stage.name,
      item: other.item,
    };
  }
  let stopSync = () => {};
  let scratchDir: string | undefined;
  let success = false;
  try {
    await runStage(instance, {
      store,
      allParams: plan.params,
      mermaid: plan.mermaid,
      args: spec.args,
      upstream,
      root: plan.root,
      codeStamps: plan.codeStamps,
      codeLoadedSince: plan.codeLoadedSince,
      signal: options.signal,
      abortGraceSeconds: options.abortGraceSeconds ?? 10,
      emit,
      prepare: async (dirs) => {
        scratchDir = dirs.scratchDir;
        const resumed = await store.pullScratch(key, dirs.scratchDir);
        if (resumed > 0) {
          emit({
            type: "log",
            instance: instance.name,
            line:
              `${resumed} checkpoint file(s) of this key restored from the remote store`,
          });
        }
        stopSync = syncScratch(store, key, dirs.scratchDir, {
          seconds: options.scratchSyncSeconds ?? 30,
          emit,
        });
      },
    });
    success = true;
    await store.dropRemoteScratch(key).catch(() => {});
  } finally {
    stopSync();
    // Stopped or failed (a preempted job gets SIGTERM): keep the last checkpoint remotely too.
    if (!success && scratchDir !== undefined) {
      await store.pushScratch(key, scratchDir).catch(() => 0);
    }
  }
  return "ran";
}

/**
 * The key of `target` from the stored results of its upstream: each upstream instance's key is
 * computed from the outputs of the results below it (read from the local store, else the
 * remote), so a worker trusts no key it is told, only manifests that belong to their keys.
 */
async function keyFromStore(
  plan: Plan,
  target: PlannedInstance,
  options: { store: Store; spec: JobSpecFile },
): Promise<{ keyed: Map<string, KeyedInstance>; instance: KeyedInstance }> {
  const { store, spec } = options;
  const names = upstreamClosure(plan.instances, target.deps);
  const stored = await keysFromStore(plan, async (instance) => {
    const theirs = spec.upstream[instance.name]?.key;
    if (theirs !== undefined && theirs !== instance.key) {
      throw await upstreamRefusal(store, { spec, mine: instance, theirs });
    }
    let read = await store.readManifest(instance.key);
    if (read.state !== "ok" && store.remote !== undefined) {
      read = await store.remote.readManifest(instance.key);
    }
    if (read.state !== "ok") {
      throw notStored(instance, cacheReason(read) ?? { kind: "not-in-cache" });
    }
    return read.manifest;
  }, { names });
  const outputs = new Map<string, OutputHashes>();
  const keyed = new Map<string, KeyedInstance>();
  for (const [name, { keyed: other, manifest }] of stored) {
    keyed.set(name, other);
    outputs.set(name, (manifest as Manifest).outputs);
  }
  return {
    keyed,
    instance: keyInstance(target, (dep) => outputs.get(dep)) as KeyedInstance,
  };
}

/**
 * This machine keys an upstream instance otherwise than the coordinator did: the reasons come
 * from the coordinator's stored result of it (its manifest holds its key record).
 */
async function upstreamRefusal(
  store: Store,
  options: { spec: JobSpecFile; mine: KeyedInstance; theirs: string },
): Promise<UserError> {
  const { spec, mine, theirs } = options;
  let read = await store.readManifest(theirs);
  if (read.state !== "ok" && store.remote !== undefined) {
    read = await store.remote.readManifest(theirs);
  }
  const reasons = read.state === "ok"
    ? formatReasons(changeReasons(read.manifest, mine.record))
    : "";
  return new UserError(
    `worker: refusing ${spec.instance}: here its upstream ${mine.name} has key ${
      mine.key.slice(0, 12)
    }…, the coordinator's ${theirs.slice(0, 12)}… (${
      reasons || "key format differs"
    }). ${REFUSAL_HINT}`,
  );
}

const REFUSAL_HINT =
  "A node where backend auto resolves differently, or other code, computes another " +
  "result; run it where the plan matches, or pin machine-dependent params with --set";

function notStored(instance: KeyedInstance, reason: StaleReason): UserError {
  return new UserError(
    `upstream ${instance.name} is not in the store (${
      formatReason(reason)
    }); ` +
      `the coordinator starts a worker only after its upstream is stored`,
  );
}

/** Uploads changed checkpoints every `seconds` while the stage runs; returns the stop function. */
function syncScratch(
  store: Store,
  key: string,
  dir: string,
  options: { seconds: number; emit: (event: PipelineEvent) => void },
): () => void {
  if (store.remote === undefined) return () => {};
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      await store.pushScratch(key, dir);
    } catch (error) {
      options.emit({
        type: "warning",
        message: `could not upload checkpoints of ${key.slice(0, 12)}: ${
          (error as Error).message
        }`,
      });
    } finally {
      busy = false;
    }
  }, options.seconds * 1000);
  return () => clearInterval(timer);
}

/** The job spec a coordinator leaves (see `jobSpec` in executor/wire.ts), as read back. */
const JobSpecFile = z.object({
  instance: z.string(),
  key: z.string(),
  /** What went into the coordinator's key; as far as the refusal's reasons need it. */
  record: z.object({
    params: z.unknown(),
    inputs: z.record(z.string(), z.record(z.string(), z.string())),
    code: CodeRecord,
  }),
  upstream: z.record(
    z.string(),
    z.object({ seconds: z.number(), cached: z.boolean(), key: z.string() }),
  ),
  args: z.array(z.string()).optional(),
});
/** A job spec read back: the type checks that the schema gives everything {@link JobSpec} has. */
type JobSpecFile = JobSpec & { record: PreviousRecord };

/** The job spec, or undefined when there is none or it does not read back valid. */
function parseJob(text: string | undefined): JobSpecFile | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = JobSpecFile.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function refusal(
  key: string,
  spec: JobSpecFile | undefined,
  mine?: KeyedInstance,
): UserError {
  const short = key.slice(0, 12);
  if (spec === undefined || mine === undefined) {
    return new UserError(
      `worker: no instance of this pipeline has key ${short}… here; this machine plans ` +
        `other code or params than the coordinator did (run the same commit with the same --set/--params)`,
    );
  }
  const reasons = changeReasons(spec.record, mine.record);
  return new UserError(
    `worker: refusing ${spec.instance}: here its key is ${
      mine.key.slice(0, 12)
    }…, the coordinator asked for ${short}… (${
      formatReasons(reasons) || "key format differs"
    }). ${REFUSAL_HINT}`,
  );
}
