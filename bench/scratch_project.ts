/**
 * A scratch copy of the project's tracked files (as they are in the work tree), with the
 * installed npm packages hard-linked in, and a way to run a deno.json task there exactly as
 * `deno task NAME` does: with the task's own permission flags from deno.json. The bench's
 * pipeline row (a user's fresh clone, empty cache) and the project tests use it.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readTask, taskArgs } from "./deno_task.ts";

/** The project root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function git(args: string[]): Promise<Uint8Array> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("git", {
      args,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new Error(
      `git ${args.join(" ")}: ${(error as Error).message} (is git installed?)`,
    );
  }
  if (!output.success) {
    throw new Error(
      `git ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return output.stdout;
}

/** Root-relative paths of the files git tracks. */
export async function trackedFiles(): Promise<string[]> {
  const out = new TextDecoder().decode(await git(["ls-files", "-z"]));
  return out.split("\0").filter((p) => p !== "");
}

/** A file's content as committed in HEAD. */
export async function committed(path: string): Promise<Uint8Array> {
  return await git(["show", `HEAD:${path}`]);
}

/** Copies the tracked files into a new temp dir and hard-links node_modules; returns the dir. */
export async function scratchProject(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  for (const path of await trackedFiles()) {
    const target = join(dir, path);
    await Deno.mkdir(dirname(target), { recursive: true });
    try {
      await Deno.copyFile(join(ROOT, path), target);
    } catch (error) {
      // A tracked file deleted in the work tree is not part of the tree.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  await linkNodeModules(dir);
  return dir;
}

/**
 * The project exactly as committed in HEAD (code, params, `pipeline.lock`, `results/`), in a new
 * temp dir with node_modules hard-linked in; returns the dir. What a fresh clone gets, whatever a
 * local run has since rewritten in the work tree.
 */
export async function committedProject(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  const tar = join(dir, ".head.tar");
  await git(["archive", "--format=tar", "-o", tar, "HEAD"]);
  const unpack = await new Deno.Command("tar", {
    args: ["-xf", tar, "-C", dir],
    stderr: "piped",
  }).output();
  if (!unpack.success) {
    throw new Error(
      `unpacking git archive HEAD into ${dir} failed: ${
        new TextDecoder().decode(unpack.stderr).trim()
      }`,
    );
  }
  await Deno.remove(tar);
  await linkNodeModules(dir);
  return dir;
}

async function linkNodeModules(dir: string): Promise<void> {
  // Hard links: the task's --allow-read=. does not reach a symlink's target outside the copy.
  const link = await new Deno.Command("cp", {
    args: ["-al", join(ROOT, "node_modules"), join(dir, "node_modules")],
  }).output();
  if (!link.success) {
    throw new Error(
      `linking ${join(ROOT, "node_modules")} into ${dir} failed: ${
        new TextDecoder().decode(link.stderr).trim()
      } (run "deno install" first)`,
    );
  }
}

/** Output and exit code of one command. */
export interface Ran {
  /** Exit code. */
  code: number;
  /** stdout and stderr. */
  out: string;
}

/** Runs `deno task NAME ARGS` in `dir` the way the task does (its flags, from deno.json). */
export async function runTask(
  dir: string,
  name: string,
  args: readonly string[],
): Promise<Ran> {
  const task = await readTask(name);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: taskArgs(task, args),
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, out: decode(stdout) + decode(stderr) };
}
