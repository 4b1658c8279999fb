import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { join } from "node:path";
import {
  collectGarbage,
  formatReason,
  pipelineStatus,
  RunLockBusyError,
  runPipeline,
  UserError,
  verifyPipeline,
} from "../../pipeline/mod.ts";
import { acquireRunLock } from "../../pipeline/store/run_lock.ts";
import {
  demoPipeline,
  inWords,
  makeRig,
  runCollect,
  writeParams,
} from "./helpers.ts";

Deno.test("first run runs every stage once; a no-op rerun runs nothing", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const first = await runPipeline(pipeline, { root: rig.root });
  assertEquals(first.outcome, "success");
  assertEquals(first.ran, ["source", "train@0", "report"]);
  const second = await runPipeline(pipeline, { root: rig.root });
  assertEquals(second.ran, []);
  assertEquals(second.cached, ["source", "train@0", "report"]);
  assertEquals(
    [rig.count("source"), rig.count("train@0"), rig.count("report")],
    [1, 1, 1],
  );
  const report = await Deno.readTextFile(join(rig.root, "results/report.md"));
  assertEquals(report, 'train@0: {"sum":0.30000000000000004}\n');
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status.map((s) => s.state), ["fresh", "fresh", "fresh"]);
});

Deno.test("status before any run says not run yet", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status, [
    { stage: "source", state: "stale", reasons: ["not run yet"] },
    { stage: "train@0", state: "stale", reasons: ["not run yet"] },
    { stage: "report", state: "stale", reasons: ["not run yet"] },
  ]);
});

Deno.test("a changed param reruns that stage and downstream only, with every reason named", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  await writeParams(rig, { train: { alpha: 0.1, nested: { depth: 2 } } });
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status, [
    { stage: "source", state: "fresh", reasons: [] },
    {
      stage: "train@0",
      state: "stale",
      reasons: [
        "params changed (alpha 0.05 -> 0.1)",
        "params changed (nested.depth 1 -> 2)",
      ],
    },
    // Its key holds train@0's outputs, known once train@0 ran (early cutoff).
    {
      stage: "report",
      state: "pending",
      reasons: ["runs if train@0's outputs change"],
    },
  ]);
  const { result, events } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.ran, ["train@0", "report"]);
  assertEquals(rig.count("source"), 1);
  assertEquals(rig.count("train@0"), 2);
  // Once train@0 ran with other outputs, the report's reason is definite.
  const start = events.find((e) =>
    e.type === "start" && e.instance === "report"
  );
  assertEquals(
    start?.type === "start" ? start.reasons.map(formatReason) : [],
    ["upstream changed (train@0)"],
  );
});

Deno.test("changing a param back reuses the earlier result (run-cache)", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const before = await Deno.readTextFile(join(rig.root, "results/report.md"));
  await writeParams(rig, { train: { alpha: 0.5 } });
  await runPipeline(pipeline, { root: rig.root });
  assertEquals(rig.count("train@0"), 2);
  await writeParams(rig, { train: { alpha: 0.05 } });
  const { result, events } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.ran, []);
  assertEquals(rig.count("train@0"), 2);
  assertEquals(rig.count("report"), 2);
  const restored = events.filter((e) =>
    e.type === "finish" && e.detail === "restored"
  );
  assertEquals(restored.map((e) => e.type === "finish" && e.instance), [
    "train@0",
    "report",
  ]);
  assertEquals(
    await Deno.readTextFile(join(rig.root, "results/report.md")),
    before,
  );
});

Deno.test("--set overrides reach the key; unknown keys and wrong types are errors", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const status = inWords(
    await pipelineStatus(pipeline, {
      root: rig.root,
      overrides: [{ path: ["source", "size"], value: 5 }],
    }),
  );
  assertEquals(status[0].reasons, ["params changed (size 3 -> 5)"]);
  const unknown = await assertRejects(
    () =>
      pipelineStatus(pipeline, {
        root: rig.root,
        overrides: [{ path: ["train", "alhpa"], value: 1 }],
      }),
    UserError,
  );
  assertMatch(unknown.message, /unknown key train\.alhpa/);
  const wrong = await assertRejects(
    () =>
      pipelineStatus(pipeline, {
        root: rig.root,
        overrides: [{ path: ["train", "alpha"], value: "x" }],
      }),
    UserError,
  );
  assertMatch(wrong.message, /train\.alpha: .*number/);
});

