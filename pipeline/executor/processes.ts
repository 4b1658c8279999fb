/**
 * The local-processes executor (`--jobs N`): each instance runs in a `worker` process of its
 * own; the worker streams its events as JSON lines on stdout and leaves its result in the
 * store. Ctrl-C interrupts every worker (SIGINT, then SIGKILL after the grace period).
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { PipelineEvent } from "../events.ts";
import type { Store } from "../store/mod.ts";
import type { ExecOutcome, ExecTask, Executor } from "./mod.ts";
import { jobSpec, readWorkerEvents, type WireEvent } from "./wire.ts";
import type { WorkerCommand } from "./worker_command.ts";

/** Options of {@link ProcessExecutor}. */
export interface ProcessExecutorOptions {
  /** Instances at once. */
  slots: number;
  /** How to start a worker. */
  command: WorkerCommand;
  /** Project root (the workers' working directory). */
  root: string;
  /** Where results are. */
  store: Store;
  /** Receives the workers' log, progress and warning events. */
  emit: (event: PipelineEvent) => void;
  /** Seconds a worker gets after SIGINT before SIGKILL. */
  abortGraceSeconds: number;
}

/** Runs each instance in a worker process. */
export class ProcessExecutor implements Executor {
  /** Instances at once. */
  readonly slots: number;
  #o: ProcessExecutorOptions;

  /** Creates the executor. */
  constructor(options: ProcessExecutorOptions) {
    this.slots = options.slots;
    this.#o = options;
  }

  /** Starts `worker KEY --json` and waits for it. */
  async execute(task: ExecTask, signal: AbortSignal): Promise<ExecOutcome> {
    const { command, root, store, emit } = this.#o;
    const { instance } = task;
    await store.putJob(instance.key, jobSpec(task));
    const child = new Deno.Command(command.command, {
      args: [
        ...command.args,
        "worker",
        instance.key,
        "--json",
        ...(task.recompute ? ["--recompute"] : []),
        ...command.planArgs,
      ],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      try {
        child.kill("SIGINT");
      } catch { /* already gone */ }
      killTimer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, this.#o.abortGraceSeconds * 1000);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    let failure: WireEvent | undefined;
    const stderr = new Response(child.stderr).text();
    await readWorkerEvents(child.stdout, instance.name, (event) => {
      if (event.type === "failed") failure = event;
      else if (event.type !== "done") emit(event);
    });
    const status = await child.status;
    signal.removeEventListener("abort", onAbort);
    if (killTimer !== undefined) clearTimeout(killTimer);
    const errText = (await stderr).trim();
    if (signal.aborted || status.code === 130) {
      return { outcome: "interrupted" };
    }
    if (status.success) {
      const read = await store.readManifest(instance.key);
      if (read.state === "ok") {
        return { outcome: "ran", manifest: read.manifest };
      }
      return {
        outcome: "failed",
        error: new UserError(
          `the worker of ${instance.name} exited 0 but left no result in the store`,
        ),
      };
    }
    const message = failure?.type === "failed"
      ? failure.message
      : `worker exited with code ${status.code}${
        errText === "" ? "" : `: ${errText.split("\n").slice(-5).join("\n")}`
      }`;
    return { outcome: "failed", error: new UserError(message) };
  }
}
