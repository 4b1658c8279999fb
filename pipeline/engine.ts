/**
 * The engine: plan (params -> instances -> keys), status and run (gc and verify live in
 * `gc.ts` and `verify.ts`). It reports through events only and never prints.
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CodeHasher } from "./code_hash.ts";
import {
  InterruptedError,
  permissionError,
  StageFailedError,
} from "./errors.ts";
import type { PipelineEvent, PlanEntry } from "./events.ts";
import { removeIfExists, removeTempFiles, type WriteFile } from "./fs.ts";
import {
  downstreamClosure,
  expandInstances,
  type Instance,
  matchTarget,
  toMermaid,
  upstreamClosure,
  validateDeclarations,
} from "./graph.ts";
import { changeReasons, computeKey, type KeyRecord } from "./key.ts";
import {
  type LockEntry,
  type LockFile,
  readLockFile,
  writeLockFile,
} from "./lock.ts";
import { acquireRunLock, type RunLock, type RunLockInfo } from "./run_lock.ts";
import { checkUpstream, type UpstreamRef } from "./upstream_check.ts";
import { loadParams, type ParamOverride } from "./params.ts";
import {
  cacheReason,
  changedOutputs,
  type Manifest,
  NOT_IN_CACHE,
  Store,
} from "./store.ts";
import type {
  AnyStage,
  PipelineDeclaration,
  Progress,
  ProgressOptions,
  StageContext,
  UpstreamInfo,
} from "./types.ts";

/** Options shared by every engine entry point. */
export interface EngineOptions {
  /** Project root (path or file: URL). */
  root: string | URL;
  /** Params file to use instead of the declaration's (absolute, or relative to the cwd). */
  paramsFile?: string;
  /** `--set` overrides. */
  overrides?: readonly ParamOverride[];
  /** Receives every event. */
  onEvent?: (event: PipelineEvent) => void;
  /** Import map for code hashing; read from `<root>/deno.json` when omitted. */
  importMap?: Record<string, string>;
  /** Writes the engine's own files (manifests, `pipeline.lock`); tests inject faults here. */
  writeFile?: WriteFile;
}

/** A planned instance with its key. */
export interface PlannedInstance extends Instance {
  /** The instance's key. */
  key: string;
  /** What went into the key. */
  record: KeyRecord;
}

/** The resolved pipeline: validated params, instances in run order with keys. */
export interface Plan {
  /** Absolute root. */
  root: string;
  /** The validated params. */
  params: unknown;
  /** Instances in topological order. */
  instances: PlannedInstance[];
  /** The instance DAG as a Mermaid flowchart. */
  mermaid: string;
}

/** Absolute root path from a path or URL. */
export function rootPath(root: string | URL): string {
  if (root instanceof URL) return fileURLToPath(root);
  if (root.startsWith("file:")) return fileURLToPath(root);
  return resolve(root);
}

function engineDirRelative(root: string): string | undefined {
  const rel = relative(root, fileURLToPath(new URL(".", import.meta.url)))
    .replaceAll("\\", "/");
  return rel.startsWith("..") || isAbsolute(rel) ? undefined : `${rel}/`;
}

/**
 * Validates the declaration and params, expands instances and computes every key.
 * Throws a {@link UserError} for bad params, unknown deps, cycles or mismatched foreach items.
 */
export async function planPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: EngineOptions,
): Promise<Plan> {
  const root = rootPath(options.root);
  const stages = pipeline.stages as readonly AnyStage<unknown>[];
  validateDeclarations(stages);
  const paramsFile = options.paramsFile === undefined
    ? join(root, pipeline.paramsFile)
    : resolve(options.paramsFile);
  const params = await loadParams(pipeline.params, paramsFile, {
    overrides: options.overrides,
    displayName: options.paramsFile ?? pipeline.paramsFile,
    required: options.paramsFile !== undefined,
  });
  const instances = expandInstances(stages, params);
  const exclude = ["pipeline/", engineDirRelative(root)].filter(
    (entry): entry is string => entry !== undefined,
  );
  const hasher = new CodeHasher({
    root,
    importMap: options.importMap,
    exclude: [...new Set(exclude)],
  });
  const codes = new Map<string, Promise<KeyRecord["code"]>>();
  const keys = new Map<string, string>();
  const planned: PlannedInstance[] = [];
  for (const instance of instances) {
    const codeId = `${instance.stage.name}\n${instance.stage.code}`;
    let code = codes.get(codeId);
    if (code === undefined) {
      code = fingerprintStage(hasher, instance.stage);
      codes.set(codeId, code);
    }
    const upstream: Record<string, string> = {};
    for (const dep of [...instance.deps].sort()) {
      upstream[dep] = keys.get(dep) as string;
    }
    const record: KeyRecord = {
      stage: instance.stage.name,
      item: instance.item ?? null,
      params: instance.params,
      upstream,
      code: await code,
    };
    const key = await computeKey(record);
    keys.set(instance.name, key);
    planned.push({ ...instance, key, record });
  }
  return { root, params, instances: planned, mermaid: toMermaid(instances) };
}

