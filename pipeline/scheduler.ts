/**
 * The scheduler: starts ready instances (all upstream done) while the executor has free slots,
 * restores what the store has, checks out and records what ran. After a failure no new instance
 * starts and running ones finish; Ctrl-C stops them all.
 *
 * An instance's key holds its upstream outputs, so an instance below one that ran is decided
 * again once that one is done, with its real key: when the upstream reproduced its outputs, the
 * key is the one it had and nothing below reruns (early cutoff).
 *
 * @module
 */
import { join } from "node:path";
import { type Decided, staleness } from "./plan/decide.ts";
import { StageFailedError } from "./errors.ts";
import type { PipelineEvent } from "./events.ts";
import type { ExecOutcome, Executor } from "./executor/mod.ts";
import { upstreamClosure } from "./plan/graph.ts";
import { type LockEntry, type LockFile, writeLockFile } from "./lock.ts";
import {
  type EngineOptions,
  type KeyedInstance,
  keyInstance,
  type OutputHashes,
  type Plan,
  type PlannedInstance,
} from "./plan/mod.ts";
import type { StaleReason } from "./plan/reasons.ts";
import { type Manifest, remoteUnavailableIn, type Store } from "./store/mod.ts";
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
  forced: ReadonlySet<string>;
  writeFile: EngineOptions["writeFile"];
  signal: AbortSignal;
  args?: readonly string[];
}

type State = "waiting" | "running" | "done" | "failed";

/** Runs the decided instances of one run (see the module doc). */
export class Scheduler {
  #o: SchedulerOptions;
  #ranNow = new Set<string>();
  #seconds = new Map<string, number>();
  #outputs = new Map<string, OutputHashes>();
  #keyed = new Map<string, KeyedInstance>();
  #lockWrites: Promise<void> = Promise.resolve();
  /** Stops running instances on a fault the run cannot go on with (the user's Ctrl-C is `signal`). */
  #stop = new AbortController();

  /** Creates the scheduler of one run. */
  constructor(options: SchedulerOptions) {
    this.#o = options;
    for (const [name, entry] of Object.entries(options.lock.instances)) {
      if (entry.seconds !== undefined) this.#seconds.set(name, entry.seconds);
    }
  }

  /**
   * Settles every decided instance, filling `result`. Whatever ends it (a failure, an error of
   * its own), no instance is left running, and results kept here but not published are named.
   */
  async run(
    decided: readonly Decided[],
    result: ScheduleResult,
  ): Promise<void> {
    await this.#publishPending();
    const running = new Map<string, Promise<void>>();
    try {
      await this.#loop(decided, result, running);
    } finally {
      if (running.size > 0) {
        this.#stop.abort();
        await Promise.allSettled(running.values());
      }
      await this.#reportUnpublished();
    }
  }