Deno.test("code changes name the file; engine files are not part of the key", async () => {
  await using rig = await makeRig();
  await rig.write("pipeline/helper.ts", "export const engine = 1;\n");
  await rig.write(
    "stages/train.ts",
    'import { layers } from "../models/mlp.ts";\nimport "./helper.ts";\nexport const t = layers;\n',
  );
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  await rig.write("pipeline/helper.ts", "export const engine = 2;\n");
  const unchanged = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(unchanged.map((s) => s.state), ["fresh", "fresh", "fresh"]);
  await rig.write("models/mlp.ts", "export const layers = 3;\n");
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status[0], { stage: "source", state: "fresh", reasons: [] });
  assertEquals(status[1].reasons, ["code changed (models/mlp.ts)"]);
  assertEquals(status[2].reasons, ["runs if train@0's outputs change"]);
  const result = await runPipeline(pipeline, { root: rig.root });
  // train@0's outputs do not depend on that file: it reproduces them and the report stays.
  assertEquals(result.ran, ["train@0"]);
});

Deno.test("bumping an import-map target changes the key of stages importing it", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  await rig.write(
    "deno.json",
    JSON.stringify({ imports: { zod: "npm:zod@4.7.0" } }),
  );
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status[0].reasons, [
    "dependency changed (zod npm:zod@4.6.7 -> npm:zod@4.7.0)",
  ]);
  assertEquals(status[1].reasons, ["runs if source's outputs change"]);
});

Deno.test("a deleted output is reported and restored from the store without rerunning", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  await Deno.remove(join(rig.root, ".pipeline/out/train@0/meta.json"));
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status[1].reasons, ["output missing or corrupt (meta.json)"]);
  assertEquals(status[2].state, "fresh");
  const result = await runPipeline(pipeline, { root: rig.root });
  assertEquals(result.ran, []);
  assertEquals(rig.count("train@0"), 1);
  assertEquals(
    await Deno.readTextFile(join(rig.root, ".pipeline/out/train@0/meta.json")),
    '{"seed":0}',
  );
});

Deno.test("a no-op rerun checks size and mtime only; verify re-hashes and finds the edit", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const path = join(rig.root, ".pipeline/out/source/numbers.json");
  const info = await Deno.stat(path);
  const text = await Deno.readTextFile(path);
  await Deno.chmod(path, 0o644);
  await Deno.writeTextFile(path, text.replace("1", "9")); // same size
  await Deno.utime(path, info.atime ?? new Date(), info.mtime ?? new Date());
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status[0].state, "fresh"); // proves the no-op path did not hash the file
  const verify = await verifyPipeline(pipeline, { root: rig.root });
  assertEquals(
    verify.problems.map((p) =>
      `${p.instance} ${p.output} ${p.where} ${p.problem}`
    ).sort(),
    // the checkout is a hard link, so the edit reached the stored object as well
    [
      "source numbers.json store corrupt",
      "source numbers.json workspace corrupt",
    ],
  );
});

Deno.test("a corrupt store object is detected on restore, reported and recomputed", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const lock = JSON.parse(
    await Deno.readTextFile(join(rig.root, "pipeline.lock")),
  );
  const sha: string = lock.instances["train@0"].outputs["model.json"].sha256;
  await Deno.remove(join(rig.root, ".pipeline/out/train@0"), {
    recursive: true,
  });
  const object = join(
    rig.root,
    ".pipeline/objects",
    sha.slice(0, 2),
    sha.slice(2),
  );
  await Deno.chmod(object, 0o644);
  await Deno.writeTextFile(object, '{"sum":666}');
  const { result, events } = await runCollect(pipeline, { root: rig.root });
  const warnings = events.flatMap((e) =>
    e.type === "warning" ? [e.message] : []
  );
  assertEquals(warnings.length, 1);
  assertMatch(warnings[0], /train@0 is corrupt \(model\.json\)/);
  const started = events.flatMap((e) => e.type === "start" ? [e] : []);
  assertEquals(started, [{
    type: "start",
    instance: "train@0",
    reasons: [{ kind: "cached-result-corrupt", outputs: ["model.json"] }],
  }]);
  assertEquals(result.ran, ["train@0"]);
  assertEquals(rig.count("train@0"), 2);
  assertEquals(rig.count("report"), 1);
  const model = await Deno.readTextFile(
    join(rig.root, ".pipeline/out/train@0/model.json"),
  );
  assertEquals(JSON.parse(model), { sum: 0.30000000000000004 });
});

