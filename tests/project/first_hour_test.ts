/**
 * A new user's first commands, in a copy of the project whose path has a space and a
 * non-ASCII character (a URL's pathname is %-encoded there, and every command failed with
 * `Requires read access to ".../repo%20sp/params.json"`), run with the pipeline task's own
 * flags: plain commands work; params that would fail late fail at plan time naming the param
 * and the fix; a closed stdout ends the command quietly.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { runTask, scratchProject } from "./_scratch.ts";
import { pipelineProcess } from "../pipeline/task_command.ts";
import { BROKEN_PIPE_EXIT } from "../../pipeline/cli/mod.ts";

const dir = await scratchProject("rdrop first hour é_");

function noStack(out: string): void {
  assert(!/^\s+at /m.test(out), `a stack trace:\n${out}`);
}

Deno.test("in a path with a space and an accent, status, dag and a real stage run work", async () => {
  assert(dir.includes(" ") && dir.includes("é"), dir);
  for (const args of [["status"], ["dag"], ["--version"]]) {
    const ran = await runTask(dir, "pipeline", args);
    assertEquals(ran.code, 0, `${args.join(" ")}:\n${ran.out}`);
  }
  const ran = await runTask(dir, "pipeline", [
    "preprocess",
    "--set",
    "preprocess.limit=200",
  ]);
  assertEquals(ran.code, 0, ran.out);
  assertMatch(ran.out, /ran {3} {2}preprocess/);
  const lock = JSON.parse(await Deno.readTextFile(join(dir, "pipeline.lock")));
  assert("preprocess" in lock.instances, JSON.stringify(lock));
});

Deno.test("a validation split of every training example fails at plan time, naming the param and the fix", async () => {
  for (
    const [args, examples] of [
      [["--set", "preprocess.validation=60000"], 60000],
      [
        ["--set", "preprocess.limit=500", "--set", "preprocess.validation=700"],
        500,
      ],
      [["--set", "matrix.preprocess.validation=[0,60000]"], 60000],
    ] as const
  ) {
    const ran = await runTask(dir, "pipeline", ["--dry-run", ...args]);
    assertEquals(ran.code, 2, ran.out);
    assertMatch(ran.out, /preprocess\.validation: holds out \d+ examples/);
    assert(
      ran.out.includes(`set preprocess.validation below ${examples}`),
      ran.out,
    );
    noStack(ran.out);
  }
});

Deno.test("layers too large for this machine's memory fail at plan time, not in an allocation", async () => {
  const ran = await runTask(dir, "pipeline", [
    "--dry-run",
    "--set",
    "train.hidden=[1000000000]",
  ]);
  assertEquals(ran.code, 2, ran.out);
  assertMatch(
    ran.out,
    /train\.hidden: layers \[1000000000\] \(batch 32\) need about .* GiB to train, more than this machine's .* GiB of memory; use smaller layers/,
  );
  noStack(ran.out);
  // The reference layers pass.
  const fine = await runTask(dir, "pipeline", [
    "--dry-run",
    "--set",
    "train.hidden=[512,512]",
  ]);
  assertEquals(fine.code, 0, fine.out);
});

Deno.test("a closed stdout (| head) ends the command quietly", async () => {
  const child = (await pipelineProcess(["--dry-run"], { root: dir })).spawn();
  // The reader goes away before the first line: every write meets a broken pipe.
  await child.stdout.cancel();
  const result = await child.output();
  const stderr = new TextDecoder().decode(result.stderr);
  assertEquals(result.code, BROKEN_PIPE_EXIT, stderr);
  assertEquals(stderr, "");
});

Deno.test("cleanup", async () => {
  await Deno.remove(dir, { recursive: true });
});
