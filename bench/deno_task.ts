/**
 * A task of deno.json read as `deno run FLAGS ENTRY ARGS`, so that a process can be started
 * exactly as `deno task NAME` starts it: the same permission flags, read from deno.json (never
 * copied, never `-A`). The bench's pipeline row and the tests that start the pipeline use it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** deno.json of this repository. */
export const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/** A `deno run` task split into its permission flags, its entry point and its arguments. */
export interface DenoTask {
  /** Flags between `deno run` and the entry point, e.g. `--allow-read=.,/usr/share/...`. */
  flags: string[];
  /** The entry point as written in the task (`stages/main.ts`). */
  entry: string;
  /** Arguments written after the entry point in the task. */
  args: string[];
}

/**
 * Splits a task's command line; throws if it is not `deno run FLAGS ENTRY ARGS`, uses shell
 * syntax, or grants every permission.
 */
export function parseTask(name: string, command: string): DenoTask {
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

/** Reads a task of deno.json (default `pipeline`; see {@linkcode parseTask}). */
export async function readTask(
  name = "pipeline",
  config = CONFIG,
): Promise<DenoTask> {
  const json = JSON.parse(await Deno.readTextFile(config));
  const task = json?.tasks?.[name];
  const command = typeof task === "string" ? task : task?.command;
  if (typeof command !== "string") {
    throw new Error(`${config} has no "${name}" task`);
  }
  return parseTask(name, command);
}

/** The arguments after `deno` that run `task` with `extra` appended, as `deno task` does. */
export function taskArgs(task: DenoTask, extra: readonly string[]): string[] {
  return ["run", ...task.flags, task.entry, ...task.args, ...extra];
}
