/**
 * The engine: plans (`plan.ts`), decides (`decide.ts`) and schedules. Ready instances are
 * restored from the store or handed to an {@link Executor}, as many at once as it has slots;
 * finished results are checked out and recorded in `pipeline.lock` by this process only, which
 * holds the run lock. It reports through events only and never prints.
 *
 * @module
 */
import { join } from "node:path";
import { selectInstances, staleness } from "./decide.ts";
import { StageFailedError } from "./errors.ts";
import type { PipelineEvent, PlanEntry } from "./events.ts";
import type { ExecOutcome, Executor } from "./executor/mod.ts";
import { InProcessExecutor } from "./executor/in_process.ts";
import { downstreamClosure, matchTarget, upstreamClosure } from "./graph.ts";
import {
  type LockEntry,
  type LockFile,
  readLockFile,
  writeLockFile,
} from "./lock.ts";
import {
  type EngineOptions,
  type Plan,
  type PlannedInstance,
  planPipeline,
} from "./plan.ts";
import type { Manifest, RunLock, RunLockInfo, Store } from "./store/mod.ts";
import { openStore } from "./store/open.ts";
import type { PipelineDeclaration, UpstreamInfo } from "./types.ts";

export { pipelineStatus, type StatusEntry } from "./decide.ts";
export {
  type EngineOptions,
  type Plan,
  type PlannedInstance,
  planPipeline,
  rootPath,
} from "./plan.ts";

