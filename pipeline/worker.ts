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
import { join } from "node:path";
import { z } from "zod";
import { UserError } from "./errors.ts";
import type { PipelineEvent } from "./events.ts";
import type { JobSpec } from "./executor/mod.ts";
import { upstreamClosure } from "./graph.ts";
import { changeReasons, type PreviousRecord } from "./key.ts";
import {
  type EngineOptions,
  type PlannedInstance,
  planPipeline,
} from "./plan.ts";
import { formatReason, formatReasons } from "./reasons.ts";
import { runStage } from "./stage_run.ts";
import { CodeRecord, type Store } from "./store/mod.ts";
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
  const instance = plan.instances.find((i) => i.key === key);
  if (instance === undefined) throw refusal(key, spec, plan.instances);
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
  const names = upstreamClosure(plan.instances, instance.deps);
  const upstreamInstances = plan.instances.filter((i) => names.has(i.name));
  const inputs: Record<string, string> = {};
  const upstream: Record<string, UpstreamInfo> = {};
  let stopSync = () => {};
  let scratchDir: string | undefined;
  let success = false;
  try {
    await runStage(instance, {
      store,
      allParams: plan.params,
      mermaid: plan.mermaid,
      args: spec?.args,
      inputs,
      upstream,
      signal: options.signal,
      abortGraceSeconds: options.abortGraceSeconds ?? 10,
      emit,
      prepare: async (dirs) => {
        for (const other of upstreamInstances) {
          const dir = join(dirs.inputsDir, other.name);
          const info = await checkoutUpstream(store, other, dir);
          upstream[other.name] = {
            key: other.key,
            dir,
            seconds: spec?.upstream[other.name]?.seconds ?? info.seconds,
            cached: spec?.upstream[other.name]?.cached ?? true,
            stage: other.stage.name,
            item: other.item,
          };
          if (instance.deps.includes(other.name)) inputs[other.name] = dir;
        }
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

async function checkoutUpstream(
  store: Store,
  instance: PlannedInstance,
  dir: string,
): Promise<{ seconds: number }> {
  const restored = await store.restore(instance.key, {
    declared: instance.outputs,
    dir,
    clean: true,
    remote: true,
    name: instance.name,
  });
  if (!restored.ok) {
    throw new UserError(
      `upstream ${instance.name} is not in the store (${
        formatReason(restored.reason)
      }); ` +
        `the coordinator starts a worker only after its upstream is stored`,
    );
  }
  return { seconds: restored.manifest.seconds };
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
    upstream: z.record(z.string(), z.string()),
    code: CodeRecord,
  }),
  upstream: z.record(
    z.string(),
    z.object({ seconds: z.number(), cached: z.boolean() }),
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
  instances: readonly PlannedInstance[],
): UserError {
  const short = key.slice(0, 12);
  const mine = spec && instances.find((i) => i.name === spec.instance);
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
    }). A node where backend auto resolves differently, or other code, computes another ` +
      `result; run it where the plan matches, or pin machine-dependent params with --set`,
  );
}
