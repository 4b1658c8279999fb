import { z } from "zod";
import { assertEquals, assertMatch, assertThrows } from "../assert.ts";
import { expandInstances } from "../../pipeline/plan/graph.ts";
import { UserError } from "../../pipeline/errors.ts";
import {
  combinations,
  itemLabel,
  matrixAxes,
  matrixIssues,
} from "../../pipeline/plan/matrix.ts";
import { itemValue } from "../../pipeline/plan/items.ts";
import type { AnyStage } from "../../pipeline/types.ts";

type P = {
  seeds: number[];
  train: { alpha: number; hidden: number[]; epochs: number };
  matrix: unknown;
};

const base: P = {
  seeds: [0, 1],
  train: { alpha: 0.05, hidden: [512, 512], epochs: 10 },
  matrix: {},
};

function stage(name: string, extra: Partial<AnyStage<P>> = {}): AnyStage<P> {
  return {
    name,
    outputs: ["o.txt"],
    code: "file:///x.ts",
    run: () => {},
    ...extra,
  };
}

/** prep -> train_{baseline,rdrop}@seed -> evaluate_rdrop@seed -> report, as the experiment wires it. */
function stages(): AnyStage<P>[] {
  const swept = { matrix: (p: P) => p.matrix, foreachKey: "seed" };
  return [
    stage("prep", { matrix: (p) => p.matrix, params: () => ({ n: 1 }) }),
    stage("train_baseline", {
      ...swept,
      deps: ["prep"],
      foreach: (p) => p.seeds,
      params: (p) => ({ ...p.train, alpha: 0 }),
    }),
    stage("train_rdrop", {
      ...swept,
      deps: ["prep"],
      foreach: (p) => p.seeds,
      params: (p) => p.train,
    }),
    stage("evaluate_rdrop", {
      ...swept,
      deps: ["prep", "train_rdrop"],
      foreach: (p) => p.seeds,
      params: () => ({ mode: "rdrop" }),
    }),
    stage("report", {
      deps: ["train_baseline", "evaluate_rdrop"],
      params: (p) => p,
    }),
  ];
}

function expand(matrix: unknown) {
  return expandInstances(stages() as AnyStage<unknown>[], { ...base, matrix });
}

Deno.test("matrix: one instance per combination and seed; the baseline keeps its plain items and params", () => {
  const plain = expand({});
  const swept = expand({ train: { alpha: [0.01, 0.05] } });
  const names = (list: typeof plain, prefix: string) =>
    list.filter((i) => i.stage.name === prefix).map((i) => i.name);
  assertEquals(names(swept, "train_rdrop"), [
    "train_rdrop@alpha=0.01,seed=0",
    "train_rdrop@alpha=0.01,seed=1",
    "train_rdrop@alpha=0.05,seed=0",
    "train_rdrop@alpha=0.05,seed=1",
  ]);
  // The baseline's params do not change with alpha: same instances, items and params as unswept.
  const baseline = (list: typeof plain) =>
    list.filter((i) => i.stage.name === "train_baseline")
      .map(({ name, item, params, deps }) => ({ name, item, params, deps }));
  assertEquals(baseline(swept), baseline(plain));
  assertEquals(baseline(swept)[1].item, 1);
  // Each swept instance gets the combination's value in its params.
  const rdrop = swept.find((i) => i.name === "train_rdrop@alpha=0.01,seed=1");
  assertEquals((rdrop?.params as P["train"]).alpha, 0.01);
  assertEquals(rdrop?.item, { "train.alpha": 0.01, seed: 1 });
  assertEquals(itemValue(rdrop?.item, "seed"), 1);
  assertEquals(itemValue(0, "seed"), 0);
  // evaluate inherits the axis from its upstream and pairs with the same item.
  const evaluate = swept.find((i) =>
    i.name === "evaluate_rdrop@alpha=0.05,seed=0"
  );
  assertEquals(evaluate?.deps, ["prep", "train_rdrop@alpha=0.05,seed=0"]);
  // The aggregating report depends on every instance.
  const report = swept.find((i) => i.name === "report");
  assertEquals(report?.deps.length, 2 + 4);
  // prep's params do not change with alpha: one instance.
  assertEquals(names(swept, "prep"), ["prep"]);
});