Deno.test("foreach instances are cached one by one; a new seed runs only its instance", async () => {
  await using rig = await makeRig();
  const { pipeline, switches } = demoPipeline(rig);
  await writeParams(rig, { seeds: [0, 1] });
  const first = await runPipeline(pipeline, { root: rig.root });
  assertEquals(first.ran, ["source", "train@0", "train@1", "report"]);
  await writeParams(rig, { seeds: [0, 1, 2] });
  const second = await runPipeline(pipeline, { root: rig.root });
  assertEquals(second.ran, ["train@2", "report"]);
  const ctx = switches.seen.get("train@2") as { item: unknown; name: string };
  assertEquals([ctx.item, ctx.name], [2, "train@2"]);
  const report = await Deno.readTextFile(join(rig.root, "results/report.md"));
  assertEquals(report.trim().split("\n").length, 3);
});

Deno.test("a target runs only it and its upstream; --force reruns it and its downstream", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await writeParams(rig, { seeds: [0, 1] });
  const partial = await runPipeline(pipeline, {
    root: rig.root,
    targets: ["train@1"],
  });
  assertEquals(partial.ran, ["source", "train@1"]);
  assertEquals(rig.count("report"), 0);
  await runPipeline(pipeline, { root: rig.root });
  const forced = await runPipeline(pipeline, {
    root: rig.root,
    force: ["train@0"],
  });
  assertEquals(forced.ran, ["train@0", "report"]);
  const all = await runPipeline(pipeline, { root: rig.root, force: ["train"] });
  assertEquals(all.ran, ["train@0", "train@1", "report"]);
  await assertRejects(
    () => runPipeline(pipeline, { root: rig.root, targets: ["trian"] }),
    UserError,
    "unknown stage trian",
  );
});

Deno.test("--dry-run says what would run and why, and runs nothing", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  await writeParams(rig, { train: { epochs: 3 } });
  const { result } = await runCollect(pipeline, {
    root: rig.root,
    dryRun: true,
  });
  assertEquals(result.outcome, "dry-run");
  assertEquals(inWords(result.plan), [
    { instance: "source", action: "fresh", reasons: [] },
    {
      instance: "train@0",
      action: "run",
      reasons: ["params changed (epochs 2 -> 3)"],
    },
    {
      instance: "report",
      action: "pending",
      reasons: ["runs if train@0's outputs change"],
    },
  ]);
  assertEquals(rig.count("train@0"), 1);
});

Deno.test("a stage that throws stops the run; earlier results stay cached, later ones do not run", async () => {
  await using rig = await makeRig();
  const { pipeline, switches } = demoPipeline(rig, {
    fail: new Set(["train@0"]),
  });
  await writeParams(rig, { seeds: [0, 1] });
  const { result, events } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.outcome, "failed");
  assertEquals(result.stage, "train@0");
  assertMatch(
    String((result.error as Error).message),
    /stage train@0 failed: train@0 exploded/,
  );
  assertEquals(
    [rig.count("source"), rig.count("train@1"), rig.count("report")],
    [1, 0, 0],
  );
  assert(events.some((e) => e.type === "failed" && e.instance === "train@0"));
  switches.fail.clear();
  const retry = await runPipeline(pipeline, { root: rig.root });
  assertEquals(retry.ran, ["train@0", "train@1", "report"]);
  assertEquals(rig.count("source"), 1);
});

Deno.test("a stage that does not write a declared output fails naming the file", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig, { skipOutputs: new Set(["train@0"]) });
  const { result } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.outcome, "failed");
  assertMatch((result.error as Error).message, /model\.json, meta\.json/);
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status[1].reasons, ["not run yet"]);
});

