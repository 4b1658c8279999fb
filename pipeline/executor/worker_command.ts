/**
 * How to start a worker: the same Deno, the same permission flags as deno.json's `pipeline`
 * task (read from it, never widened), the same entry module, and the coordinator's own
 * `--set`/`--params` flags, so the worker plans exactly what the coordinator planned.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import { readTextOrUndefined } from "../fs.ts";

/** The command line that starts `worker KEY` (without the key). */
export interface WorkerCommand {
  /** Executable: `deno` (as `--allow-run=deno` names it). */
  command: string;
  /** `run`, the permission flags, maybe `--config`, the entry module. */
  args: string[];
  /** Arguments after `worker KEY`: the coordinator's `--set` and `--params` flags. */
  planArgs: string[];
}

/** Where the worker's flags come from. */
export interface WorkerCommandOptions {
  /** Permission flags; default: deno.json's `pipeline` task in `root`. */
  flags?: readonly string[];
  /** A `--config` file to pass (a fixture entry outside the root). */
  config?: string;
  /** Entry module; default the running main module. */
  entry?: string;
}

/**
 * Builds the worker command for a project `root`, or throws a UserError saying what is missing
 * (no `pipeline` task, or the task lacks `--allow-run=deno`).
 */
export async function workerCommand(
  root: string,
  options: WorkerCommandOptions & { planArgs: readonly string[] },
): Promise<WorkerCommand> {
  const flags = options.flags ?? await taskFlags(root);
  const entry = options.entry ?? mainModulePath();
  const granted = Deno.permissions.querySync({ name: "run", command: "deno" });
  if (granted.state !== "granted") {
    throw new UserError(
      `starting workers needs --allow-run=deno in deno.json's "pipeline" task ` +
        `(or run with --jobs 1)`,
    );
  }
  return {
    command: "deno",
    args: [
      "run",
      ...flags,
      ...(options.config === undefined ? [] : ["--config", options.config]),
      entry,
    ],
    planArgs: [...options.planArgs],
  };
}

function mainModulePath(): string {
  const main = Deno.mainModule;
  return main.startsWith("file:") ? fileURLToPath(main) : main;
}

/** The flags of `deno run FLAGS ENTRY` in `<root>/deno.json`'s `pipeline` task. */
async function taskFlags(root: string): Promise<string[]> {
  const path = join(root, "deno.json");
  const text = await readTextOrUndefined(path);
  const task = text === undefined
    ? undefined
    : JSON.parse(text)?.tasks?.pipeline;
  const command = typeof task === "string" ? task : task?.command;
  const words = typeof command === "string" ? command.trim().split(/\s+/) : [];
  if (
    words[0] !== "deno" || words[1] !== "run" || /["'`$|&;<>]/.test(command)
  ) {
    throw new UserError(
      `workers start with the permission flags of the "pipeline" task in ${path}, ` +
        `which must read "deno run FLAGS ENTRY" (or run with --jobs 1)`,
    );
  }
  const rest = words.slice(2);
  const at = rest.findIndex((word) => !word.startsWith("-"));
  return at < 0 ? rest : rest.slice(0, at);
}
