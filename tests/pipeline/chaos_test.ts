/**
 * Chaos and concurrency under the real command: a small fixture pipeline (chaos_pipeline.ts)
 * started with deno.json's `pipeline` task permissions is SIGKILLed at seeded random moments,
 * then run to the end, and compared with an uninterrupted run; two runs started together
 * either exclude each other or, with --wait, run one after the other.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { isTempName } from "../../pipeline/fs.ts";
import {
  type FixtureSettings,
  writeFixtureRoot,
} from "./fixtures/fixture_settings.ts";
import { pipelineProcess } from "./task_command.ts";

const FIXTURE = fileURLToPath(
  new URL("./fixtures/chaos_pipeline.ts", import.meta.url),
);
const CHAOS: FixtureSettings = { items: 12, steps: 10, stepMs: 15 };
const SEED = 20261130;
const WANTED_MID_STAGE_KILLS = 15;
const CHAOS_BUDGET_MS = 45_000;

/** mulberry32: a small seeded generator, so a failing schedule can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function spawn(root: string, args: string[] = []) {
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

async function startedLines(root: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(root, "calls.log")).catch(() => "");
  return text.split("\n").filter((line) => line.startsWith("start "))
    .map((line) => line.slice("start ".length));
}

/** Instances with a manifest in the cache (finished). */
async function finished(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  const dir = join(root, ".pipeline/runs");
  const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
  for (const entry of entries) {
    if (!entry.name.endsWith(".json")) continue;
    const manifest = JSON.parse(await Deno.readTextFile(join(dir, entry.name)));
    out.add(manifest.instance);
  }
  return out;
}