Deno.test("the stage context carries inputs, transitive upstream, item, params and the DAG", async () => {
  await using rig = await makeRig();
  const { pipeline, switches } = demoPipeline(rig);
  await writeParams(rig, { seeds: [3, 4] });
  await runPipeline(pipeline, { root: rig.root, targets: ["train@3"] });
  await runPipeline(pipeline, { root: rig.root });
  type Ctx = {
    inputs: Record<string, string>;
    upstream: Record<
      string,
      { cached: boolean; seconds: number; key: string; dir: string }
    >;
    mermaid: string;
    allParams: { seeds: number[] };
    params: unknown;
    scratchDir: string;
  };
  const report = switches.seen.get("report") as Ctx;
  assertEquals(Object.keys(report.inputs).sort(), ["train@3", "train@4"]);
  // Its inputs are its own verified copies of what its key names, not the shared checkout.
  assertMatch(
    report.inputs["train@3"],
    /\/\.pipeline\/tmp\/report-in-[^/]+\/train@3$/,
  );
  assertEquals(Object.keys(report.upstream).sort(), [
    "source",
    "train@3",
    "train@4",
  ]);
  assertEquals(report.upstream["train@3"].cached, true);
  assertEquals(report.upstream["train@4"].cached, false);
  assert(report.upstream.source.seconds > 0);
  assertMatch(report.upstream.source.key, /^[0-9a-f]{64}$/);
  assertMatch(report.mermaid, /train_3 --> report/);
  assertEquals(report.allParams.seeds, [3, 4]);
  const train = switches.seen.get("train@4") as Ctx;
  assertEquals(train.params, { epochs: 2, alpha: 0.05, nested: { depth: 1 } });
  // scratch dirs are deleted after success
  await assertRejects(() => Deno.stat(train.scratchDir), Deno.errors.NotFound);
});

Deno.test("gc removes results unreachable from the current params and says how much", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  await writeParams(rig, { train: { alpha: 0.2 } });
  await runPipeline(pipeline, { root: rig.root });
  const gc = await collectGarbage(pipeline, { root: rig.root });
  assertEquals(gc.manifests, 2); // old train@0 and old report
  assert(gc.objects >= 2);
  assert(gc.bytes > 0);
  const again = await runPipeline(pipeline, { root: rig.root });
  assertEquals(again.ran, []);
  await writeParams(rig, { train: { alpha: 0.05 } });
  const back = await runPipeline(pipeline, { root: rig.root });
  assertEquals(back.ran, ["train@0", "report"]); // really gone
});

Deno.test("a second run refuses while another holds the run lock; dry run and status do not", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const held = await acquireRunLock(join(rig.root, ".pipeline"), {
    command: "run",
  });
  try {
    const error = await assertRejects(
      () => runPipeline(pipeline, { root: rig.root }),
      RunLockBusyError,
    );
    assertMatch(error.message, new RegExp(`pid ${Deno.pid} on `));
    await assertRejects(
      () => collectGarbage(pipeline, { root: rig.root }),
      RunLockBusyError,
    );
    assertEquals(rig.count("source"), 0);
    const dry = await runPipeline(pipeline, { root: rig.root, dryRun: true });
    assertEquals(dry.outcome, "dry-run");
    assertEquals(
      (await pipelineStatus(pipeline, { root: rig.root })).length,
      3,
    );
    assertEquals(
      (await verifyPipeline(pipeline, { root: rig.root })).problems,
      [],
    );
  } finally {
    await held.release();
  }
});

Deno.test("run --wait starts when the holder releases the lock, and says it waits", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const held = await acquireRunLock(join(rig.root, ".pipeline"), {
    command: "run",
  });
  let released = false;
  setTimeout(() => {
    released = true;
    held.release();
  }, 300);
  const { result, events } = await runCollect(pipeline, {
    root: rig.root,
    wait: true,
  });
  assert(released);
  assertEquals(result.outcome, "success");
  assert(
    events.some((e) =>
      e.type === "warning" &&
      e.message.startsWith(`waiting for the run of pid ${Deno.pid} on `)
    ),
  );
});

Deno.test("Ctrl-C while waiting for the run lock ends the run as interrupted, running nothing", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const held = await acquireRunLock(join(rig.root, ".pipeline"));
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const { result } = await runCollect(pipeline, {
      root: rig.root,
      wait: true,
      signal: controller.signal,
    });
    assertEquals(result.outcome, "interrupted");
    assertEquals(rig.count("source"), 0);
  } finally {
    await held.release();
  }
});