/** Makes the executor of a run, once the plan and store exist. */
export type ExecutorFactory = (context: {
  plan: Plan;
  store: Store;
  emit: (event: PipelineEvent) => void;
  abortGraceSeconds: number;
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
    const decisions = new Map<string, PlanEntry>();
    for (const instance of plan.instances) {
      if (!selected.has(instance.name)) continue;
      const { reasons, cachedResult } = await staleness(
        plan,
        instance,
        lock,
        store,
      );
      let entry: PlanEntry;
      if (forced.has(instance.name)) {
        entry = {
          instance: instance.name,
          action: "run",
          reasons: ["forced", ...reasons],
        };
      } else if (reasons.length === 0) {
        entry = { instance: instance.name, action: "fresh", reasons };
      } else {
        entry = {
          instance: instance.name,
          action: cachedResult ? "restore" : "run",
          reasons,
        };
      }
      decisions.set(instance.name, entry);
      result.plan.push(entry);
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
    });
    await scheduler.run(decisions, result);
    if (result.interrupted.length > 0 || options.signal?.aborted) {
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

interface SchedulerOptions {
  plan: Plan;
  store: Store;
  lock: LockFile;
  emit: (event: PipelineEvent) => void;
  executor: Executor;
  forced: Set<string>;
  writeFile: EngineOptions["writeFile"];
  signal: AbortSignal;
}

type State = "waiting" | "running" | "done" | "failed";

/**
 * Starts ready instances (all upstream done) while the executor has free slots. After a
 * failure no new instance starts and running ones finish; Ctrl-C stops them all.
 */
class Scheduler {
  #o: SchedulerOptions;
  #ranNow = new Set<string>();
  #outputsChanged = new Set<string>();
  #seconds = new Map<string, number>();
  #byName: Map<string, PlannedInstance>;
  #lockWrites: Promise<void> = Promise.resolve();

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#byName = new Map(options.plan.instances.map((i) => [i.name, i]));
    for (const [name, entry] of Object.entries(options.lock.instances)) {
      if (entry.seconds !== undefined) this.#seconds.set(name, entry.seconds);
    }
  }

  async run(decisions: Map<string, PlanEntry>, result: RunResult) {
    const state = new Map<string, State>();
    for (const name of decisions.keys()) state.set(name, "waiting");
    const running = new Map<string, Promise<void>>();
    const ready = (instance: PlannedInstance) =>
      instance.deps.every((dep) =>
        !state.has(dep) || state.get(dep) === "done"
      );
    const stopping = () => this.#o.signal.aborted || result.failures.length > 0;
    while (true) {
      for (const instance of this.#o.plan.instances) {
        if (stopping()) break;
        if (state.get(instance.name) !== "waiting" || !ready(instance)) {
          continue;
        }
        const decision = decisions.get(instance.name) as PlanEntry;
        const needsRun = await this.#tryCached(instance, decision, result);
        if (needsRun === undefined) {
          state.set(instance.name, "done");
          continue;
        }
        if (running.size >= this.#o.executor.slots) break;
        state.set(instance.name, "running");
        running.set(
          instance.name,
          this.#execute(instance, needsRun, result).then((ok) => {
            state.set(instance.name, ok ? "done" : "failed");
            running.delete(instance.name);
          }),
        );
      }
      if (running.size === 0) {
        const anyReady = !stopping() &&
          this.#o.plan.instances.some((i) =>
            state.get(i.name) === "waiting" && ready(i)
          );
        if (!anyReady) return;
        continue;
      }
      await Promise.race(running.values());
    }
  }

  /** Settles an instance without running it when possible; else returns its reasons to run. */
  async #tryCached(
    instance: PlannedInstance,
    decision: PlanEntry,
    result: RunResult,
  ): Promise<string[] | undefined> {
    const emit = this.#o.emit;
    // Keys are built from inputs, not output content. When an upstream had to be recomputed
    // (corrupt or lost cache) and a non-deterministic stage (training) produced different
    // bytes under the same key, results built on the old bytes are stale too.
    const changedUpstream = instance.deps.filter((dep) =>
      this.#outputsChanged.has(dep)
    );
    if (decision.action !== "run" && changedUpstream.length > 0) {
      return changedUpstream.map((dep) => `upstream output changed (${dep})`);
    }
    if (decision.action === "fresh") {
      emit({
        type: "finish",
        instance: instance.name,
        outcome: "cached",
        detail: "up to date",
        seconds: 0,
      });
      result.cached.push(instance.name);
      return undefined;
    }
    const forced = this.#o.forced.has(instance.name);
    // A stale instance is looked up in the remote store before it is computed.
    const useRemote = !forced && this.#o.store.remote !== undefined;
    if (decision.action !== "restore" && !useRemote) return decision.reasons;
    const started = performance.now();
    const restored = await this.#o.store.restore(instance.key, {
      declared: instance.stage.outputs,
      dir: join(this.#o.plan.root, instance.workspace),
      clean: instance.stage.workspace === undefined,
      remote: useRemote,
      name: instance.name,
    });
    if (!restored.ok) {
      if (restored.warning !== undefined) {
        emit({
          type: "warning",
          instance: instance.name,
          message: `${restored.warning}; recomputing`,
        });
      }
      return decision.action === "restore"
        ? [restored.reason]
        : decision.reasons;
    }
    await this.#record(instance, restored.manifest, restored.outputs);
    emit({
      type: "finish",
      instance: instance.name,
      outcome: "cached",
      detail: "restored",
      seconds: (performance.now() - started) / 1000,
    });
    result.cached.push(instance.name);
    return undefined;
  }

  async #execute(
    instance: PlannedInstance,
    reasons: string[],
    result: RunResult,
  ): Promise<boolean> {
    const emit = this.#o.emit;
    emit({ type: "start", instance: instance.name, reasons });
    const started = performance.now();
    const previous = await this.#previousOutputs(instance);
    let outcome: ExecOutcome;
    try {
      outcome = await this.#o.executor.execute({
        instance,
        inputs: Object.fromEntries(
          instance.deps.map((dep) => [dep, this.#dirOf(dep)]),
        ),
        upstream: this.#upstreamInfo(instance),
        recompute: this.#o.forced.has(instance.name),
      }, this.#o.signal);
      if (outcome.outcome === "ran") {
        const manifest = outcome.manifest;
        if (!sameOutputs(previous, manifest.outputs)) {
          this.#outputsChanged.add(instance.name);
        }
        // The lock entry is left alone until now: the old entry still describes the
        // workspace if the run failed or died, so status keeps naming the real reasons.
        const checkedOut = await this.#o.store.checkout(
          manifest.outputs,
          join(this.#o.plan.root, instance.workspace),
          { clean: instance.stage.workspace === undefined },
        );
        await this.#record(instance, manifest, checkedOut);
      }
    } catch (error) {
      outcome = { outcome: "failed", error };
    }
    const seconds = (performance.now() - started) / 1000;
    switch (outcome.outcome) {
      case "ran":
        this.#ranNow.add(instance.name);
        result.ran.push(instance.name);
        emit({
          type: "finish",
          instance: instance.name,
          outcome: "ran",
          seconds: outcome.manifest.seconds,
        });
        return true;
      case "interrupted":
        result.interrupted.push(instance.name);
        emit({ type: "interrupted", instance: instance.name });
        return false;
      case "failed":
        result.failures.push({
          stage: instance.name,
          error: new StageFailedError(instance.name, outcome.error),
        });
        emit({
          type: "failed",
          instance: instance.name,
          error: outcome.error,
          seconds,
        });
        return false;
    }
  }

  async #record(
    instance: PlannedInstance,
    manifest: Manifest,
    checkedOut: LockEntry["outputs"],
  ): Promise<void> {
    const entry: LockEntry = {
      stage: instance.stage.name,
      item: instance.item ?? null,
      key: instance.key,
      params: instance.params,
      code: instance.record.code,
      upstream: instance.record.upstream,
      workspace: instance.workspace,
      outputs: checkedOut,
      seconds: manifest.seconds,
    };
    this.#seconds.set(instance.name, manifest.seconds);
    this.#o.lock.instances[instance.name] = entry;
    // One write at a time, each with the whole lock as it is then: the last rename has it all.
    const write = this.#lockWrites.then(() =>
      writeLockFile(this.#o.plan.root, this.#o.lock, {
        writeFile: this.#o.writeFile,
      })
    );
    this.#lockWrites = write.catch(() => {});
    await write;
  }

  /** Output hashes this key had before this run (lock entry, else manifest), if known. */
  async #previousOutputs(
    instance: PlannedInstance,
  ): Promise<Record<string, { sha256: string }> | undefined> {
    const entry = this.#o.lock.instances[instance.name];
    if (entry !== undefined && entry.key === instance.key) return entry.outputs;
    const read = await this.#o.store.readManifest(instance.key);
    return read.state === "ok" ? read.manifest.outputs : undefined;
  }

  #dirOf(name: string): string {
    const instance = this.#byName.get(name) as PlannedInstance;
    return join(this.#o.plan.root, instance.workspace);
  }

  #upstreamInfo(instance: PlannedInstance): Record<string, UpstreamInfo> {
    const names = upstreamClosure(this.#o.plan.instances, instance.deps);
    const out: Record<string, UpstreamInfo> = {};
    for (const other of this.#o.plan.instances) {
      if (!names.has(other.name)) continue;
      out[other.name] = {
        key: other.key,
        dir: this.#dirOf(other.name),
        seconds: this.#seconds.get(other.name) ?? 0,
        cached: !this.#ranNow.has(other.name),
      };
    }
    return out;
  }
}

function sameOutputs(
  previous: Record<string, { sha256: string }> | undefined,
  current: Record<string, { sha256: string }>,
): boolean {
  if (previous === undefined) return false;
  const names = Object.keys(current);
  return names.length === Object.keys(previous).length &&
    names.every((name) => previous[name]?.sha256 === current[name].sha256);
}
