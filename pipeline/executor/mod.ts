/**
 * Executors start stage instances: in this process (`in_process.ts`), one local process per
 * instance (`processes.ts`, the `worker` subcommand), or one Slurm job per instance
 * (`slurm.ts`). Nothing outside `executor/` knows how a process or a job is started. An
 * executor returns when the instance's result is in the local store (or failed); the engine
 * checks it out and records it.
 *
 * @module
 */
import type { KeyedInstance } from "../plan/mod.ts";
import type { Manifest } from "../store/mod.ts";
import type { UpstreamInfo } from "../types.ts";

/** One instance to compute. */
export interface ExecTask {
  /** The instance with its key. */
  instance: KeyedInstance;
  /** Transitive upstream by name (keys, seconds, whether cached). */
  upstream: Record<string, UpstreamInfo>;
  /** Compute even if the store has a result (`--force`). */
  recompute: boolean;
  /** The user's command arguments. */
  args?: readonly string[];
}

/** How an executed instance ended. */
export type ExecOutcome =
  | { outcome: "ran"; manifest: Manifest }
  | { outcome: "failed"; error: unknown }
  | { outcome: "interrupted" };

/** Starts instances somewhere and waits for their results. */
export interface Executor {
  /** How many instances may run at once. */
  readonly slots: number;
  /**
   * Its instances deliver results through the remote store (Slurm jobs): when the remote is
   * unreachable the run stops them instead of letting them finish.
   */
  readonly needsRemote?: boolean;
  /** Computes one instance; resolves when its result is stored or it failed. Never rejects. */
  execute(task: ExecTask, signal: AbortSignal): Promise<ExecOutcome>;
}

/** What the worker tells its coordinator about an instance's upstream (kept with the job). */
export interface JobSpec {
  /** Instance name. */
  instance: string;
  /** The key the coordinator planned. */
  key: string;
  /** What went into the key (so a refusing worker can say what differs). */
  record: unknown;
  /** Upstream seconds and whether they were cached, by instance name. */
  upstream: Record<string, { seconds: number; cached: boolean; key: string }>;
  /** The user's command arguments (the stage sees them as `ctx.args`). */
  args?: readonly string[];
}