  /** Results an earlier run kept while the remote was down: published now that it answers. */
  async #publishPending(): Promise<void> {
    if (this.#o.store.remote === undefined) return;
    const published = await this.#o.store.publishPending().catch((error) => {
      this.#o.emit({
        type: "warning",
        message: `results kept while the remote was down were not published: ${
          (error as Error).message
        }`,
      });
      return [] as string[];
    });
    for (const name of published) {
      this.#o.emit({
        type: "log",
        instance: name,
        line:
          `${name}: published to ${this.#o.store.remote.url} (computed while it was down)`,
      });
    }
  }

  async #reportUnpublished(): Promise<void> {
    const remote = this.#o.store.remote;
    if (remote === undefined) return;
    const left = await this.#o.store.unpublished().catch(() => []);
    if (left.length === 0) return;
    this.#o.emit({
      type: "warning",
      message:
        `not published to ${remote.url} (kept in ${this.#o.store.location}): ${
          left.map((e) => e.instance).join(", ")
        }; \`deno task pipeline push\` publishes them once the remote answers (so does the next run)`,
    });
  }

  async #loop(
    decided: readonly Decided[],
    result: ScheduleResult,
    running: Map<string, Promise<void>>,
  ): Promise<void> {
    const signal = AbortSignal.any([this.#o.signal, this.#stop.signal]);
    const byName = new Map(decided.map((d) => [d.instance.name, d]));
    const state = new Map<string, State>();
    for (const name of byName.keys()) state.set(name, "waiting");
    const ready = (instance: PlannedInstance) =>
      instance.deps.every((dep) =>
        !state.has(dep) || state.get(dep) === "done"
      );
    const stopping = () => signal.aborted || result.failures.length > 0;
    const order = this.#o.plan.instances.filter((i) => byName.has(i.name));
    // Decided to run while every slot was busy: started when one frees up.
    const toRunLater = new Map<
      string,
      { keyed: KeyedInstance; reasons: StaleReason[] }
    >();
    while (true) {
      for (const instance of order) {
        if (stopping()) break;
        if (state.get(instance.name) !== "waiting" || !ready(instance)) {
          continue;
        }
        let toRun = toRunLater.get(instance.name);
        if (toRun === undefined) {
          let reasons: StaleReason[] | undefined;
          let decision: Decided;
          try {
            decision = await this.#redecide(
              byName.get(instance.name) as Decided,
            );
            reasons = await this.#tryCached(decision, result);
          } catch (error) {
            // A lookup that failed (the remote is unreachable after its retries): this instance
            // fails, with the error's one line, and the run stops as after any failure.
            state.set(instance.name, "failed");
            this.#fail(instance.name, error, result, 0);
            continue;
          }
          if (reasons === undefined) {
            state.set(instance.name, "done");
            continue;
          }
          toRun = { keyed: decision.keyed as KeyedInstance, reasons };
        }
        if (running.size >= this.#o.executor.slots) {
          toRunLater.set(instance.name, toRun);
          break;
        }
        toRunLater.delete(instance.name);
        state.set(instance.name, "running");
        running.set(
          instance.name,
          this.#execute(toRun.keyed, toRun.reasons, { result, signal })
            .then((ok) => {
              state.set(instance.name, ok ? "done" : "failed");
              running.delete(instance.name);
            }),
        );
      }
      if (running.size === 0) {
        const anyReady = !stopping() &&
          order.some((i) => state.get(i.name) === "waiting" && ready(i));
        if (!anyReady) return;
        continue;
      }
      await Promise.race(running.values());
    }
  }

  /**
   * The decision for an instance whose upstream is done: the planned one when its key was final
   * then, else decided again with its real key (its upstream's outputs are known now).
   */
  async #redecide(planned: Decided): Promise<Decided> {
    const { instance } = planned;
    const keyed = keyInstance(instance, (dep) => this.#outputs.get(dep));
    if (keyed === undefined) {
      throw new Error(
        `bug: ${instance.name} is ready but an upstream has no outputs`,
      );
    }
    if (planned.keyed?.key === keyed.key && planned.pendingOn.length === 0) {
      return { ...planned, keyed };
    }
    const found = await staleness(this.#o.plan, keyed, {
      lock: this.#o.lock,
      store: this.#o.store,
    });
    const forced = this.#o.forced.has(instance.name);
    return {
      instance,
      keyed,
      pendingOn: [],
      decision: forced
        ? "run"
        : found.reasons.length === 0
        ? "fresh"
        : found.cachedResult
        ? "restore"
        : "run",
      staleness: forced
        ? { ...found, reasons: [{ kind: "forced" }, ...found.reasons] }
        : found,
    };
  }

  /** Settles an instance without running it when possible; else returns its reasons to run. */
  async #tryCached(
    decided: Decided,
    result: ScheduleResult,
  ): Promise<StaleReason[] | undefined> {
    const emit = this.#o.emit;
    const instance = decided.keyed as KeyedInstance;
    const { reasons } = decided.staleness;
    if (decided.decision === "fresh") {
      this.#settle(instance, decided.staleness.outputs ?? {});
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
    if (decided.decision !== "restore" && !useRemote) return reasons;
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
      return decided.decision === "restore" ? [restored.reason] : reasons;
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
    instance: KeyedInstance,
    reasons: StaleReason[],
    { result, signal }: { result: ScheduleResult; signal: AbortSignal },
  ): Promise<boolean> {
    const emit = this.#o.emit;
    emit({ type: "start", instance: instance.name, reasons });
    const started = performance.now();
    let outcome: ExecOutcome;
    try {
      outcome = await this.#o.executor.execute({
        instance,
        upstream: this.#upstreamInfo(instance),
        recompute: this.#o.forced.has(instance.name),
        args: this.#o.args,
      }, signal);
      if (outcome.outcome === "ran") {
        const manifest = outcome.manifest;
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
        this.#fail(instance.name, outcome.error, result, seconds);
        return false;
    }
  }

  /**
   * Records a failure. When the remote is unreachable and the executor's instances deliver their
   * results through it (Slurm jobs), the running ones are stopped too: none could deliver.
   */
  #fail(
    name: string,
    error: unknown,
    result: ScheduleResult,
    seconds: number,
  ): void {
    result.failures.push({
      stage: name,
      error: new StageFailedError(name, error),
    });
    this.#o.emit({ type: "failed", instance: name, error, seconds });
    if (
      this.#o.executor.needsRemote === true &&
      (remoteUnavailableIn(error) !== undefined ||
        this.#o.store.remoteDown !== undefined)
    ) {
      this.#stop.abort();
    }
  }

  /** Marks an instance done with its outputs: the keys below it can be computed. */
  #settle(instance: KeyedInstance, outputs: OutputHashes): void {
    this.#keyed.set(instance.name, instance);
    this.#outputs.set(instance.name, outputs);
  }

  async #record(
    instance: KeyedInstance,
    manifest: Manifest,
    checkedOut: LockEntry["outputs"],
  ): Promise<void> {
    this.#settle(instance, manifest.outputs);
    const entry: LockEntry = {
      stage: instance.stage.name,
      item: instance.item ?? null,
      key: instance.key,
      params: instance.record.params,
      code: instance.record.code,
      inputs: instance.record.inputs,
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

  #upstreamInfo(instance: PlannedInstance): Record<string, UpstreamInfo> {
    const names = upstreamClosure(this.#o.plan.instances, instance.deps);
    const out: Record<string, UpstreamInfo> = {};
    for (const other of this.#o.plan.instances) {
      if (!names.has(other.name)) continue;
      const keyed = this.#keyed.get(other.name);
      if (keyed === undefined) continue;
      out[other.name] = {
        key: keyed.key,
        seconds: this.#seconds.get(other.name) ?? 0,
        cached: !this.#ranNow.has(other.name),
        stage: other.stage.name,
        item: other.item,
      };
    }
    return out;
  }
}
