import { join } from "node:path";
import { z } from "zod";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  definePipeline,
  defineStage,
  runCli,
  runPipeline,
  upstreamInstances,
} from "../../pipeline/mod.ts";
import { collectGarbage } from "../../pipeline/gc.ts";
import { experimentKeys, listExperiments } from "../../pipeline/exp.ts";
import { makeRig, type Rig } from "./helpers.ts";

const Schema = z.strictObject({
  seeds: z.array(z.number().int()).default([0, 1]),
  train: z.strictObject({
    alpha: z.number().default(0.05),
    epochs: z.number().int().default(2),
  }).prefault({}),
  matrix: z.record(z.string(), z.unknown()).default({}),
});
type P = z.output<typeof Schema>;

/** train@(alpha, seed) -> report (whole params, declares summary.json as its metrics). */
function expPipeline(rig: Rig) {
  const train = defineStage({
    name: "train",
    params: (p: P) => p.train,
    foreach: (p: P) => p.seeds,
    foreachKey: "seed",
    matrix: (p: P) => p.matrix,
    outputs: ["score.json"],
    code: rig.url("stages/train.ts"),
    run: async (ctx) => {
      const score = ctx.params.alpha * 10 + ctx.params.epochs;
      await Deno.writeTextFile(
        join(ctx.outDir, "score.json"),
        JSON.stringify({ score }),
      );
    },
  });
  const report = defineStage({
    name: "report",
    deps: ["train"],
    params: (p: P) => p,
    outputs: ["report.md", "summary.json"],
    metrics: "summary.json",
    workspace: "results",
    code: rig.url("stages/report.ts"),
    run: async (ctx) => {
      const scores: number[] = [];
      for (const instance of upstreamInstances(ctx, "train")) {
        const text = await Deno.readTextFile(join(instance.dir, "score.json"));
        scores.push(JSON.parse(text).score);
      }
      const best = Math.max(...scores);
      await Deno.writeTextFile(join(ctx.outDir, "report.md"), `best ${best}\n`);
      await Deno.writeTextFile(
        join(ctx.outDir, "summary.json"),
        JSON.stringify({ best, runs: scores.length, model: { kind: "mlp" } }),
      );
    },
  });
  return definePipeline({
    params: Schema,
    paramsFile: "params.json",
    stages: [train, report],
  });
}

async function run(rig: Rig, params: unknown) {
  await rig.write("params.json", JSON.stringify(params));
  const result = await runPipeline(expPipeline(rig), { root: rig.root });
  assertEquals(result.outcome, "success");
}

async function cli(rig: Rig, args: string[]) {
  let out = "";
  let err = "";
  const code = await runCli(expPipeline(rig), args, {
    root: rig.root,
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    tty: false,
  });
  return { code, out, err };
}

Deno.test("exp show lists every finished report in the cache, not only the current params", async () => {
  await using rig = await makeRig();
  await run(rig, { train: { epochs: 2 } });
  await run(rig, {
    train: { epochs: 3 },
    matrix: { train: { alpha: [0.1, 0.2] } },
  });
  const { code, out } = await cli(rig, ["exp", "show", "--json"]);
  assertEquals(code, 0);
  const rows = JSON.parse(out) as Array<Record<string, unknown>>;
  assertEquals(rows.length, 2);
  // Newest first; it is checked out, the older one is restorable from a params file.
  const [latest, older] = rows;
  assertEquals(latest.checkedOut, true);
  assertEquals(latest.open, "results/report.md");
  assertEquals(latest.metrics, { best: 5, runs: 4, "model.kind": "mlp" });
  assertEquals(older.metrics, { best: 2.5, runs: 2, "model.kind": "mlp" });
  assertEquals(older.checkedOut, false);
  // Params that differ from the params file (now the second run's).
  assertEquals(older.changed, {
    "matrix.train.alpha": { row: null, current: [0.1, 0.2] },
    "train.epochs": { row: 2, current: 3 },
  });
  assertEquals(latest.changed, {});
  // The restore file reproduces the older report from the cache: nothing reruns.
  assertEquals(older.restorable, true);
  const printed = await cli(rig, ["exp", "params", older.id as string]);
  assertEquals(printed.code, 0, printed.err);
  const file = "older.json";
  await Deno.writeTextFile(join(rig.root, file), printed.out);
  const events: string[] = [];
  const restored = await runPipeline(expPipeline(rig), {
    root: rig.root,
    paramsFile: join(rig.root, file),
    onEvent: (e) => {
      if (e.type === "start") events.push(e.instance);
    },
  });
  assertEquals(restored.outcome, "success");
  assertEquals(events, []);
  assertEquals(
    await Deno.readTextFile(join(rig.root, "results/report.md")),
    "best 2.5\n",
  );
});

