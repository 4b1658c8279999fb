/**
 * The engine as a real process, started with deno.json's `pipeline` task permissions
 * (task_command.ts): kill, Ctrl-C, a busy run lock, and bad `--params` paths.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { writeFixtureRoot } from "./fixtures/fixture_settings.ts";
import { pipelineProcess } from "./task_command.ts";

const FIXTURE = fileURLToPath(
  new URL("./fixtures/slow_pipeline.ts", import.meta.url),
);

async function start(
  root: string,
  mode: "hang" | "fast" | "denied",
  args: string[] = [],
): Promise<Deno.ChildProcess> {
  await writeFixtureRoot(root, { mode });
  return (await pipelineProcess(args, { root, entry: FIXTURE })).spawn();
}

async function finish(child: Deno.ChildProcess) {
  const result = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: result.code,
    out: decode(result.stdout),
    err: decode(result.stderr),
  };
}

async function waitFor(path: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`timed out waiting for ${path}`);
}

async function calls(root: string): Promise<string[]> {
  return (await Deno.readTextFile(join(root, "calls.log"))).trim().split("\n");
}

async function manifests(root: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(join(root, ".pipeline/runs"))))
    .map((e) => e.name);
}

async function withRoot(
  prefix: string,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("SIGKILL mid-stage leaves no result for it; the next run takes the lock and reruns only it", async () => {
  await withRoot("pipeline-kill-", async (root) => {
    const child = await start(root, "hang");
    await waitFor(join(root, "slow.started"));
    child.kill("SIGKILL");
    const killed = await child.output();
    assert(!killed.success);
    const lock = JSON.parse(
      await Deno.readTextFile(join(root, "pipeline.lock")),
    );
    assertEquals(Object.keys(lock.instances), ["first"]);
    // Only the finished stage has a manifest; slow's partial output counts for nothing.
    assertEquals(await manifests(root), [`${lock.instances.first.key}.json`]);
    // The kernel released the killed run's lock; its file still names it.
    const runLock = JSON.parse(
      await Deno.readTextFile(join(root, ".pipeline/run.lock")),
    );
    assertEquals(runLock.pid, child.pid);

    const rerun = await finish(await start(root, "fast"));
    assertEquals(rerun.code, 0, rerun.out + rerun.err);
    assert(!/took over|warning/.test(rerun.out), rerun.out);
    assertMatch(rerun.out, /cached {2}first {2}up to date/);
    assertEquals(await calls(root), ["first", "slow", "slow", "last"]);
    assertEquals(
      await Deno.readTextFile(join(root, ".pipeline/out/slow/c.txt")),
      "c",
    );
    // The killed run's partial outputs and its lock file are gone.
    assertEquals(
      await Array.fromAsync(Deno.readDir(join(root, ".pipeline/tmp"))),
      [],
    );
    await assertGone(join(root, ".pipeline/run.lock"));
  });
});

Deno.test("Ctrl-C stops cleanly, names the stage, exits 130 and keeps the checkpoint", async () => {
  await withRoot("pipeline-int-", async (root) => {
    const child = await start(root, "hang");
    await waitFor(join(root, "slow.started"));
    child.kill("SIGINT");
    const result = await finish(child);
    assertEquals(result.code, 130, result.out + result.err);
    assertMatch(result.out, /interrupted: slow was stopped/);
    assertEquals(await calls(root), ["first", "slow"]);
    const scratch = await Array.fromAsync(
      Deno.readDir(join(root, ".pipeline/scratch")),
    );
    assertEquals(scratch.length, 1);
    await assertGone(join(root, ".pipeline/run.lock"));
    assertEquals((await manifests(root)).length, 1);
  });
});

Deno.test("while a run holds the lock: run and gc refuse naming pid, host and start; status, dag and verify answer", async () => {
  await withRoot("pipeline-two-", async (root) => {
    const holder = await start(root, "hang");
    await waitFor(join(root, "slow.started"));
    const info = JSON.parse(
      await Deno.readTextFile(join(root, ".pipeline/run.lock")),
    );
    const second = await finish(await start(root, "fast"));
    assertEquals(second.code, 1, second.err);
    assertMatch(
      second.err,
      new RegExp(
        `^error: another run holds .*run\\.lock \\(pid ${holder.pid} on ${info.host} since ${info.startedAt}: run\\); ` +
          "wait for it to finish, or rerun with --wait to start when it ends\\n$",
      ),
    );
    const gc = await finish(await start(root, "fast", ["gc", "--yes"]));
    assertEquals(gc.code, 1, gc.err);
    assertMatch(gc.err, new RegExp(`pid ${holder.pid} on `));
    for (const command of ["status", "dag", "verify"]) {
      const answer = await finish(await start(root, "fast", [command]));
      assertEquals(answer.code, 0, `${command}: ${answer.out}${answer.err}`);
    }
    assertEquals(await calls(root), ["first", "slow"]);
    holder.kill("SIGINT");
    assertEquals((await holder.output()).code, 130);
  });
});

Deno.test("--params: a missing file and a file the task may not read are errors that name it (exit 2, no stack)", async () => {
  await withRoot("pipeline-params-", async (root) => {
    const missing = await finish(
      await start(root, "fast", ["--params", "nonexistent.json"]),
    );
    assertEquals(missing.code, 2, missing.out + missing.err);
    assertMatch(
      missing.err,
      /^error: params file nonexistent\.json does not exist \(.*nonexistent\.json\); check the path given to --params\n$/,
    );
    await withRoot("pipeline-outside-", async (outside) => {
      const file = join(outside, "params.json");
      await Deno.writeTextFile(file, "{}");
      const denied = await finish(
        await start(root, "fast", ["--params", file]),
      );
      assertEquals(denied.code, 2, denied.out + denied.err);
      assertMatch(denied.err, new RegExp(`^error: params file ${file}: `));
      assertMatch(
        denied.err,
        /"pipeline" task in deno\.json; .* add its directory to that task's --allow-read in deno\.json\n$/,
      );
      assert(!/\n\s+at /.test(denied.err), denied.err);
    });
    // Nothing ran with defaults instead.
    await assertGone(join(root, "calls.log"));
  });
});

Deno.test("a stage reading outside the task's permissions fails naming deno.json's --allow-read, without a stack", async () => {
  await withRoot("pipeline-denied-", async (root) => {
    const result = await finish(await start(root, "denied"));
    assertEquals(result.code, 1, result.out + result.err);
    assertMatch(
      result.out,
      /Requires read access to "\/etc\/hostname": the pipeline runs with the permissions of the "pipeline" task in deno\.json; .*--allow-read in deno\.json/,
    );
    assert(!/\n\s+at /.test(result.out + result.err), result.out);
  });
});

async function assertGone(path: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  throw new Error(`${path} still exists`);
}