Deno.test("an aborted signal interrupts the running stage and keeps its scratch dir", async () => {
  await using rig = await makeRig();
  const { pipeline, switches } = demoPipeline(rig);
  const controller = new AbortController();
  const slow = {
    ...pipeline,
    stages: pipeline.stages.map((stage) =>
      stage.name !== "train" ? stage : {
        ...stage,
        run: async (
          ctx: { signal: AbortSignal; scratchDir: string; name: string },
        ) => {
          switches.seen.set(ctx.name, ctx);
          await Deno.writeTextFile(
            join(ctx.scratchDir, "checkpoint"),
            "epoch 1",
          );
          controller.abort();
          if (ctx.signal.aborted) throw new Error("aborted");
          await new Promise(() => {}); // never reached
        },
      }
    ),
  };
  const { result, events } = await runCollect(slow, {
    root: rig.root,
    signal: controller.signal,
  });
  assertEquals(result.outcome, "interrupted");
  assertEquals(result.stage, "train@0");
  assert(
    events.some((e) => e.type === "interrupted" && e.instance === "train@0"),
  );
  const ctx = switches.seen.get("train@0") as { scratchDir: string };
  assertEquals(
    await Deno.readTextFile(join(ctx.scratchDir, "checkpoint")),
    "epoch 1",
  );
  assertEquals(rig.count("report"), 0);
});

Deno.test("a stage that ignores the signal is abandoned after the grace period", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const controller = new AbortController();
  const stuck = {
    ...pipeline,
    stages: pipeline.stages.map((stage) =>
      stage.name !== "source" ? stage : {
        ...stage,
        run: async () => {
          controller.abort();
          await new Promise((resolve) => setTimeout(resolve, 3000));
        },
      }
    ),
  };
  const started = performance.now();
  const { result } = await runCollect(stuck, {
    root: rig.root,
    signal: controller.signal,
    abortGraceSeconds: 0.2,
  });
  assertEquals([result.outcome, result.stage], ["interrupted", "source"]);
  assert(
    performance.now() - started < 2500,
    "did not wait for the stuck stage",
  );
});

Deno.test("after a failed rerun, status still names why the stage is stale and the old outputs stay", async () => {
  await using rig = await makeRig();
  const { pipeline, switches } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  await writeParams(rig, { train: { alpha: 0.3 } });
  switches.fail.add("train@0");
  const { result } = await runCollect(pipeline, { root: rig.root });
  assertEquals(result.outcome, "failed");
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status[1].reasons, ["params changed (alpha 0.05 -> 0.3)"]);
  const model = await Deno.readTextFile(
    join(rig.root, ".pipeline/out/train@0/model.json"),
  );
  assertEquals(JSON.parse(model), { sum: 0.30000000000000004 });
});

Deno.test("an edited checked-out output (new size, or new mtime and content) is stale and restored, not rerun", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const path = join(rig.root, "results/report.md");
  const original = await Deno.readTextFile(path);
  // Save the way editors do (new file + rename), so the cached object is untouched.
  await Deno.writeTextFile(`${path}.new`, original + "my note\n");
  await Deno.rename(`${path}.new`, path);
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status[2].reasons, ["output missing or corrupt (report.md)"]);
  await runPipeline(pipeline, { root: rig.root });
  assertEquals(rig.count("report"), 1);
  assertEquals(await Deno.readTextFile(path), original);
  // New mtime, same content (a copy, a fresh clone): hashed, and not called changed.
  const info = await Deno.stat(path);
  await Deno.utime(
    path,
    new Date(),
    new Date((info.mtime?.getTime() ?? 0) + 5000),
  );
  const touched = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(touched[2].reasons, []);
  // Same size, other content: noticed.
  const flipped = original.slice(0, -1) +
    (original.endsWith("x") ? "y" : "x");
  await Deno.writeTextFile(`${path}.new`, flipped);
  await Deno.rename(`${path}.new`, path);
  const edited = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(edited[2].reasons, ["output missing or corrupt (report.md)"]);
});