/** Every file under `dir` (relative paths), recursively. */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) out.push(...await walk(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/**
 * What must not depend on interruptions: checked-out outputs byte for byte, the cached keys, and
 * `pipeline.lock` without its timing fields (`seconds`, and the checkouts' `mtime`).
 */
async function results(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of await walk(root)) {
    if (file.startsWith(".pipeline/out/") || file.startsWith("results/")) {
      out[file] = await Deno.readTextFile(join(root, file));
    }
  }
  const runs = await walk(join(root, ".pipeline/runs"));
  out["(cached keys)"] = runs.join(",");
  const lock = JSON.parse(await Deno.readTextFile(join(root, "pipeline.lock")));
  for (
    const entry of Object.values(lock.instances) as Record<string, unknown>[]
  ) {
    delete entry.seconds;
    for (const output of Object.values(entry.outputs as object)) {
      delete (output as Record<string, unknown>).mtime;
    }
  }
  out["pipeline.lock"] = JSON.stringify(lock);
  return out;
}

async function assertNoLeftovers(root: string): Promise<void> {
  const files = await walk(root);
  const temp = files.filter((file) => isTempName(file));
  assertEquals(temp, [], "temp files left");
  assert(!files.includes(".pipeline/run.lock"), "run.lock left");
  const partial = files.filter((file) =>
    file.startsWith(".pipeline/tmp/") || file.startsWith(".pipeline/scratch/")
  );
  assertEquals(partial, [], "partial outputs or checkpoints left");
}

async function withRoot(
  settings: FixtureSettings,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "pipeline-chaos-" });
  try {
    await writeFixtureRoot(root, settings);
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("chaos: SIGKILLs at random moments lose nothing finished; the end result is the uninterrupted one", async () => {
  const started = performance.now();
  let reference: Record<string, string> = {};
  await withRoot(CHAOS, async (root) => {
    const whole = await finish(await spawn(root));
    assertEquals(whole.code, 0, whole.out + whole.err);
    reference = await results(root);
  });
  await withRoot(CHAOS, async (root) => {
    const next = random(SEED);
    const stageMs = CHAOS.steps! * CHAOS.stepMs!;
    let kills = 0;
    let midStage = 0;
    const redone: string[] = [];
    const until = performance.now() + CHAOS_BUDGET_MS;
    while (midStage < WANTED_MID_STAGE_KILLS && performance.now() < until) {
      const done = await finished(root);
      const seen = (await startedLines(root)).length;
      const child = await spawn(root);
      let exited = false;
      const status = child.status.then((s) => {
        exited = true;
        return s;
      });
      // Kill at a random moment once a stage has started.
      while (!exited && (await startedLines(root)).length === seen) {
        await sleep(5);
      }
      if (exited) {
        await child.output();
        break; // Nothing left to run: the pipeline finished.
      }
      await sleep(next() * stageMs * 1.2);
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited on its own just now.
      }
      await child.output();
      if ((await status).signal === "SIGKILL") kills++;
      const startedNow = (await startedLines(root)).slice(seen);
      redone.push(...startedNow.filter((name) => done.has(name)));
      const last = startedNow.at(-1);
      if (last !== undefined && !(await finished(root)).has(last)) midStage++;
    }
    const doneBeforeEnd = await finished(root);
    const seen = (await startedLines(root)).length;
    const end = await finish(await spawn(root));
    assertEquals(end.code, 0, end.out + end.err);
    redone.push(
      ...(await startedLines(root)).slice(seen).filter((name) =>
        doneBeforeEnd.has(name)
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `chaos: ${kills} SIGKILLs, ${midStage} mid-stage, ${redone.length} finished stages redone, ${
        seconds.toFixed(1)
      } s (seed ${SEED})`,
    );
    assert(
      midStage >= WANTED_MID_STAGE_KILLS,
      `only ${midStage} of ${kills} kills landed mid-stage`,
    );
    assertEquals(redone, [], "finished stages were run again");
    assertEquals(await results(root), reference);
    const verify = await finish(await spawn(root, ["verify"]));
    assertEquals(verify.code, 0, verify.out + verify.err);
    assertMatch(verify.out, /all match their hashes/);
    await assertNoLeftovers(root);
  });
});

const TWO: FixtureSettings = { items: 2, steps: 10, stepMs: 40 };

async function assertCacheCorrect(root: string): Promise<void> {
  const starts = await startedLines(root);
  assertEquals(starts.sort(), ["make", "total", "work@0", "work@1"]);
  const verify = await finish(await spawn(root, ["verify"]));
  assertEquals(verify.code, 0, verify.out + verify.err);
  const status = await finish(await spawn(root, ["status", "--json"]));
  const entries = JSON.parse(status.out) as { state: string }[];
  assertEquals(entries.map((e) => e.state), [
    "fresh",
    "fresh",
    "fresh",
    "fresh",
  ]);
  await assertNoLeftovers(root);
}

Deno.test("two runs started together: the second refuses at once, naming the first; the cache is right", async () => {
  await withRoot(TWO, async (root) => {
    const [a, b] = await Promise.all([spawn(root), spawn(root)]);
    const [ra, rb] = await Promise.all([finish(a), finish(b)]);
    const [winner, loser] = ra.code === 0 ? [ra, rb] : [rb, ra];
    const winnerPid = ra.code === 0 ? a.pid : b.pid;
    assertEquals([winner.code, loser.code], [0, 1], ra.err + rb.err);
    assertMatch(
      loser.err,
      new RegExp(`another run holds .*run\\.lock \\(pid ${winnerPid} on `),
    );
    await assertCacheCorrect(root);
  });
});

Deno.test("two runs started together with --wait: one waits, then finds everything cached", async () => {
  await withRoot(TWO, async (root) => {
    const [a, b] = await Promise.all([
      spawn(root, ["--wait"]),
      spawn(root, ["--wait"]),
    ]);
    const both = await Promise.all([finish(a), finish(b)]);
    assertEquals(both.map((r) => r.code), [0, 0], both[0].err + both[1].err);
    const waited = both.filter((r) =>
      /waiting for the run of pid \d+/.test(r.out)
    );
    assertEquals(waited.length, 1, both[0].out + both[1].out);
    assertEquals(
      waited[0].out.match(/^ran /gm),
      null,
      "the waiting run ran a stage",
    );
    await assertCacheCorrect(root);
  });
});
