/**
 * What every integration test file needs: scratch copies of the project, the real CLI run in one
 * with the pipeline task's flags against the real servers, an S3 prefix of its own, and the
 * steps' timing lines.
 *
 * @module
 */
import { join } from "node:path";
import { assert } from "../assert.ts";
import { readPipelineTask } from "../pipeline/task_command.ts";
import { removePrefix, S3, skipReason, SLURM_CONF } from "./services.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const COPIED = [
  "deno.json",
  "deno.lock",
  "params.json",
  "pipeline",
  "stages",
  "models",
  "data",
];

/** What one CLI run gave. */
export interface CliRun {
  /** Exit code. */
  code: number;
  /** Stdout and stderr. */
  out: string;
  /** Stdout alone. */
  stdout: string;
  /** Wall-clock seconds. */
  seconds: number;
}

async function scratchProject(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rdrop_it_" });
  const cp = await new Deno.Command("cp", {
    args: ["-r", ...COPIED.map((p) => join(ROOT, p)), dir],
  }).output();
  assert(cp.success, "copying the project failed");
  await Deno.mkdir(join(dir, "tests/integration"), { recursive: true });
  await new Deno.Command("cp", {
    args: [
      "-r",
      join(ROOT, "tests/integration/fixtures"),
      join(dir, "tests/integration/"),
    ],
  }).output();
  return dir;
}

/** Instance names of output lines starting with `word` (`ran`, `cached`, …), sorted. */
export function names(out: string, word: string): string[] {
  return out.split("\n").filter((l) => l.startsWith(word + " ")).map((l) =>
    l.split(/\s+/)[1]
  ).sort();
}

/** Instance -> key from `dir`'s pipeline.lock. */
export function lockKeys(dir: string): Promise<Record<string, string>> {
  return Deno.readTextFile(join(dir, "pipeline.lock")).then((text) =>
    Object.fromEntries(
      Object.entries(
        JSON.parse(text).instances as Record<string, { key: string }>,
      ).map(([name, entry]) => [name, entry.key]),
    )
  );
}

/** A test that needs the servers (skipped without them), printing how long it took. */
export function step(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name,
    ignore: skipReason !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const started = performance.now();
      await fn();
      console.log(
        `  [${name}: ${((performance.now() - started) / 1000).toFixed(1)} s]`,
      );
    },
  });
}

/** The harness of one test file: its S3 prefix, environment, projects and CLI. */
export function integrationHarness(name: string) {
  const PREFIX = `${name}-${Date.now()}/`;
  const REMOTE = `s3://${S3.bucket}/${PREFIX}`;
  const ENV: Record<string, string> = {
    PIPELINE_REMOTE: REMOTE,
    AWS_ACCESS_KEY_ID: S3.accessKey,
    AWS_SECRET_ACCESS_KEY: S3.secretKey,
    AWS_ENDPOINT_URL: S3.endpoint,
    SLURM_CONF,
  };
  const dirs: string[] = [];
  return {
    PREFIX,
    REMOTE,
    ENV,
    names,
    lockKeys,
    step,
    /** A fresh scratch copy of the project (removed by {@link cleanup}). */
    async project(): Promise<string> {
      const dir = await scratchProject();
      dirs.push(dir);
      return dir;
    },
    /** The CLI in `dir` with the pipeline task's flags (entry: the task's, or a fixture in `dir`). */
    async cli(
      dir: string,
      args: string[],
      options: { env?: Record<string, string>; entry?: string } = {},
    ): Promise<CliRun> {
      const task = await readPipelineTask();
      const started = performance.now();
      const result = await new Deno.Command("deno", {
        args: ["run", ...task.flags, options.entry ?? task.entry, ...args],
        cwd: dir,
        env: { NO_COLOR: "1", ...ENV, ...options.env },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (b: Uint8Array) => new TextDecoder().decode(b);
      return {
        code: result.code,
        out: decode(result.stdout) + decode(result.stderr),
        stdout: decode(result.stdout),
        seconds: (performance.now() - started) / 1000,
      };
    },
    /** Removes the scratch copies and this file's S3 prefix. */
    async cleanup(): Promise<void> {
      for (const dir of dirs) {
        await new Deno.Command("chmod", { args: ["-R", "u+w", dir] }).output();
        await Deno.remove(dir, { recursive: true });
      }
      await removePrefix(PREFIX);
    },
  };
}
