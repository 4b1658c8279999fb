/**
 * The Slurm executor (`--executor slurm`): each stale instance becomes one `sbatch` job named
 * `pipeline-<key>` with `--dependency=singleton`, so one key never runs twice at once, even
 * from two coordinators. The job runs this commit's `worker` subcommand, which publishes its
 * result to the remote store; the coordinator tracks the job with `squeue` only (clusters often
 * run without accounting, so no `sacct`) and then takes the result from the remote store.
 *
 * Instances are submitted when their upstream is done rather than all at once with `afterok`:
 * the coordinator has to collect each result anyway (check it out, record it), it consults the
 * remote store right before submitting (another coordinator may have published the key), and a
 * failed upstream leaves no job pending forever on a dependency that can never be satisfied.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import type { PipelineEvent } from "../events.ts";
import { readTextOrUndefined } from "../fs.ts";
import type { Store } from "../store/mod.ts";
import type { StageResources } from "../types.ts";
import type { ExecOutcome, ExecTask, Executor } from "./mod.ts";
import { jobSpec } from "./wire.ts";
import type { WorkerCommand } from "./worker_command.ts";

/** Options of {@link SlurmExecutor}. */
export interface SlurmOptions {
  /** How a job starts the worker. */
  command: WorkerCommand;
  /** Project root: the jobs' working directory (a shared file system on a real cluster). */
  root: string;
  /** The store; its remote carries results between nodes. */
  store: Store;
  /** Receives job state changes as log lines. */
  emit: (event: PipelineEvent) => void;
  /** Resources of a stage, config overrides applied. */
  resources: (stage: string) => StageResources;
  /** `--partition`. */
  partition?: string;
  /** Extra sbatch flags from the config. */
  sbatchArgs: readonly string[];
  /** Seconds between `squeue` polls. */
  pollSeconds: number;
}

/** Submits instances as Slurm jobs. */
export class SlurmExecutor implements Executor {
  /** The cluster's scheduler decides what runs; the coordinator submits whatever is ready. */
  readonly slots = 1000;
  /** Jobs take their job spec and deliver their result through the remote store. */
  readonly needsRemote = true;
  #o: SlurmOptions;

  /** Creates the executor; the remote store must be configured. */
  constructor(options: SlurmOptions) {
    if (options.store.remote === undefined) {
      throw new UserError(
        "--executor slurm exchanges results through the remote store: set PIPELINE_REMOTE=s3://bucket/prefix",
      );
    }
    this.#o = options;
  }

  /** Submits the job, waits until squeue no longer lists it, then fetches the result. */
  async execute(task: ExecTask, signal: AbortSignal): Promise<ExecOutcome> {
    const { instance } = task;
    const { store, emit } = this.#o;
    try {
      await store.putJob(instance.key, jobSpec(task));
      const logDir = await store.logDir();
      const jobId = await this.#submit(task, logDir);
      const log = join(logDir, `${logName(instance.name)}-${jobId}.out`);
      emit({
        type: "log",
        instance: instance.name,
        line: `submitted as slurm job ${jobId} (pipeline-${
          instance.key.slice(0, 12)
        }…)`,
      });
      const gone = await this.#waitUntilGone(jobId, instance.name, signal);
      if (!gone) {
        const cancelled = await run("scancel", [jobId]).then(
          () => `cancelled slurm job ${jobId}`,
          (error) =>
            `could not cancel slurm job ${jobId} (${
              (error as Error).message
            }): scancel ${jobId}`,
        );
        emit({ type: "log", instance: instance.name, line: cancelled });
        return { outcome: "interrupted" };
      }
      const found = await store.fetch(instance.key, {
        declared: instance.outputs,
        remote: true,
        name: instance.name,
      });
      if (found.state !== "missing") {
        return { outcome: "ran", manifest: found.manifest };
      }
      const tail = ((await readTextOrUndefined(log)) ?? "").trim().split("\n")
        .slice(-8).join("\n");
      return {
        outcome: "failed",
        error: new UserError(
          `slurm job ${jobId} ended without a result in ${store.remote?.url} (log ${log})${
            tail === "" ? "" : `:\n${tail}`
          }`,
        ),
      };
    } catch (error) {
      return { outcome: "failed", error };
    }
  }

  async #submit(task: ExecTask, logDir: string): Promise<string> {
    const { instance } = task;
    const r = this.#o.resources(instance.stage.name);
    const args = [
      "--parsable",
      `--job-name=pipeline-${instance.key}`,
      "--dependency=singleton",
      `--chdir=${this.#o.root}`,
      `--output=${join(logDir, `${logName(instance.name)}-%j.out`)}`,
      `--cpus-per-task=${r.cpus ?? 1}`,
      ...(r.memory === undefined ? [] : [`--mem=${r.memory}`]),
      ...(r.gpus === undefined || r.gpus === 0 ? [] : [`--gpus=${r.gpus}`]),
      ...(r.time === undefined ? [] : [`--time=${r.time}`]),
      ...(this.#o.partition === undefined
        ? []
        : [`--partition=${this.#o.partition}`]),
      // A preempted job goes back to the queue and resumes from its checkpoints.
      "--requeue",
      ...this.#o.sbatchArgs,
      `--wrap=${this.#wrap(instance.key, task.recompute)}`,
    ];
    const out = await run("sbatch", args);
    const id = out.trim().split(";")[0];
    if (!/^\d+$/.test(id)) {
      throw new UserError(`sbatch printed no job id: ${out.trim()}`);
    }
    return id;
  }

  #wrap(key: string, recompute: boolean): string {
    const { command } = this.#o;
    return [
      command.command,
      ...command.args,
      "worker",
      key,
      ...(recompute ? ["--recompute"] : []),
      ...command.planArgs,
    ]
      .map(shellQuote).join(" ");
  }

  /** Polls squeue until the job is gone (true) or the signal aborts (false). */
  async #waitUntilGone(
    jobId: string,
    name: string,
    signal: AbortSignal,
  ): Promise<boolean> {
    let last = "";
    while (!signal.aborted) {
      // All states: a requeued job passes through states squeue hides by default.
      const state = (await run("squeue", [
        "-h",
        "-t",
        "all",
        "-j",
        jobId,
        "-o",
        "%T",
      ]).catch((error) => {
        // squeue forgets finished jobs after MinJobAge and then calls the id invalid.
        if (/Invalid job id/i.test((error as Error).message)) return "";
        throw error;
      })).trim();
      if (state === "" || ENDED.has(state)) return true;
      if (state !== last) {
        this.#o.emit({
          type: "log",
          instance: name,
          line: `slurm job ${jobId}: ${state.toLowerCase()}`,
        });
        last = state;
      }
      await sleep(this.#o.pollSeconds * 1000, signal);
    }
    return false;
  }
}

/** A file-name-safe form of an instance name (`%` is a pattern character to sbatch). */
function logName(instance: string): string {
  return instance.replace(/[^A-Za-z0-9_.@+-]/g, "_");
}

/** Job states after which a job runs no more (a preempted, requeued job comes back PENDING). */
const ENDED = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "NODE_FAIL",
  "BOOT_FAIL",
  "DEADLINE",
  "OUT_OF_MEMORY",
  "SPECIAL_EXIT",
]);

async function run(command: string, args: string[]): Promise<string> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${command} is not installed here; --executor slurm needs the Slurm client commands`,
      );
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new UserError(
        `--executor slurm runs ${command}: add it to --allow-run of deno.json's "pipeline" task`,
      );
    }
    throw error;
  }
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new UserError(
      `${command} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
  return text;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)
    ? word
    : `'${word.replaceAll("'", `'\\''`)}'`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
