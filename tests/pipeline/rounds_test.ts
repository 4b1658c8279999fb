import { assert, assertEquals } from "../assert.ts";
import { join } from "node:path";
import { z } from "zod";
import {
  type AnyStage,
  definePipeline,
  defineStage,
  type PipelineEvent,
  roundsStatus,
  runRounds,
  runsInRounds,
} from "../../pipeline/mod.ts";
import { makeRig, type Rig } from "./helpers.ts";

const schema = z.strictObject({
  seeds: z.array(z.number().int()).default([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
  rounds: z.strictObject({ count: z.number().int().default(2) }).prefault({}),
  target: z.number().default(25),
});
type P = z.output<typeof schema>;

const Decision = z.object({
  done: z.boolean(),
  count: z.number().int(),
  sum: z.number(),
});

/**
 * sample@seed (only seeds < rounds.count exist) -> decide (sum of the samples: done once it
 * reaches the target, else two more seeds); sample -> report. Samples are 2 * seed, so the sums are
 * 2, 12, 30: decided in round 3 with 6 seeds.
 */
function roundsPipeline(rig: Rig) {
  const bump = (name: string) => rig.calls.set(name, rig.count(name) + 1);
  const sample = defineStage({
    name: "sample",
    foreach: (p: P) => p.seeds,
    foreachKey: "seed",
    include: (p: P, item) => Number(item.seed) < p.rounds.count,
    outputs: ["value.json"],
    code: rig.url("stages/train.ts"),
    run: async (ctx) => {
      bump(ctx.name);
      await Deno.writeTextFile(
        join(ctx.outDir, "value.json"),
        JSON.stringify(2 * Number(ctx.item)),
      );
    },
  });
  const sumOf = async (inputs: Record<string, string>) => {
    let sum = 0;
    for (const [name, dir] of Object.entries(inputs)) {
      if (!name.startsWith("sample@")) continue;
      sum += JSON.parse(await Deno.readTextFile(join(dir, "value.json")));
    }
    return sum;
  };
  const decide = defineStage({
    name: "decide",
    deps: ["sample"],
    params: (p: P) => ({ target: p.target }),
    // No target, no rounds: the pipeline runs once.
    include: (p: P) => p.target > 0,
    outputs: ["round.json"],
    code: rig.url("stages/source.ts"),
    run: async (ctx) => {
      bump(ctx.name);
      const count = Object.keys(ctx.inputs).length;
      const sum = await sumOf(ctx.inputs);
      const done = sum >= ctx.params.target;
      await Deno.writeTextFile(
        join(ctx.outDir, "round.json"),
        JSON.stringify({ done, count: done ? count : count + 2, sum }),
      );
    },
  });
  const report = defineStage({
    name: "report",
    deps: ["sample"],
    outputs: ["report.md"],
    code: rig.url("stages/report.ts"),
    run: async (ctx) => {
      bump(ctx.name);
      await Deno.writeTextFile(
        join(ctx.outDir, "report.md"),
        `sum ${await sumOf(ctx.inputs)}\n`,
      );
    },
  });
  const stages: AnyStage<P>[] = [sample, decide, report];
  return definePipeline({
    params: schema,
    paramsFile: "params.json",
    stages,
    rounds: {
      stage: "decide",
      file: "round.json",
      next: (raw) => {
        const d = Decision.parse(raw);
        return d.done ? null : [{ path: ["rounds", "count"], value: d.count }];
      },
      describe: (raw) => {
        const d = Decision.parse(raw);
        return d.done
          ? `sum ${d.sum}: done`
          : `sum ${d.sum}: ${d.count} seeds next`;
      },
    },
  });
}

function roundEvents(events: PipelineEvent[]) {
  return events.filter((e) => e.type === "round").map((e) =>
    e.type === "round" ? `${e.round} ${e.state} ${e.note ?? ""}`.trim() : ""
  );
}

Deno.test("rounds: the decision's output adds instances round by round until it is decided", async () => {
  await using rig = await makeRig();
  const pipeline = roundsPipeline(rig);
  const events: PipelineEvent[] = [];
  const result = await runRounds(pipeline, {
    root: rig.root,
    onEvent: (e) => events.push(e),
  });
  assertEquals(result.outcome, "success");
  assertEquals(roundEvents(events), [
    "1 start",
    "1 decided sum 2: 4 seeds next",
    "2 start",
    "2 decided sum 12: 6 seeds next",
    "3 start",
    "3 decided sum 30: done",
  ]);
  assertEquals(result.rounds.map((r) => r.state), ["next", "next", "decided"]);
  // Each sample ran once, in the round that added it; the decision once per round.
  for (let seed = 0; seed < 6; seed++) {
    assertEquals(rig.count(`sample@${seed}`), 1);
  }
  assertEquals(rig.count("sample@6"), 0);
  assertEquals([rig.count("decide"), rig.count("report")], [3, 1]);
  assertEquals(
    await Deno.readTextFile(join(rig.root, ".pipeline/out/report/report.md")),
    "sum 30\n",
  );
});

Deno.test("rounds: a rerun of a finished sequential experiment replays the rounds from the cache and computes nothing", async () => {
  await using rig = await makeRig();
  const pipeline = roundsPipeline(rig);
  await runRounds(pipeline, { root: rig.root });
  const before = new Map(rig.calls);
  const events: PipelineEvent[] = [];
  const again = await runRounds(pipeline, {
    root: rig.root,
    onEvent: (e) => events.push(e),
  });
  assertEquals(again.outcome, "success");
  assertEquals(again.ran, []);
  assertEquals(rig.calls, before);
  assertEquals(again.rounds.length, 3);
  assert(again.cached.includes("report") && again.cached.includes("sample@5"));
  assertEquals(roundEvents(events).at(-1), "3 decided sum 30: done");
});

Deno.test("rounds: status replays the cached rounds; before a run it says what is decided after round 1", async () => {
  await using rig = await makeRig();
  const pipeline = roundsPipeline(rig);
  const before = await roundsStatus(pipeline, { root: rig.root });
  assertEquals(before.rounds.map((r) => [r.round, r.state]), [[1, "unknown"]]);
  assertEquals(
    before.rounds[0].instances.map((d) => [d.instance.name, d.decision]),
    [["sample@0", "run"], ["sample@1", "run"], ["decide", "run"]],
  );
  // A dry run says the same, and that later rounds are decided after round 1.
  const events: PipelineEvent[] = [];
  const dry = await runRounds(pipeline, {
    root: rig.root,
    dryRun: true,
    onEvent: (e) => events.push(e),
  });
  assertEquals(dry.outcome, "dry-run");
  assertEquals(roundEvents(events), [
    "1 start",
    "2 unknown decide has not run on this round's results",
  ]);
  assertEquals(rig.count("decide"), 0);

  await runRounds(pipeline, { root: rig.root });
  const after = await roundsStatus(pipeline, { root: rig.root });
  assertEquals(after.rounds.map((r) => [r.round, r.state, r.note]), [
    [1, "next", "sum 2: 4 seeds next"],
    [2, "next", "sum 12: 6 seeds next"],
    [3, "decided", "sum 30: done"],
  ]);
  // Each instance is listed once, in the round that added it; earlier rounds' decisions are
  // read from the cache (restorable), the last one is checked out.
  assertEquals(
    after.rounds.map((r) => r.instances.map((d) => d.instance.name)),
    [
      ["sample@0", "sample@1", "decide"],
      ["sample@2", "sample@3"],
      ["sample@4", "sample@5", "report"],
    ],
  );
  assertEquals(
    after.rounds.flatMap((r) => r.instances).every((d) =>
      d.decision === "fresh" || d.decision === "restore"
    ),
    true,
  );
});

Deno.test("rounds: a decision stage that its include leaves out makes a plain one-round run", async () => {
  await using rig = await makeRig();
  await rig.write("params.json", JSON.stringify({ target: 0 }));
  const pipeline = roundsPipeline(rig);
  assertEquals(await runsInRounds(pipeline, { root: rig.root }), false);
  const result = await runRounds(pipeline, { root: rig.root });
  assertEquals(result.rounds, []);
  assertEquals(result.ran, ["sample@0", "sample@1", "report"]);
  assertEquals(rig.count("decide"), 0);
});
