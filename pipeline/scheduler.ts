/**
 * The scheduler: starts ready instances (all upstream done) while the executor has free slots,
 * restores what the store has, checks out and records what ran. After a failure no new instance
 * starts and running ones finish; Ctrl-C stops them all.
 *
 * @module
 */
import { join } from "node:path";
import { StageFailedError } from "./errors.ts";
import type { PipelineEvent, PlanEntry } from "./events.ts";
import type { ExecOutcome, Executor } from "./executor/mod.ts";
import { upstreamClosure } from "./graph.ts";
import { type LockEntry, type LockFile, writeLockFile } from "./lock.ts";
import type { EngineOptions, Plan, PlannedInstance } from "./plan.ts";
import type { StaleReason } from "./reasons.ts";
import type { Manifest, Store } from "./store/mod.ts";
import type { UpstreamInfo } from "./types.ts";

/** What the scheduler adds to a run's result. */
export interface ScheduleResult {
  /** Instances that ran. */
  ran: string[];
  /** Instances taken from the cache. */
  cached: string[];
  /** Every failed instance. */
  failures: { stage: string; error: unknown }[];
  /** Every instance stopped by Ctrl-C. */
  interrupted: string[];
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  plan: Plan;
  store: Store;
  lock: LockFile;
  emit: (event: PipelineEvent) => void;
  executor: Executor;
  forced: Set<string>;
  writeFile: EngineOptions["writeFile"];
  signal: AbortSignal;
  args?: readonly string[];
}

type State = "waiting" | "running" | "done" | "failed";

/** Runs the decided instances of one run (see the module doc). */
export class Scheduler {
  #o: SchedulerOptions;
  #ranNow = new Set<string>();
  #outputsChanged = new Set<string>();
  #seconds = new Map<string, number>();
  #byName: Map<string, PlannedInstance>;
  #lockWrites: Promise<void> = Promise.resolve();

  /** Creates the scheduler of one run. */
  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#byName = new Map(options.plan.instances.map((i) => [i.name, i]));
    for (const [name, entry] of Object.entries(options.lock.instances)) {
      if (entry.seconds !== undefined) this.#seconds.set(name, entry.seconds);
    }
  }

  /** Settles every decided instance, filling `result`. */
  async run(
    decisions: Map<string, PlanEntry>,
    result: ScheduleResult,
  ): Promise<void> {
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
    result: ScheduleResult,
  ): Promise<StaleReason[] | undefined> {
    const emit = this.#o.emit;
    // Keys are built from inputs, not output content. When an upstream had to be recomputed
    // (corrupt or lost cache) and a non-deterministic stage (training) produced different
    // bytes under the same key, results built on the old bytes are stale too.
    const changedUpstream = instance.deps.filter((dep) =>
      this.#outputsChanged.has(dep)
    );
    if (decision.action !== "run" && changedUpstream.length > 0) {
      return changedUpstream.map((name) => ({ kind: "upstream-output", name }));
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
      declared: instance.outputs,
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
    reasons: StaleReason[],
    result: ScheduleResult,
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
        args: this.#o.args,
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
        stage: other.stage.name,
        item: other.item,
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