Deno.test("matrix: a list-valued param is swept by a list of lists, unambiguously", () => {
  const swept = expand({ train: { hidden: [[256], [512, 512]] } });
  const rdrop = swept.filter((i) => i.stage.name === "train_rdrop");
  assertEquals(rdrop.map((i) => i.name), [
    "train_rdrop@hidden=[256],seed=0",
    "train_rdrop@hidden=[256],seed=1",
    "train_rdrop@hidden=[512,512],seed=0",
    "train_rdrop@hidden=[512,512],seed=1",
  ]);
  assertEquals((rdrop[0].params as P["train"]).hidden, [256]);
  // hidden changes the baseline too, so it is swept as well.
  assertEquals(
    swept.filter((i) => i.stage.name === "train_baseline").length,
    4,
  );
});

Deno.test("matrix: two axes give the cartesian product; labels stay unique", () => {
  assertEquals(
    combinations(matrixAxes({ a: { x: [1, 2] }, b: { x: ["p"] } })),
    [{ "a.x": 1, "b.x": "p" }, { "a.x": 2, "b.x": "p" }],
  );
  assertEquals(
    itemLabel({ "a.x": 1, "b.x": "p", seed: 2 }),
    "a.x=1,b.x=p,seed=2",
  );
  const swept = expand({ train: { alpha: [0.01], epochs: [1, 2] } });
  assertEquals(
    swept.filter((i) => i.stage.name === "train_baseline").map((i) => i.name),
    [
      "train_baseline@epochs=1,seed=0",
      "train_baseline@epochs=1,seed=1",
      "train_baseline@epochs=2,seed=0",
      "train_baseline@epochs=2,seed=1",
    ],
  );
});

Deno.test("matrix: a leaf that is not a non-empty list, or a repeated value, is a user error", () => {
  assertThrows(
    () => matrixAxes({ train: { alpha: 0.01 } }),
    UserError,
    "matrix.train.alpha must be a non-empty list",
  );
  assertThrows(
    () => matrixAxes({ train: { alpha: [] } }),
    UserError,
    "non-empty list",
  );
  assertThrows(
    () => matrixAxes({ train: { alpha: [0.1, 0.1] } }),
    UserError,
    "lists 0.1 twice",
  );
  assertThrows(() => matrixAxes([1]), UserError, "must be an object");
});

Deno.test("matrixIssues: unknown paths get a suggestion, invalid values name the param", () => {
  const Schema = z.strictObject({
    train: z.strictObject({ alpha: z.number().nonnegative().default(0) })
      .prefault({}),
    matrix: z.record(z.string(), z.unknown()).default({}),
  });
  const issues = (matrix: unknown) =>
    matrixIssues(Schema, { train: { alpha: 0.1 }, matrix }, "matrix")
      .map((i) => i.message);
  assertEquals(issues({ train: { alpha: [0.1, 0.2] } }), []);
  assertMatch(
    issues({ train: { alpah: [0.1] } })[0],
    /train\.alpah is not a param to sweep; did you mean train\.alpha\?/,
  );
  assertMatch(
    issues({ train: { alpha: [-1] } })[0],
    /value -1 is not a valid train\.alpha/,
  );
  assertMatch(issues({ matrix: { x: [1] } })[0], /not a param to sweep/);
});

Deno.test("matrix: a one-value axis sets the value without fanning out", () => {
  const swept = expand({ train: { alpha: [0.2] } });
  const rdrop = swept.filter((i) => i.stage.name === "train_rdrop");
  assertEquals(rdrop.map((i) => i.name), ["train_rdrop@0", "train_rdrop@1"]);
  assertEquals((rdrop[0].params as P["train"]).alpha, 0.2);
  assertEquals(rdrop[0].item, 0);
});

Deno.test("matchTarget: a swept instance by name; a wrong one names the closest instance", async () => {
  const { matchTarget } = await import("../../pipeline/plan/graph.ts");
  const swept = expand({ train: { alpha: [0.01, 0.05] } });
  assertEquals(matchTarget(swept, "train_rdrop@alpha=0.05,seed=1"), [
    "train_rdrop@alpha=0.05,seed=1",
  ]);
  assertThrows(
    () => matchTarget(swept, "train_rdrop@alpha=0.03,seed=1"),
    UserError,
    "no instance train_rdrop@alpha=0.03,seed=1; did you mean train_rdrop@alpha=0.01,seed=1? train_rdrop has 4:",
  );
});
