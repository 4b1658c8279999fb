/**
 * Runs one stage instance through the store: a fresh temp output dir, the per-key scratch dir,
 * its inputs (exactly the upstream outputs its key names, checked out and verified), `run(ctx)`,
 * then, before anything is published, the checks that the key still describes what ran (the
 * inputs and the code are unchanged), and the store saves the outputs and writes the manifest
 * last. The in-process executor and the `worker` subcommand both run stages here.
 *
 * @module
 */
import { InterruptedError } from "./errors.ts";
import type { PipelineEvent } from "./events.ts";
import type { FileStamp } from "./plan/code_hash.ts";
import { checkCodeUnchanged } from "./plan/code_stability.ts";
import type { KeyedInstance } from "./plan/mod.ts";
import {
  checkInputsUnchanged,
  type Manifest,
  MANIFEST_VERSION,
  type RunDirs,
  type Store,
} from "./store/mod.ts";
import type {
  Progress,
  ProgressOptions,
  StageContext,
  UpstreamInfo,
} from "./types.ts";

/** What a stage run needs besides its instance. */
export interface StageRunOptions {
  /** The store its result goes to. */
  store: Store;
  /** The whole validated params. */
  allParams: unknown;
  /** The DAG as Mermaid. */
  mermaid: string;
  /** The user's command arguments. */
  args?: readonly string[];
  /** Transitive upstream by name (keys; directories are filled in for direct ones). */
  upstream: Record<string, UpstreamInfo>;
  /** Absolute project root. */
  root: string;
  /** How the code files looked when they were hashed (see `plan/code_stability.ts`). */
  codeStamps: ReadonlyMap<string, FileStamp>;
  /** When the code may first have been loaded (see `plan/code_stability.ts`). */
  codeLoadedSince?: number;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** Seconds a stage gets to return after the signal. */
  abortGraceSeconds: number;
  /** Receives log, progress and warning events. */
  emit: (event: PipelineEvent) => void;
  /** Called with the run's directories once they exist (a worker checks out inputs there). */
  prepare?: (dirs: RunDirs) => Promise<void>;
}

/** Runs `instance` and saves its result; throws the stage's error (or an InterruptedError). */
export async function runStage(
  instance: KeyedInstance,
  options: StageRunOptions,
): Promise<Manifest> {
  const { store, emit, signal } = options;
  const started = performance.now();
  const dirs = await store.startRun(instance.name, instance.key);
  let success = false;
  try {
    await options.prepare?.(dirs);
    const keys = Object.fromEntries(
      instance.deps.map((dep) => [dep, options.upstream[dep]?.key ?? ""]),
    );
    const view = await store.linkInputs(
      instance.record.inputs,
      dirs.inputsDir,
      { keys },
    );
    const upstream: Record<string, UpstreamInfo> = {};
    for (const [name, info] of Object.entries(options.upstream)) {
      const { dir: _notRead, ...rest } = info;
      upstream[name] = name in view.dirs
        ? { ...rest, dir: view.dirs[name] }
        : rest;
    }
    const ctx: StageContext<unknown> = {
      name: instance.name,
      params: structuredClone(instance.params),
      item: instance.item,
      allParams: options.allParams,
      inputs: view.dirs,
      upstream,
      mermaid: options.mermaid,
      args: options.args,
      outDir: dirs.outDir,
      scratchDir: dirs.scratchDir,
      signal,
      log: (line) => emit({ type: "log", instance: instance.name, line }),
      progress: progressReporter(instance.name, emit),
    };
    await raceAbort(
      Promise.resolve().then(() => instance.stage.run(ctx)),
      signal,
      options.abortGraceSeconds * 1000,
    );
    const manifest = await store.save(dirs.outDir, {
      declared: instance.outputs,
      // Publish under this key only if what ran is what the key names: the inputs it read and
      // the code it loaded are still those the key was computed from.
      beforePublish: async () => {
        await checkInputsUnchanged(view);
        await checkCodeUnchanged(Object.keys(instance.record.code.files), {
          root: options.root,
          stamps: options.codeStamps,
          loadedSince: options.codeLoadedSince,
        });
      },
      manifest: {
        version: MANIFEST_VERSION,
        key: instance.key,
        stage: instance.stage.name,
        instance: instance.name,
        item: instance.item ?? null,
        params: instance.record.params,
        code: instance.record.code,
        inputs: instance.record.inputs,
        upstream: keys,
        seconds: (performance.now() - started) / 1000,
        finishedAt: new Date().toISOString(),
      },
    });
    success = true;
    return manifest;
  } finally {
    await store.endRun(dirs, { success });
  }
}

function progressReporter(
  instance: string,
  emit: (event: PipelineEvent) => void,
): (options: ProgressOptions) => Progress {
  let ids = 0;
  return (options) => {
    const id = ++ids;
    const started = performance.now();
    let last = 0;
    let lastFields: Record<string, string | number> = {};
    let finished = false;
    const send = (done: number, end: boolean, summary?: string) =>
      emit({
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
  };
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
