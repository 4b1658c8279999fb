/**
 * Starts a pipeline entry point the way `deno task pipeline` starts `stages/main.ts`: the same
 * permission flags, read from deno.json's `pipeline` task (never copied, never `-A`), with the
 * project root as the working directory. A permission the task lacks then fails a test, not a user.
 *
 * @module
 */
import { CONFIG, type DenoTask, readTask } from "../../bench/deno_task.ts";
import { join } from "node:path";
import { denoCommand } from "./helpers.ts";

// Reading a task lives in bench/deno_task.ts (the bench starts the pipeline the same way).
export { CONFIG, readTask } from "../../bench/deno_task.ts";

/** The `pipeline` task split into its permission flags and its entry point. */
export type PipelineTask = DenoTask;

/** Reads deno.json's `pipeline` task (see {@link readTask}). */
export function readPipelineTask(config = CONFIG): Promise<PipelineTask> {
  return readTask("pipeline", config);
}

/** Options of {@link pipelineProcess}. */
export interface PipelineProcessOptions {
  /** The project root: the working directory, which the task's `.` permissions mean. */
  root: string;
  /** Entry point to run instead of the task's (a test fixture); default the task's own. */
  entry?: string;
  /** Extra environment (NO_COLOR=1 is always set). */
  env?: Record<string, string>;
}

/**
 * A `Deno.Command` for `deno task pipeline ARGS` in `options.root`. With a fixture `entry`,
 * `--config` points at this repository's deno.json so that the fixture resolves the same import
 * map (it grants nothing); without one, the root's own deno.json applies, as under `deno task`.
 */
export async function pipelineProcess(
  args: readonly string[],
  options: PipelineProcessOptions,
): Promise<Deno.Command> {
  const task = await readPipelineTask();
  return new Deno.Command(denoCommand(), {
    args: [
      "run",
      ...task.flags,
      ...(options.entry === undefined ? [] : ["--config", CONFIG]),
      options.entry ?? task.entry,
      ...task.args,
      ...args,
    ],
    cwd: options.root,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Writes `<root>/deno.json` with a `pipeline` task that is deno.json's own (its flags, read, not
 * copied) with `entry` (a fixture) as the entry point and this repository's deno.json as
 * `--config`, so that `deno task pipeline` in `root` starts the fixture exactly as the task
 * starts `stages/main.ts`: through `deno task`, which matters for signals (it forwards them).
 */
export async function writeFixtureTask(
  root: string,
  entry: string,
): Promise<void> {
  const task = await readPipelineTask();
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  const command = [
    "deno",
    "run",
    ...task.flags.map(quote),
    "--config",
    quote(CONFIG),
    quote(entry),
  ].join(" ");
  await Deno.writeTextFile(
    join(root, "deno.json"),
    JSON.stringify({ tasks: { pipeline: command } }, null, 2),
  );
}