async function fingerprintStage(
  hasher: CodeHasher,
  stage: AnyStage<unknown>,
): Promise<KeyRecord["code"]> {
  const code = await hasher.fingerprint(stage.code);
  if (stage.files === undefined || stage.files.length === 0) return code;
  const files = {
    ...code.files,
    ...await hasher.dataFiles(stage.name, stage.files),
  };
  const sorted: Record<string, string> = {};
  for (const path of Object.keys(files).sort()) sorted[path] = files[path];
  return { files: sorted, packages: code.packages };
}

/** One line of `status`. */
export interface StatusEntry {
  /** Instance name. */
  stage: string;
  /** Fresh: nothing to do. Stale: see reasons. */
  state: "fresh" | "stale";
  /** Every reason it is stale. */
  reasons: string[];
}

/**
 * Why `instance` is stale (empty: fresh) and whether its result is in the cache. Status, dry run
 * and run all decide here, so they tell the same story; a result counts as cached only when its
 * manifest reads back valid.
 */
async function staleness(
  plan: Plan,
  instance: PlannedInstance,
  lock: LockFile,
  store: Store,
): Promise<{ reasons: string[]; cachedResult: boolean }> {
  const read = await store.readManifest(instance.key);
  const cachedResult = read.state === "ok";
  const notCached = cacheReason(read);
  const entry = lock.instances[instance.name];
  if (entry === undefined) {
    return {
      reasons: [notCached ?? "not checked out (result in cache)"],
      cachedResult,
    };
  }
  if (entry.key !== instance.key) {
    const reasons = changeReasons(entry, instance.record);
    if (reasons.length === 0) reasons.push("key changed (engine format)");
    // The action (run or restore) says whether the new key is cached; only a corrupt entry adds a reason.
    if (read.state === "invalid") reasons.push(notCached as string);
    return { reasons, cachedResult };
  }
  const reasons: string[] = [];
  if (notCached !== undefined) reasons.push(notCached);
  if (entry.workspace !== instance.workspace) {
    reasons.push(
      `workspace changed (${entry.workspace} -> ${instance.workspace})`,
    );
  }
  const changed = await changedOutputs(join(plan.root, instance.workspace), {
    recorded: entry.outputs,
    declared: instance.stage.outputs,
  });
  for (const output of changed) {
    reasons.push(`output missing or corrupt (${output})`);
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
  const store = new Store(plan.root);
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

function selectInstances(plan: Plan, targets: readonly string[]): Set<string> {
  if (targets.length === 0) {
    return new Set(plan.instances.map((instance) => instance.name));
  }
  const names = targets.flatMap((target) =>
    matchTarget(plan.instances, target)
  );
  return upstreamClosure(plan.instances, names);
}

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
}

/** How a run ended. */
export interface RunResult {
  /** success: everything selected is up to date. */
  outcome: "success" | "failed" | "interrupted" | "dry-run";
  /** Instances that ran. */
  ran: string[];
  /** Instances taken from the cache (up to date or restored). */
  cached: string[];
  /** The instance that failed or was interrupted. */
  stage?: string;
  /** The error of a failed stage. */
  error?: unknown;
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

/** Runs every stale instance in topological order (see {@link RunOptions}). */
export async function runPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: RunOptions,
): Promise<RunResult> {
  const emit = options.onEvent ?? (() => {});
  const planStarted = performance.now();
  const plan = await planPipeline(pipeline, options);
  const planMs = performance.now() - planStarted;
  const store = new Store(plan.root, { writeFile: options.writeFile });
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
    outputs,
    plan: [],
    timings: { planMs, decideMs: 0 },
  };
  let runLock: RunLock | undefined;
  try {
    runLock = options.dryRun ? undefined : await acquireRunLock(store.dir, {
      command: options.command,
      wait: options.wait,
      signal: options.signal,
      onWait: (holder) =>
        emit({ type: "warning", message: waitingMessage(holder) }),
    });
  } catch (error) {
    // Ctrl-C while waiting for another run: nothing started, nothing to clean up.
    if (!options.signal?.aborted) throw error;
    emit({ type: "interrupted", instance: undefined });
    return { ...result, outcome: "interrupted" };
  }
  try {
    if (runLock !== undefined) await removeLeftovers(plan, store);
    const decideStarted = performance.now();
    const lock = await readLockFile(plan.root);
    const decisions = new Map<string, PlanEntry & { cachedResult: boolean }>();
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
      decisions.set(instance.name, { ...entry, cachedResult });
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
    const context = new RunState(plan, store, lock, emit, options);
    for (const instance of plan.instances) {
      const decision = decisions.get(instance.name);
      if (decision === undefined) continue;
      if (options.signal?.aborted) {
        emit({ type: "interrupted", instance: undefined });
        result.outcome = "interrupted";
        return result;
      }
      const step = await context.execute(instance, decision);
      if (step.outcome === "ran" || step.outcome === "cached") {
        (step.outcome === "ran" ? result.ran : result.cached).push(
          instance.name,
        );
      } else {
        result.outcome = step.outcome;
        result.stage = instance.name;
        result.error = step.error;
        return result;
      }
    }
    if (options.signal?.aborted) {
      emit({ type: "interrupted", instance: undefined });
      result.outcome = "interrupted";
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

function waitingMessage(holder: RunLockInfo | undefined): string {
  const who = holder === undefined
    ? "another run"
    : `the run of pid ${holder.pid} on ${holder.host} (since ${holder.startedAt})`;
  return `waiting for ${who} to finish (.pipeline/run.lock)`;
}

/**
 * Removes what killed runs left: partial outputs under `.pipeline/tmp` and temp files next to
 * manifests, `pipeline.lock` and checked-out outputs. Only called under the run lock, when no
 * other process is writing them.
 */
async function removeLeftovers(plan: Plan, store: Store): Promise<void> {
  await removeIfExists(join(store.dir, "tmp"));
  const dirs = new Set([
    store.dir,
    join(store.dir, "runs"),
    plan.root,
    ...plan.instances.map((instance) => join(plan.root, instance.workspace)),
  ]);
  for (const dir of dirs) await removeTempFiles(dir);
}

type StepOutcome =
  | { outcome: "ran" }
  | { outcome: "cached" }
  | { outcome: "failed"; error: unknown }
  | { outcome: "interrupted"; error: unknown };

class RunState {
  #ranNow = new Set<string>();
  #outputsChanged = new Set<string>();
  #seconds = new Map<string, number>();
  #plan: Plan;
  #store: Store;
  #lock: LockFile;
  #emit: (event: PipelineEvent) => void;
  #options: RunOptions;
  #byName: Map<string, PlannedInstance>;
  #progressIds = 0;

  constructor(
    plan: Plan,
    store: Store,
    lock: LockFile,
    emit: (event: PipelineEvent) => void,
    options: RunOptions,
  ) {
    this.#plan = plan;
    this.#store = store;
    this.#lock = lock;
    this.#emit = emit;
    this.#options = options;
    this.#byName = new Map(plan.instances.map((i) => [i.name, i]));
    for (const [name, entry] of Object.entries(lock.instances)) {
      if (entry.seconds !== undefined) this.#seconds.set(name, entry.seconds);
    }
  }

  async execute(
    instance: PlannedInstance,
    decision: PlanEntry,
  ): Promise<StepOutcome> {
    // Keys are built from inputs, not output content. When an upstream had to be recomputed
    // (corrupt or lost cache) and a non-deterministic stage (training) produced different
    // bytes under the same key, results built on the old bytes are stale too.
    const changedUpstream = instance.deps.filter((dep) =>
      this.#outputsChanged.has(dep)
    );
    if (decision.action !== "run" && changedUpstream.length > 0) {
      return await this.#run(
        instance,
        changedUpstream.map((dep) => `upstream output changed (${dep})`),
      );
    }
    if (decision.action === "fresh") {
      this.#emit({
        type: "finish",
        instance: instance.name,
        outcome: "cached",
        detail: "up to date",
        seconds: 0,
      });
      return { outcome: "cached" };
    }
    let reasons = decision.reasons;
    if (decision.action === "restore") {
      const started = performance.now();
      const restored = await this.#restore(instance);
      if (restored.ok) {
        this.#emit({
          type: "finish",
          instance: instance.name,
          outcome: "cached",
          detail: "restored",
          seconds: (performance.now() - started) / 1000,
        });
        return { outcome: "cached" };
      }
      reasons = [restored.reason];
    }
    return await this.#run(instance, reasons);
  }

  async #restore(
    instance: PlannedInstance,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const read = await this.#store.readManifest(instance.key);
    if (read.state === "missing") return { ok: false, reason: NOT_IN_CACHE };
    if (read.state === "invalid") {
      this.#emit({
        type: "warning",
        instance: instance.name,
        message:
          `manifest of ${instance.name} is invalid (${read.reason}); recomputing`,
      });
      await this.#store.removeManifest(instance.key);
      return { ok: false, reason: "cached result invalid" };
    }
    const manifest = read.manifest;
    const missingDeclared = instance.stage.outputs.filter((o) =>
      !(o in manifest.outputs)
    );
    const corrupt = [
      ...missingDeclared,
      ...await this.#store.corruptObjects(manifest),
    ];
    if (corrupt.length > 0) {
      this.#emit({
        type: "warning",
        instance: instance.name,
        message: `cached result of ${instance.name} is corrupt (${
          corrupt.join(", ")
        }): its content no longer matches its hash; recomputing`,
      });
      await this.#store.removeObjects(
        corrupt.flatMap((o) =>
          manifest.outputs[o] ? [manifest.outputs[o]] : []
        ),
      );
      await this.#store.removeManifest(instance.key);
      return {
        ok: false,
        reason: `cached result corrupt (${corrupt.join(", ")})`,
      };
    }
    await this.#commit(instance, manifest);
    return { ok: true };
  }

  async #commit(instance: PlannedInstance, manifest: Manifest): Promise<void> {
    const dir = join(this.#plan.root, instance.workspace);
    const checkedOut = await this.#store.checkout(manifest.outputs, dir, {
      clean: instance.stage.workspace === undefined,
    });
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
    this.#lock.instances[instance.name] = entry;
    await writeLockFile(this.#plan.root, this.#lock, {
      writeFile: this.#options.writeFile,
    });
  }

  async #run(
    instance: PlannedInstance,
    reasons: string[],
  ): Promise<StepOutcome> {
    const emit = this.#emit;
    emit({ type: "start", instance: instance.name, reasons });
    // The lock entry is left alone until commit: run() writes into a temp outDir and the
    // workspace is only touched by #commit, so the old entry still describes the workspace if
    // this run fails or dies, and status can keep naming the real reasons.
    const started = performance.now();
    const outDir = await this.#store.makeTempDir(
      instance.name.replace("@", "-"),
    );
    const scratchDir = this.#store.scratchPath(instance.key);
    await Deno.mkdir(scratchDir, { recursive: true });
    const signal = this.#options.signal ?? new AbortController().signal;
    const ctx: StageContext<unknown> = {
      name: instance.name,
      params: structuredClone(instance.params),
      item: instance.item,
      allParams: this.#plan.params,
      inputs: Object.fromEntries(
        instance.deps.map((dep) => [dep, this.#dirOf(dep)]),
      ),
      upstream: this.#upstreamInfo(instance),
      mermaid: this.#plan.mermaid,
      outDir,
      scratchDir,
      signal,
      log: (line) => emit({ type: "log", instance: instance.name, line }),
      progress: (options) => this.#progress(instance.name, options),
    };
    try {
      await raceAbort(
        Promise.resolve().then(() => instance.stage.run(ctx)),
        signal,
        (this.#options.abortGraceSeconds ?? 10) * 1000,
      );
      const previous = await this.#previousOutputs(instance);
      const records = await this.#store.putOutputs(
        outDir,
        instance.stage.outputs,
      );
      if (!sameOutputs(previous, records)) {
        this.#outputsChanged.add(instance.name);
      }
      // Publish under this key only if the inputs were the upstream results the key names.
      await checkUpstream(this.#store, this.#upstreamRefs(instance));
      const seconds = (performance.now() - started) / 1000;
      const manifest: Manifest = {
        version: 1,
        key: instance.key,
        stage: instance.stage.name,
        instance: instance.name,
        item: instance.item ?? null,
        params: instance.params,
        code: instance.record.code,
        upstream: instance.record.upstream,
        outputs: records,
        seconds,
        finishedAt: new Date().toISOString(),
      };
      // The manifest is written last: without it nothing above counts as a result.
      await this.#store.writeManifest(manifest);
      await this.#commit(instance, manifest);
      await removeIfExists(scratchDir);
      this.#ranNow.add(instance.name);
      emit({
        type: "finish",
        instance: instance.name,
        outcome: "ran",
        seconds,
      });
      return { outcome: "ran" };
    } catch (error) {
      const seconds = (performance.now() - started) / 1000;
      if (signal.aborted) {
        emit({ type: "interrupted", instance: instance.name });
        return {
          outcome: "interrupted",
          error: new InterruptedError(instance.name),
        };
      }
      // A path outside the task's permissions: say where the permissions are written.
      const shown = permissionError(error) ?? error;
      emit({ type: "failed", instance: instance.name, error: shown, seconds });
      return {
        outcome: "failed",
        error: new StageFailedError(instance.name, shown),
      };
    } finally {
      await removeIfExists(outDir);
    }
  }

  /** Output hashes this key had before this run (lock entry, else manifest), if known. */
  async #previousOutputs(
    instance: PlannedInstance,
  ): Promise<Record<string, { sha256: string }> | undefined> {
    const entry = this.#lock.instances[instance.name];
    if (entry !== undefined && entry.key === instance.key) return entry.outputs;
    const read = await this.#store.readManifest(instance.key);
    return read.state === "ok" ? read.manifest.outputs : undefined;
  }

  #dirOf(name: string): string {
    const instance = this.#byName.get(name) as PlannedInstance;
    return join(this.#plan.root, instance.workspace);
  }

  #upstreamInfo(instance: PlannedInstance): Record<string, UpstreamInfo> {
    const names = upstreamClosure(this.#plan.instances, instance.deps);
    const out: Record<string, UpstreamInfo> = {};
    for (const other of this.#plan.instances) {
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

  #upstreamRefs(instance: PlannedInstance): UpstreamRef[] {
    const names = upstreamClosure(this.#plan.instances, instance.deps);
    return this.#plan.instances
      .filter((other) => names.has(other.name))
      .map((other) => ({
        name: other.name,
        key: other.key,
        dir: this.#dirOf(other.name),
      }));
  }

  #progress(instance: string, options: ProgressOptions): Progress {
    const id = ++this.#progressIds;
    const started = performance.now();
    let last = 0;
    let lastFields: Record<string, string | number> = {};
    let finished = false;
    const send = (done: number, end: boolean, summary?: string) =>
      this.#emit({
        type: "progress",
        instance,
        id,
        label: options.label,
        done,
        total: options.total,
        unit: options.unit ?? "it",
        fields: lastFields,
        elapsedMs: performance.now() - started,
        finished: end,
        summary,
      });
    return {
      update: (done, fields) => {
        if (finished) return;
        last = done;
        if (fields !== undefined) lastFields = { ...fields };
        send(done, false);
      },
      done: (summary) => {
        if (finished) return;
        finished = true;
        send(last, true, summary);
      },
    };
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

/**
 * Waits for `work`; once `signal` aborts, waits at most `graceMs` more and then rejects, so a
 * stage that ignores the signal cannot keep the run from stopping.
 */
function raceAbort<T>(
  work: Promise<T>,
  signal: AbortSignal,
  graceMs: number,
): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      timer = setTimeout(
        () => reject(new InterruptedError(undefined)),
        graceMs,
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolvePromise, reject).finally(() => {
      signal.removeEventListener("abort", onAbort);
      if (timer !== undefined) clearTimeout(timer);
    });
  });
}
