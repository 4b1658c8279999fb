/**
 * The in-process executor: stages run in the coordinator itself, one at a time.
 *
 * @module
 */
import { InterruptedError, permissionError } from "../errors.ts";
import type { PipelineEvent } from "../events.ts";
import { runStage } from "../stage_run.ts";
import type { Store } from "../store/mod.ts";
import type { FileStamp } from "../plan/code_hash.ts";
import type { ExecOutcome, ExecTask, Executor } from "./mod.ts";

/** Options of {@link InProcessExecutor}. */
export interface InProcessOptions {
  /** Where results go. */
  store: Store;
  /** The whole validated params. */
  allParams: unknown;
  /** The DAG as Mermaid. */
  mermaid: string;
  /** The user's command arguments. */
  args?: readonly string[];
  /** Absolute project root. */
  root: string;
  /** How the code files looked when they were hashed. */
  codeStamps: ReadonlyMap<string, FileStamp>;
  /** When the code may first have been loaded. */
  codeLoadedSince?: number;
  /** Seconds a stage gets to return after Ctrl-C. */
  abortGraceSeconds: number;
  /** Receives log, progress and warning events. */
  emit: (event: PipelineEvent) => void;
}

/** Runs stages in this process, one at a time. */
export class InProcessExecutor implements Executor {
  /** One at a time: stages in one process share one event loop and one backend. */
  readonly slots = 1;
  #options: InProcessOptions;

  /** Creates the executor. */
  constructor(options: InProcessOptions) {
    this.#options = options;
  }

  /** Runs the stage here. */
  async execute(task: ExecTask, signal: AbortSignal): Promise<ExecOutcome> {
    try {
      const manifest = await runStage(task.instance, {
        ...this.#options,
        upstream: task.upstream,
        signal,
      });
      return { outcome: "ran", manifest };
    } catch (error) {
      if (signal.aborted || error instanceof InterruptedError) {
        return { outcome: "interrupted" };
      }
      // A path outside the task's permissions: say where the permissions are written.
      return { outcome: "failed", error: permissionError(error) ?? error };
    }
  }
}
