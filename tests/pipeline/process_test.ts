import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { denoCommand } from "./helpers.ts";
import { assert, assertEquals, assertMatch } from "../assert.ts";

const FIXTURE = fileURLToPath(
  new URL("./fixtures/slow_pipeline.ts", import.meta.url),
);
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

function start(root: string, mode: "hang" | "fast"): Deno.ChildProcess {
  return new Deno.Command(denoCommand(), {
    args: ["run", "-A", "--config", CONFIG, FIXTURE],
    env: { PIPELINE_TEST_ROOT: root, PIPELINE_TEST_MODE: mode, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
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

Deno.test("SIGKILL mid-stage leaves no result for it; finished stages are not rerun", async () => {
  const root = await Deno.makeTempDir({ prefix: "pipeline-kill-" });
  try {
    const child = start(root, "hang");
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
    const runLock = JSON.parse(
      await Deno.readTextFile(join(root, ".pipeline/run.lock")),
    );
    assertEquals(runLock.pid, child.pid);

    const rerun = await start(root, "fast").output();
    const out = new TextDecoder().decode(rerun.stdout);
    assertEquals(rerun.code, 0, out + new TextDecoder().decode(rerun.stderr));
    assertMatch(out, /took over \.pipeline\/run\.lock left by dead process/);
    assertMatch(out, /cached {2}first {2}up to date/);
    assertEquals(await calls(root), ["first", "slow", "slow", "last"]);
    assertEquals(
      await Deno.readTextFile(join(root, ".pipeline/out/slow/c.txt")),
      "c",
    );
    // The killed run's partial outputs were cleaned up.
    assertEquals(
      await Array.fromAsync(Deno.readDir(join(root, ".pipeline/tmp"))),
      [],
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("Ctrl-C stops cleanly, names the stage, exits 130 and keeps the checkpoint", async () => {
  const root = await Deno.makeTempDir({ prefix: "pipeline-int-" });
  try {
    const child = start(root, "hang");
    await waitFor(join(root, "slow.started"));
    child.kill("SIGINT");
    const result = await child.output();
    const out = new TextDecoder().decode(result.stdout);
    assertEquals(
      result.code,
      130,
      out + new TextDecoder().decode(result.stderr),
    );
    assertMatch(out, /interrupted: slow was stopped/);
    assertEquals(await calls(root), ["first", "slow"]);
    const scratch = await Array.fromAsync(
      Deno.readDir(join(root, ".pipeline/scratch")),
    );
    assertEquals(scratch.length, 1);
    await assertGone(join(root, ".pipeline/run.lock"));
    assertEquals((await manifests(root)).length, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("two runs at once: the second refuses, naming the holder's pid", async () => {
  const root = await Deno.makeTempDir({ prefix: "pipeline-two-" });
  try {
    const holder = start(root, "hang");
    await waitFor(join(root, "slow.started"));
    const second = await start(root, "fast").output();
    const err = new TextDecoder().decode(second.stderr);
    assertEquals(second.code, 1, err);
    assertMatch(
      err,
      new RegExp(`another run holds .*run\\.lock \\(pid ${holder.pid} on `),
    );
    holder.kill("SIGINT");
    assertEquals((await holder.output()).code, 130);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
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
