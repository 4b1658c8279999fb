/**
 * The engine: plans (`plan.ts`), decides (`decide.ts`) and schedules. Ready instances are
 * restored from the store or handed to an {@link Executor}, as many at once as it has slots;
 * finished results are checked out and recorded in `pipeline.lock` by this process only, which
 * holds the run lock. It reports through events only and never prints.
 *
 * @module
 */
import { join } from "node:path";
import {
  type Decided,
  decideInstances,
  remoteNotChecked,
  selectInstances,
} from "./plan/decide.ts";
import type { PipelineEvent, PlanEntry } from "./events.ts";
import type { Executor } from "./executor/mod.ts";
import { InProcessExecutor } from "./executor/in_process.ts";
import { Scheduler } from "./scheduler.ts";
import { downstreamClosure, matchTarget } from "./plan/graph.ts";
import { type LockFile, readLockFile, writeLockFile } from "./lock.ts";
import type { WriteFile } from "./fs.ts";
import { type EngineOptions, type Plan, planPipeline } from "./plan/mod.ts";
import type { RunLock, RunLockInfo, Store } from "./store/mod.ts";
import { openStore } from "./store/open.ts";
import type { PipelineDeclaration } from "./types.ts";

export { pipelineStatus, type StatusEntry } from "./plan/decide.ts";
export {
  type EngineOptions,
  type KeyedInstance,
  type Plan,
  type PlannedInstance,
  planPipeline,
  rootPath,
} from "./plan/mod.ts";

/** Makes the executor of a run, once the plan and store exist. */
export type ExecutorFactory = (context: {
  plan: Plan;
  store: Store;
  emit: (event: PipelineEvent) => void;
  abortGraceSeconds: number;
  /** The user's command arguments (stages see them as `ctx.args`). */
  args?: readonly string[];
  /** `--set` flags a worker needs besides the user's to plan the same keys (a round's overrides). */
  planArgs?: readonly string[];
}) => Executor;

/** Options of {@link runPipeline}. */
export interface RunOptions extends EngineOptions {
  /** Run only these stages (declaration or `stage@item`) and their upstream. */
  targets?: readonly string[];
  /** Rerun these (declaration or `stage@item`) and their downstream, cached or not. */
  force?: readonly string[];
  /** Say what would run and why; run nothing. */
  dryRun?: boolean;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
  /** Seconds a stage gets to return after the signal before the run stops waiting. Default 10. */
  abortGraceSeconds?: number;
  /** Recorded in the run lock. */
  command?: string;
  /** Wait for another run to finish instead of refusing at once. */
  wait?: boolean;
  /** Where stale instances run; default in this process, one at a time. */
  executor?: ExecutorFactory;
  /** See the executor factory's `planArgs` (set by `rounds.ts`). */
  planArgs?: readonly string[];
}

/** A failed instance. */
export interface Failure {
  /** Instance name. */
  stage: string;
  /** Its error. */
  error: unknown;
}

/** How a run ended. */
export interface RunResult {
  /** success: everything selected is up to date. */
  outcome: "success" | "failed" | "interrupted" | "dry-run";
  /** Instances that ran. */
  ran: string[];
  /** Instances taken from the cache (up to date or restored). */
  cached: string[];
  /** The first instance that failed or was interrupted. */
  stage?: string;
  /** The error of the first failed stage. */
  error?: unknown;
  /** Every failed instance. */
  failures: Failure[];
  /** Every instance stopped by Ctrl-C. */
  interrupted: string[];
  /** Selected instance name -> absolute output dir. */
  outputs: Record<string, string>;
  /** The plan entries (what was decided before running). */
  plan: PlanEntry[];
  /**
   * Engine milliseconds: `planMs` (params, instances, keys incl. code hashing) and `decideMs`
   * (lock file + output stats), i.e. what a no-op rerun costs before any stage work.
   */
  timings: { planMs: number; decideMs: number };
}