Deno.test("files a stage declares are hashed into its key and named when they change", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await rig.write("config/labels.txt", "a\nb\n");
  const withFiles = {
    ...pipeline,
    stages: pipeline.stages.map((stage) =>
      stage.name === "source"
        ? { ...stage, files: ["config/labels.txt"] }
        : stage
    ),
  };
  await runPipeline(withFiles, { root: rig.root });
  assertEquals(
    (await pipelineStatus(withFiles, { root: rig.root }))[0].state,
    "fresh",
  );
  await rig.write("config/labels.txt", "a\nb\nc\n");
  const status = inWords(await pipelineStatus(withFiles, { root: rig.root }));
  assertEquals(status[0].reasons, ["code changed (config/labels.txt)"]);
  await Deno.remove(join(rig.root, "config/labels.txt"));
  await assertRejects(
    () => pipelineStatus(withFiles, { root: rig.root }),
    UserError,
    "stage source: file config/labels.txt (in its files list) does not exist",
  );
});

Deno.test("when a recomputed upstream gives different bytes under the same key, downstream reruns", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  let draw = 0;
  const noisy = {
    ...pipeline,
    stages: pipeline.stages.map((stage) =>
      stage.name !== "train" ? stage : {
        ...stage,
        // A non-deterministic stage, like training on a GPU.
        run: async (ctx: { outDir: string; name: string }) => {
          rig.calls.set(ctx.name, rig.count(ctx.name) + 1);
          draw++;
          await Deno.writeTextFile(
            join(ctx.outDir, "model.json"),
            JSON.stringify({ draw }),
          );
          await Deno.writeTextFile(join(ctx.outDir, "meta.json"), "{}");
        },
      }
    ),
  };
  await runPipeline(noisy, { root: rig.root });
  const lock = JSON.parse(
    await Deno.readTextFile(join(rig.root, "pipeline.lock")),
  );
  const sha: string = lock.instances["train@0"].outputs["model.json"].sha256;
  const object = join(
    rig.root,
    ".pipeline/objects",
    sha.slice(0, 2),
    sha.slice(2),
  );
  await Deno.remove(join(rig.root, ".pipeline/out/train@0"), {
    recursive: true,
  });
  await Deno.remove(object);
  const { result, events } = await runCollect(noisy, { root: rig.root });
  assertEquals(result.ran, ["train@0", "report"]);
  const start = events.find((e) =>
    e.type === "start" && e.instance === "report"
  );
  assertEquals(start?.type === "start" && start.reasons.map(formatReason), [
    "upstream changed (train@0)",
  ]);
  assertEquals(
    await Deno.readTextFile(join(rig.root, "results/report.md")),
    'train@0: {"draw":2}\n',
  );
});

Deno.test("an output whose mtime alone moved is hashed once: the run records its new mtime, status writes nothing", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  await runPipeline(pipeline, { root: rig.root });
  const lockPath = join(rig.root, "pipeline.lock");
  const lockOf = async () => JSON.parse(await Deno.readTextFile(lockPath));
  const entry = (await lockOf()).instances.source;
  const [output, record] = Object.entries(entry.outputs)[0] as [
    string,
    { mtime: number },
  ];
  const path = join(rig.root, entry.workspace, output);
  // Same bytes, another mtime: what a fresh clone or a checkout of another lock leaves.
  const moved = new Date(record.mtime + 7_000);
  await Deno.utime(path, moved, moved);
  const newMtime = (await Deno.stat(path)).mtime?.getTime();
  assert(newMtime !== record.mtime);

  const before = await Deno.readTextFile(lockPath);
  const status = inWords(await pipelineStatus(pipeline, { root: rig.root }));
  assertEquals(status.map((s) => s.state), ["fresh", "fresh", "fresh"]);
  assertEquals(await Deno.readTextFile(lockPath), before);

  const rerun = await runPipeline(pipeline, { root: rig.root });
  assertEquals(rerun.ran, []);
  assertEquals(
    (await lockOf()).instances.source.outputs[output].mtime,
    newMtime,
  );
  // Nothing else in the entry moved.
  assertEquals(
    { ...(await lockOf()).instances.source.outputs[output], mtime: 0 },
    { ...(JSON.parse(before).instances.source.outputs[output]), mtime: 0 },
  );
});
