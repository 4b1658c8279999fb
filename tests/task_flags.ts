/**
 * The permission flags of a `deno task` from deno.json, so that a test starting the pipeline
 * as a process runs it exactly as users do (never with -A).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/** The task's command: `deno run FLAGS... SCRIPT`, split into flags and script. */
export async function taskCommand(
  name: string,
): Promise<{ flags: string[]; script: string }> {
  const config = JSON.parse(await Deno.readTextFile(CONFIG)) as {
    tasks?: Record<string, string | { command: string }>;
  };
  const task = config.tasks?.[name];
  const command = typeof task === "string" ? task : task?.command;
  if (command === undefined) throw new Error(`deno.json has no task ${name}`);
  const words = command.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(`task ${name} is not "deno run ...": ${command}`);
  }
  const rest = words.slice(2);
  const scriptAt = rest.findIndex((word) => !word.startsWith("-"));
  if (scriptAt < 0 || scriptAt !== rest.length - 1) {
    throw new Error(`task ${name}: expected flags then one script: ${command}`);
  }
  return { flags: rest.slice(0, scriptAt), script: rest[scriptAt] };
}
