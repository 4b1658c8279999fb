/**
 * The cache stays honest: corrupt manifests are seen by status and verify, every command tells
 * the same "not in cache" story, leftovers of killed runs are swept, gc keeps what is checked
 * out, a full disk keeps nothing half-written, and a result whose upstream changed under it is
 * not published.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  collectGarbage,
  CorruptInputError,
  defineStage,
  DiskFullError,
  isUserError,
  pipelineStatus,
  runPipeline,
  StageFailedError,
  verifyPipeline,
} from "../../pipeline/mod.ts";
import { demoPipeline, makeRig, type Rig, runCollect } from "./helpers.ts";

async function lockKey(rig: Rig, instance: string): Promise<string> {
  const lock = JSON.parse(
    await Deno.readTextFile(join(rig.root, "pipeline.lock")),
  );
  return lock.instances[instance].key;
}

async function manifestNames(rig: Rig): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(join(rig.root, ".pipeline/runs"))))
    .map((entry) => entry.name).sort();
}

Deno.test("a truncated manifest: status says stale naming it, verify fails, the run recomputes it", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const key = await lockKey(rig, "source");
  const path = join(rig.root, ".pipeline/runs", `${key}.json`);
  await Deno.truncate(path, 50);

  const status = await pipelineStatus(pipeline, { root: rig.root });
  assertEquals(status[0].state, "stale");
  const corrupt = status[0].reasons[0];
  assertEquals(corrupt.kind, "cache-entry-corrupt");
  assert(corrupt.kind === "cache-entry-corrupt" && corrupt.detail !== "");
  // source reruns first; what is below it waits for its outputs (early cutoff).
  assertEquals(status.slice(1).map((s) => s.state), ["pending", "pending"]);

  const verify = await verifyPipeline(pipeline, { root: rig.root });
  assertEquals(
    verify.problems.map((p) => [p.instance, p.where, p.problem, p.output]),
    [["source", "manifest", "corrupt", `${key}.json`]],
  );

  const { result } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.ran, ["source"]);
  assertEquals(
    (await verifyPipeline(pipeline, { root: rig.root })).problems,
    [],
  );
});

Deno.test("a fresh clone (committed lock, no cache): status, dry run and run say 'not run yet' where nothing is checked out", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  // A fresh clone: pipeline.lock is committed, .pipeline/ and the checkouts are not.
  await makeRemovable(join(rig.root, ".pipeline"));
  await Deno.remove(join(rig.root, ".pipeline"), { recursive: true });

  const status = await pipelineStatus(pipeline, { root: rig.root });
  assertEquals(
    status.map((entry) => [entry.stage, entry.state, entry.reasons]),
    [
      ["source", "stale", [{ kind: "not-run-yet" }]],
      ["train@0", "stale", [{ kind: "not-run-yet" }]],
      // Its committed workspace (results/) still holds its outputs; only the cache entry is gone.
      ["report", "stale", [{ kind: "not-in-cache" }]],
    ],
  );
  const dry = await runPipeline(pipeline, { root: rig.root, dryRun: true });
  assertEquals(dry.plan.map((e) => e.action), ["run", "run", "run"]);
  assertEquals(
    dry.plan.map((e) => e.reasons),
    status.map((e) => e.reasons),
  );
  const { result, events } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.ran, ["source", "train@0", "report"]);
  const started = events.flatMap((e) => e.type === "start" ? [e.reasons] : []);
  assertEquals(started, status.map((e) => e.reasons));
});

Deno.test("a cache entry deleted by hand is not 'up to date': status and run say not in cache", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const key = await lockKey(rig, "report");
  await Deno.remove(join(rig.root, ".pipeline/runs", `${key}.json`));
  const status = await pipelineStatus(pipeline, { root: rig.root });
  assertEquals(status[2].reasons, [{ kind: "not-in-cache" }]);
  const { result } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.ran, ["report"]);
  assert((await manifestNames(rig)).includes(`${key}.json`));
});

Deno.test("gc with other params keeps what is checked out, so 'up to date' stays true", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const before = await manifestNames(rig);
  const other = [{ path: ["train", "alpha"], value: 0.9 }];
  const gc = await collectGarbage(pipeline, {
    root: rig.root,
    overrides: other,
  });
  assertEquals(gc.manifests, 0);
  assertEquals(await manifestNames(rig), before);
  const again = await runPipeline(pipeline, { root: rig.root });
  assertEquals(again.ran, []);
  assertEquals(
    (await verifyPipeline(pipeline, { root: rig.root })).problems,
    [],
  );
});

Deno.test("temp files of killed runs are removed by the next run and by gc", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const leftovers = [
    ".pipeline/run.lock.4242.1.abc123.tmp",
    ".pipeline/runs/0000.json.4242.2.abc123.tmp",
    "pipeline.lock.4242.3.abc123.tmp",
    ".pipeline/out/source/numbers.json.4242.4.abc123.tmp",
    "results/report.md.4242.5.abc123.tmp",
  ];
  const plant = async () => {
    for (const path of leftovers) await rig.write(path, "partial");
  };
  const exists = async (path: string) =>
    await Deno.stat(join(rig.root, path)).then(() => true, () => false);
  await plant();
  await runPipeline(pipeline, { root: rig.root });
  for (const path of leftovers) assert(!await exists(path), `${path} left`);
  await rig.write("keep.me.tmp", "a user's file, not ours");
  await plant();
  const gc = await collectGarbage(pipeline, { root: rig.root });
  assertEquals(
    gc.items.map((item) => [item.kind, item.path]).sort(),
    leftovers.map((path) => ["temp", path]).sort(),
  );
  for (const path of leftovers) {
    assert(!await exists(path), `${path} left by gc`);
  }
  assert(await exists("keep.me.tmp"));
});

Deno.test("a full disk while writing a manifest names the file, keeps nothing half-written, and the next run finishes", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root, targets: ["source"] });
  const full = (path: string, data: Uint8Array) => {
    if (path.includes("/runs/")) {
      return Promise.reject(
        Object.assign(new Error("No space left on device (os error 28)"), {
          code: "ENOSPC",
        }),
      );
    }
    return Deno.writeFile(path, data);
  };
  const { result, events } = await runCollect(pipeline, {
    root: rig.root,
    writeFile: full,
  });
  assertEquals(result.outcome, "failed");
  assertEquals(result.stage, "train@0");
  const cause = (result.error as StageFailedError).cause;
  assert(cause instanceof DiskFullError);
  assert(isUserError(cause), "printed without a stack");
  assertMatch(
    cause.message,
    /^no space left on the device while writing .*\/\.pipeline\/runs\/[0-9a-f]{64}\.json \(nothing half-written was kept\)/,
  );
  assert(events.some((e) => e.type === "failed" && e.instance === "train@0"));
  // Only source's manifest; no temp file next to it; train@0 not checked out.
  assertEquals((await manifestNames(rig)).length, 1);
  const lock = JSON.parse(
    await Deno.readTextFile(join(rig.root, "pipeline.lock")),
  );
  assertEquals(Object.keys(lock.instances), ["source"]);
  const next = await runPipeline(pipeline, { root: rig.root });
  assertEquals(next.ran, ["train@0", "report"]);
});

Deno.test("an input swapped while a stage runs: the stage fails loudly and nothing is cached", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const tampering = {
    ...pipeline,
    stages: pipeline.stages.map((stage) =>
      stage.name !== "report" ? stage : defineStage({
        name: "report",
        deps: ["train"],
        outputs: ["report.md"],
        code: rig.url("stages/report.ts"),
        workspace: "results",
        run: async (ctx) => {
          // What a second writer (another run, a user) could do meanwhile.
          const model = join(ctx.inputs["train@0"], "model.json");
          await Deno.remove(model);
          await Deno.writeTextFile(model, '{"sum":999}');
          await Deno.writeTextFile(join(ctx.outDir, "report.md"), "poisoned");
        },
      })
    ),
  };
  const { result } = await runCollect(tampering, { root: rig.root });
  assertEquals(result.outcome, "failed");
  assertEquals(result.stage, "report");
  const cause = (result.error as StageFailedError).cause;
  assert(cause instanceof CorruptInputError);
  assertMatch(
    cause.message,
    /^train@0's model\.json changed while this stage ran; nothing was cached/,
  );
  const lock = JSON.parse(
    await Deno.readTextFile(join(rig.root, "pipeline.lock")),
  );
  assert(!("report" in lock.instances));
  assertEquals((await manifestNames(rig)).length, 2);
});

Deno.test("an input rewritten in place with the same size is re-hashed: other bytes fail", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const tampering = {
    ...pipeline,
    stages: pipeline.stages.map((stage) =>
      stage.name !== "report" ? stage : defineStage({
        name: "report",
        deps: ["train"],
        outputs: ["report.md"],
        code: rig.url("stages/report.ts"),
        workspace: "results",
        run: async (ctx) => {
          const model = join(ctx.inputs["train@0"], "model.json");
          const text = await Deno.readTextFile(model);
          await Deno.remove(model);
          await Deno.writeTextFile(model, text.replace(/\d/, "7"));
          await Deno.writeTextFile(join(ctx.outDir, "report.md"), "x");
        },
      })
    ),
  };
  const { result } = await runCollect(tampering, { root: rig.root });
  assertEquals(result.outcome, "failed");
  assertMatch(
    (result.error as Error).message,
    /train@0's model\.json changed while this stage ran; nothing was cached/,
  );
});

async function makeRemovable(path: string): Promise<void> {
  for await (const entry of Deno.readDir(path)) {
    const child = join(path, entry.name);
    if (entry.isDirectory) await makeRemovable(child);
    else await Deno.chmod(child, 0o644);
  }
}
