/**
 * Events: the only link between the engine and terminal output. The engine never prints; a
 * renderer (or a test) subscribes.
 *
 * @module
 */
import type { ProgressState } from "./progress.ts";
import type { StaleReason } from "./plan/reasons.ts";

/**
 * What the engine decided for one instance; `pending`: it runs only if an upstream that runs
 * first changes its outputs (decided again once that one ran).
 */
export type Action = "run" | "restore" | "fresh" | "pending";

/** One planned instance (dry-run and status). */
export interface PlanEntry {
  /** Instance name. */
  instance: string;
  /** What a run would do. */
  action: Action;
  /** Why it is stale (empty when fresh). */
  reasons: StaleReason[];
}

/** Everything the engine reports while it works. */
export type PipelineEvent =
  | { type: "plan"; entries: PlanEntry[]; dryRun: boolean }
  | { type: "start"; instance: string; reasons: StaleReason[] }
  | { type: "log"; instance: string; line: string }
  | ({
    type: "progress";
    instance: string;
    /** Distinguishes bars of the same instance. */
    id: number;
    /** True for the bar's final event. */
    finished: boolean;
    summary?: string;
  } & ProgressState)
  | {
    type: "finish";
    instance: string;
    outcome: "ran" | "cached";
    /** "up to date" (nothing to do) or "restored" (checked out from the store). */
    detail?: "up to date" | "restored";
    seconds: number;
  }
  | { type: "failed"; instance: string; error: unknown; seconds: number }
  | { type: "interrupted"; instance: string | undefined }
  | { type: "warning"; instance?: string; message: string }
  | { type: "summary"; lines: string[] }
  | {
    type: "round";
    /** The round (1-based). */
    round: number;
    /** `start`: the round begins; `decided`: its decision is known; `unknown`: not yet known. */
    state: "start" | "decided" | "unknown";
    /** The decision stage's line about it, or why it is not known. */
    note?: string;
  };
