/**
 * Starts a pipeline entry point the way `deno task pipeline` starts `stages/main.ts`: the same
 * permission flags, read from deno.json's `pipeline` task (never copied, never `-A`), with the
 * project root as the working directory. A permission the task lacks then fails a test, not a user.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { denoCommand } from "./helpers.ts";

/** deno.json of this repository. */
export const CONFIG = fileURLToPath(
  new URL("../../deno.json", import.meta.url),
);

/** The `pipeline` task split into its permission flags and its entry point. */
export interface PipelineTask {
  /** Flags between `deno run` and the entry point, e.g. `--allow-read=.,/usr/share/...`. */
  flags: string[];
  /** The entry point as written in the task (`stages/main.ts`). */
  entry: string;
  /** Arguments written after the entry point in the task. */
  args: string[];
}

/**
 * Reads a task of deno.json (default `pipeline`); throws if it is not `deno run FLAGS ENTRY ARGS`
 * or grants every permission.
 */
export async function readTask(
  name = "pipeline",
  config = CONFIG,
): Promise<PipelineTask> {
  const json = JSON.parse(await Deno.readTextFile(config));
  const task = json?.tasks?.[name];
  const command = typeof task === "string" ? task : task?.command;
  if (typeof command !== "string") {
    throw new Error(`${config} has no "${name}" task`);
  }
  if (/["'`$|&;<>]/.test(command)) {
    throw new Error(
      `the ${name} task uses shell syntax this helper does not parse: ${command}`,
    );
  }
  const words = command.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(
      `the ${name} task does not start with "deno run": ${command}`,
    );
  }
  const rest = words.slice(2);
  const at = rest.findIndex((word) => !word.startsWith("-"));
  if (at < 0) {
    throw new Error(`the ${name} task names no entry point: ${command}`);
  }
  const flags = rest.slice(0, at);
  if (flags.some((flag) => flag === "-A" || flag === "--allow-all")) {
    throw new Error(`the ${name} task grants every permission (-A)`);
  }
  return { flags, entry: rest[at], args: rest.slice(at + 1) };
}

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