Deno.test("exp show: --sort by a metric, --where by a param; the table says how to restore", async () => {
  await using rig = await makeRig();
  await run(rig, { train: { epochs: 7 } });
  await run(rig, { train: { epochs: 2 } });
  const sorted = JSON.parse(
    (await cli(rig, ["exp", "show", "--json", "--sort", "best"])).out,
  );
  assertEquals(
    sorted.map((r: { metrics: { best: number } }) => r.metrics.best),
    [7.5, 2.5],
  );
  const where = JSON.parse(
    (await cli(rig, ["exp", "show", "--json", "--where", "train.epochs=7"]))
      .out,
  );
  assertEquals(where.length, 1);
  assertEquals(where[0].metrics.best, 7.5);
  const table = (await cli(rig, ["exp", "show"])).out;
  assertMatch(
    table,
    /restore from the cache: deno task pipeline exp params ([0-9a-f]{8}) > \1\.json && deno task pipeline --params \1\.json/,
  );
  assertMatch(table, /open results\/report\.md/);
  assertMatch(table, /train\.epochs=7/);
  const bad = await cli(rig, ["exp", "show", "--sort", "nope"]);
  assertEquals(bad.code, 2);
  assertMatch(
    bad.err,
    /--sort nope: no experiment has that numeric metric; metrics: best, model\.kind, runs/,
  );
});

Deno.test("exp diff compares two rows' params and metrics", async () => {
  await using rig = await makeRig();
  await run(rig, { train: { epochs: 7 } });
  await run(rig, { train: { epochs: 2 } });
  const rows = JSON.parse(
    (await cli(rig, ["exp", "show", "--json", "--sort", "best"])).out,
  );
  const { code, out } = await cli(rig, [
    "exp",
    "diff",
    rows[0].id,
    rows[1].id,
    "--json",
  ]);
  assertEquals(code, 0);
  const diff = JSON.parse(out);
  assertEquals(diff.params, { "train.epochs": [7, 2] });
  assertEquals(diff.metrics.best, [7.5, 2.5]);
  assertEquals(diff.metrics.runs, [2, 2]);
  const text = (await cli(rig, ["exp", "diff", rows[0].id, rows[1].id])).out;
  assertMatch(text, /best\s+7\.5000\s+2\.5000\s+-5\n/);
  const missing = await cli(rig, ["exp", "diff", "deadbeef", rows[1].id]);
  assertEquals(missing.code, 2);
  assertMatch(missing.err, /no experiment deadbeef; ids: /);
});

Deno.test("gc keeps finished experiments and what they were made from until exp remove", async () => {
  await using rig = await makeRig();
  await run(rig, { train: { epochs: 7 } });
  await run(rig, { train: { epochs: 2 } });
  const pipeline = expPipeline(rig);
  const before = await listExperiments(pipeline, rig.root, {
    currentParams: Schema.parse({ train: { epochs: 2 } }),
  });
  const kept = await experimentKeys(pipeline, rig.root);
  // 2 reports + 2 train instances each.
  assertEquals(kept.size, 6);
  const gc = await collectGarbage(
    pipeline,
    { root: rig.root, yes: true } as never,
  );
  assertEquals(gc.manifests, 0);
  const older = before.find((r) => !r.checkedOut);
  assert(older !== undefined);
  const removed = await cli(rig, ["exp", "remove", older.id]);
  assertEquals(removed.code, 0);
  const after = await collectGarbage(pipeline, { root: rig.root });
  // The old report's and its two train instances' manifests go.
  assertEquals(after.manifests, 2);
  const rows = JSON.parse((await cli(rig, ["exp", "show", "--json"])).out);
  assertEquals(rows.length, 1);
});

/** Every path under `dir` with its size and mtime. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      const info = await Deno.stat(path);
      out.push(`${path} ${info.size} ${info.mtime?.getTime()}`);
      if (entry.isDirectory) await walk(path);
    }
  };
  await walk(dir);
  return out.sort();
}

Deno.test("exp show and exp params only read: the cache is unchanged after listing", async () => {
  await using rig = await makeRig();
  await run(rig, { train: { epochs: 7 } });
  await run(rig, { train: { epochs: 2 } });
  const before = await tree(rig.root);
  const shown = await cli(rig, ["exp", "show"]);
  assertEquals(shown.code, 0, shown.err);
  const rows = JSON.parse((await cli(rig, ["exp", "show", "--json"])).out);
  assertEquals((await cli(rig, ["exp", "params", rows[1].id])).code, 0);
  assertEquals(await tree(rig.root), before);
});