/** Runs every stale instance, upstream first, as many at once as the executor allows. */
export async function runPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: RunOptions,
): Promise<RunResult> {
  const emit = options.onEvent ?? (() => {});
  const planStarted = performance.now();
  const plan = await planPipeline(pipeline, options);
  const planMs = performance.now() - planStarted;
  const store = openStore(plan.root, {
    writeFile: options.writeFile,
    remote: options.remote,
    onWarning: (message) => emit({ type: "warning", message }),
  });
  const selected = selectInstances(plan, options.targets ?? []);
  const forcedNames = (options.force ?? []).flatMap((target) =>
    matchTarget(plan.instances, target)
  );
  const forced = downstreamClosure(plan.instances, forcedNames);
  const outputs: Record<string, string> = {};
  for (const instance of plan.instances) {
    if (selected.has(instance.name)) {
      outputs[instance.name] = join(plan.root, instance.workspace);
    }
  }
  const result: RunResult = {
    outcome: "success",
    ran: [],
    cached: [],
    failures: [],
    interrupted: [],
    outputs,
    plan: [],
    timings: { planMs, decideMs: 0 },
  };
  let runLock: RunLock | undefined;
  try {
    runLock = options.dryRun ? undefined : await store.lockRun({
      command: options.command,
      wait: options.wait,
      signal: options.signal,
      onWait: (holder) =>
        emit({ type: "warning", message: waitingMessage(holder, store) }),
    });
  } catch (error) {
    // Ctrl-C while waiting for another run: nothing started, nothing to clean up.
    if (!options.signal?.aborted) throw error;
    emit({ type: "interrupted", instance: undefined });
    return { ...result, outcome: "interrupted" };
  }
  try {
    if (runLock !== undefined) {
      await store.removeLeftovers([
        plan.root,
        ...plan.instances.map((i) => join(plan.root, i.workspace)),
      ]);
    }
    const decideStarted = performance.now();
    const lock = await readLockFile(plan.root);
    const { decided, remoteProblem } = await decideInstances(plan, {
      selected,
      lock,
      store,
      forced,
      // A dry run says what the run would pull; the run itself looks each stale result up as it goes.
      remote: options.dryRun ? store.remote : undefined,
    });
    if (remoteProblem !== undefined) {
      emit({ type: "warning", message: remoteNotChecked(remoteProblem) });
    }
    for (const { instance, decision, staleness: found } of decided) {
      result.plan.push({
        instance: instance.name,
        action: decision,
        reasons: found.reasons,
      });
    }
    if (!options.dryRun) {
      await recordRefreshedMtimes(plan.root, lock, {
        decided,
        writeFile: options.writeFile,
      });
    }
    result.timings.decideMs = performance.now() - decideStarted;
    emit({
      type: "plan",
      entries: result.plan,
      dryRun: options.dryRun ?? false,
    });
    if (options.dryRun) {
      result.outcome = "dry-run";
      return result;
    }
    const abortGraceSeconds = options.abortGraceSeconds ?? 10;
    const executor = (options.executor ?? inProcess)({
      plan,
      store,
      emit,
      abortGraceSeconds,
      args: options.args,
      planArgs: options.planArgs,
    });
    const scheduler = new Scheduler({
      plan,
      store,
      lock,
      emit,
      executor,
      forced,
      writeFile: options.writeFile,
      signal: options.signal ?? new AbortController().signal,
      args: options.args,
    });
    await scheduler.run(decided, result);
    // Instances stopped because of a failure (the remote down) make a failed run, not an interrupted one.
    if (
      options.signal?.aborted ||
      (result.interrupted.length > 0 && result.failures.length === 0)
    ) {
      if (result.interrupted.length === 0) {
        emit({ type: "interrupted", instance: undefined });
      }
      result.outcome = "interrupted";
      result.stage ??= result.interrupted[0];
      return result;
    }
    if (result.failures.length > 0) {
      result.outcome = "failed";
      result.stage = result.failures[0].stage;
      result.error = result.failures[0].error;
      return result;
    }
    if (pipeline.summary !== undefined) {
      const summary = await pipeline.summary(outputs);
      const lines = Array.isArray(summary) ? summary : summary.split("\n");
      emit({ type: "summary", lines });
    }
    return result;
  } finally {
    await runLock?.release();
  }
}

const inProcess: ExecutorFactory = (context) =>
  new InProcessExecutor({
    store: context.store,
    allParams: context.plan.params,
    mermaid: context.plan.mermaid,
    root: context.plan.root,
    codeStamps: context.plan.codeStamps,
    codeLoadedSince: context.plan.codeLoadedSince,
    args: context.args,
    abortGraceSeconds: context.abortGraceSeconds,
    emit: context.emit,
  });

function waitingMessage(
  holder: RunLockInfo | undefined,
  store: Store,
): string {
  const who = holder === undefined
    ? "another run"
    : `the run of pid ${holder.pid} on ${holder.host} (since ${holder.startedAt})`;
  return `waiting for ${who} to finish (${store.location}run.lock)`;
}

/**
 * Writes to the lock the new mtimes of fresh instances' outputs that hashed the same as recorded
 * (a fresh clone, a checkout), so that later no-op runs compare them by size and mtime again
 * instead of hashing them every time. Status and dry runs take no run lock and write nothing.
 */
async function recordRefreshedMtimes(
  root: string,
  lock: LockFile,
  options: {
    decided: readonly Decided[];
    writeFile?: WriteFile;
  },
): Promise<void> {
  let changed = false;
  for (const { instance, decision, staleness: found } of options.decided) {
    const entry = lock.instances[instance.name];
    if (
      decision !== "fresh" || found.refreshedMtimes === undefined ||
      entry === undefined
    ) {
      continue;
    }
    for (const [output, mtime] of Object.entries(found.refreshedMtimes)) {
      const record = entry.outputs[output];
      if (record === undefined) continue;
      entry.outputs[output] = { ...record, mtime };
      changed = true;
    }
  }
  if (changed) {
    await writeLockFile(root, lock, { writeFile: options.writeFile });
  }
}
