/**
 * `--jobs N` as a real process (deno.json's `pipeline` task flags): instances run at the same
 * time in worker processes, results land in the store and the lock file, a failure stops new
 * starts while running instances finish, Ctrl-C stops every worker and names each, and a worker
 * refuses a key its own plan does not give.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { writeFixtureRoot } from "./fixtures/fixture_settings.ts";
import { pipelineProcess, readPipelineTask } from "./task_command.ts";

const FIXTURE = fileURLToPath(
  new URL("./fixtures/parallel_pipeline.ts", import.meta.url),
);

interface Settings {
  items: string[];
  stepMs: number;
  fail?: string[];
  mode?: "hang";
}

async function withRoot(
  settings: Settings,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "pipeline-jobs-" });
  try {
    await writeFixtureRoot(root, {});
    const workerFlags = (await readPipelineTask()).flags;
    await Deno.writeTextFile(
      join(root, "fixture.json"),
      JSON.stringify({ ...settings, workerFlags }),
    );
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function cli(root: string, args: string[]) {
  const result = await (await pipelineProcess(args, { root, entry: FIXTURE }))
    .output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: result.code,
    out: decode(result.stdout) + decode(result.stderr),
  };
}

async function times(root: string) {
  const out: { item: string; pid: number; start: number; end: number }[] = [];
  for await (const entry of Deno.readDir(join(root, "times"))) {
    out.push(
      JSON.parse(await Deno.readTextFile(join(root, "times", entry.name))),
    );
  }
  return out.sort((a, b) => a.start - b.start);
}

function maxOverlap(spans: { start: number; end: number }[]): number {
  let best = 0;
  for (const span of spans) {
    const at = span.start;
    best = Math.max(
      best,
      spans.filter((other) => other.start <= at && at < other.end).length,
    );
  }
  return best;
}

function lines(out: string, word: string): string[] {
  return out.split("\n").filter((l) => l.startsWith(word)).map((l) =>
    l.split(/\s+/)[1]
  ).sort();
}

Deno.test("--jobs 2 runs independent instances at once in worker processes, never more than 2", async () => {
  await withRoot({ items: ["a", "b", "c"], stepMs: 1500 }, async (root) => {
    const first = await cli(root, ["--jobs", "2"]);
    assertEquals(first.code, 0, first.out);
    assertEquals(lines(first.out, "ran"), [
      "prep",
      "sum",
      "work@a",
      "work@b",
      "work@c",
    ]);
    const spans = await times(root);
    assertEquals(spans.length, 3);
    assertEquals(maxOverlap(spans), 2, JSON.stringify(spans));
    // Each instance ran in a process of its own, none in the coordinator's.
    assertEquals(new Set(spans.map((s) => s.pid)).size, 3);
    assertEquals(
      await Deno.readTextFile(join(root, ".pipeline/out/sum/sum.txt")),
      "33",
    );
    // A stage in a worker sees the user's arguments, not the worker's.
    assertEquals(
      JSON.parse(await Deno.readTextFile(join(root, "args.json"))),
      ["--jobs", "2"],
    );
    const lock = JSON.parse(
      await Deno.readTextFile(join(root, "pipeline.lock")),
    );
    assertEquals(Object.keys(lock.instances).sort(), [
      "prep",
      "sum",
      "work@a",
      "work@b",
      "work@c",
    ]);
    const again = await cli(root, ["--jobs", "2"]);
    assertEquals(again.code, 0, again.out);
    assertEquals(lines(again.out, "ran"), []);
  });
});

Deno.test("--jobs: after a failure no new instance starts, running ones finish, every failure is reported", async () => {
  await withRoot(
    { items: ["a", "b", "c", "d"], stepMs: 3000, fail: ["b", "c"] },
    async (root) => {
      // a, b and c start together; b and c fail at once; a finishes later; d never starts.
      const run = await cli(root, ["--jobs", "3"]);
      assertEquals(run.code, 1, run.out);
      assertEquals(lines(run.out, "failed"), ["work@b", "work@c"]);
      assertEquals(lines(run.out, "ran"), ["prep", "work@a"]);
      assertMatch(run.out, /work b failed on purpose/);
      assertMatch(run.out, /work c failed on purpose/);
      const started = (await Array.fromAsync(
        Deno.readDir(join(root, "started")),
      )).map((e) => e.name).sort();
      assertEquals(started, ["a", "b", "c"]);
      // The finished instance is recorded: a rerun after fixing starts with what is left.
      const lock = JSON.parse(
        await Deno.readTextFile(join(root, "pipeline.lock")),
      );
      assert("work@a" in lock.instances);
    },
  );
});

Deno.test("--jobs: Ctrl-C stops every worker, names each interrupted instance and exits 130", async () => {
  await withRoot(
    { items: ["a", "b"], stepMs: 0, mode: "hang" },
    async (root) => {
      const child = (await pipelineProcess(["--jobs", "2"], {
        root,
        entry: FIXTURE,
      })).spawn();
      const until = Date.now() + 60_000;
      const started = () =>
        Array.fromAsync(Deno.readDir(join(root, "started"))).catch(() => []);
      while ((await started()).length < 2 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const pids = await Promise.all(
        ["a", "b"].map(async (item) =>
          Number(await Deno.readTextFile(join(root, "started", item)))
        ),
      );
      child.kill("SIGINT");
      const result = await child.output();
      const out = new TextDecoder().decode(result.stdout) +
        new TextDecoder().decode(result.stderr);
      assertEquals(result.code, 130, out);
      assertMatch(out, /interrupted: work@a was stopped/);
      assertMatch(out, /interrupted: work@b was stopped/);
      for (const pid of pids) {
        let alive = true;
        try {
          Deno.kill(pid, "SIGCONT");
        } catch {
          alive = false;
        }
        assert(!alive, `worker ${pid} still running`);
      }
      await Deno.stat(join(root, ".pipeline/run.lock")).then(
        () => assert(false, "run.lock left behind"),
        () => {},
      );
    },
  );
});

Deno.test("worker refuses a key its own plan does not give, saying what differs", async () => {
  await withRoot({ items: ["a"], stepMs: 0 }, async (root) => {
    const run = await cli(root, ["--jobs", "2", "--set", "scale=2"]);
    assertEquals(run.code, 0, run.out);
    const lock = JSON.parse(
      await Deno.readTextFile(join(root, "pipeline.lock")),
    );
    const key = lock.instances["work@a"].key;
    const refused = await cli(root, ["worker", key, "--set", "scale=3"]);
    assertEquals(refused.code, 2, refused.out);
    assertMatch(
      refused.out,
      /refusing work@a: here its upstream prep has key [0-9a-f]{12}…, the coordinator's [0-9a-f]{12}… \(params changed \(scale 2 -> 3\)\)/,
    );
    assert(!/\n\s+at /.test(refused.out), refused.out);
    // With the coordinator's own params, the worker finds the result already stored.
    const same = await cli(root, ["worker", key, "--set", "scale=2"]);
    assertEquals(same.code, 0, same.out);
    assertMatch(same.out, /already in the store/);
  });
});
