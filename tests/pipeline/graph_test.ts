import { assertEquals, assertMatch } from "../assert.ts";
import {
  expandInstances,
  matchTarget,
  toMermaid,
  toText,
  validateDeclarations,
} from "../../pipeline/plan/graph.ts";
import { UserError } from "../../pipeline/errors.ts";
import type { AnyStage } from "../../pipeline/types.ts";
import { assertShellSafeHints } from "../shell_hints.ts";

type P = { seeds: number[]; alphas: number[] };

function stage(name: string, extra: Partial<AnyStage<P>> = {}): AnyStage<P> {
  return {
    name,
    outputs: ["o.txt"],
    code: "file:///x.ts",
    run: () => {},
    ...extra,
  };
}

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof UserError) return error.message;
    throw error;
  }
  throw new Error("expected a UserError");
}

Deno.test("validateDeclarations names cycles, unknown deps, bad names and duplicates", () => {
  assertEquals(
    userError(() =>
      validateDeclarations([
        stage("a", { deps: ["c"] }),
        stage("b", { deps: ["a"] }),
        stage("c", { deps: ["b"] }),
      ] as AnyStage<unknown>[])
    ),
    "dependency cycle: a -> c -> b -> a",
  );
  assertMatch(
    userError(() =>
      validateDeclarations(
        [stage("a", { deps: ["nope"] })] as AnyStage<unknown>[],
      )
    ),
    /stage a depends on unknown stage nope/,
  );
  assertMatch(
    userError(() =>
      validateDeclarations([stage("Bad-Name")] as AnyStage<unknown>[])
    ),
    /"Bad-Name" is invalid/,
  );
  assertMatch(
    userError(() =>
      validateDeclarations([stage("a"), stage("a")] as AnyStage<unknown>[])
    ),
    /stage a is declared twice/,
  );
  assertMatch(
    userError(() =>
      validateDeclarations(
        [stage("a", { outputs: ["../x"] })] as AnyStage<unknown>[],
      )
    ),
    /output "\.\.\/x" must be a relative path/,
  );
});

Deno.test("foreach wiring: same item, all instances, single instance", () => {
  const stages = [
    stage("prep"),
    stage("train", { deps: ["prep"], foreach: (p) => p.seeds }),
    stage("evaluate", { deps: ["train"], foreach: (p) => p.seeds }),
    stage("report", { deps: ["evaluate"], workspace: "results" }),
  ] as AnyStage<unknown>[];
  const instances = expandInstances(stages, { seeds: [0, 1], alphas: [] });
  assertEquals(
    instances.map((i) => [i.name, i.deps, i.workspace]),
    [
      ["prep", [], ".pipeline/out/prep"],
      ["train@0", ["prep"], ".pipeline/out/train@0"],
      ["train@1", ["prep"], ".pipeline/out/train@1"],
      ["evaluate@0", ["train@0"], ".pipeline/out/evaluate@0"],
      ["evaluate@1", ["train@1"], ".pipeline/out/evaluate@1"],
      ["report", ["evaluate@0", "evaluate@1"], "results"],
    ],
  );
  assertMatch(toMermaid(instances), /evaluate_1 --> report/);
  assertMatch(toText(instances), /report +<- evaluate@0, evaluate@1/);
});

Deno.test("foreach stages with different items cannot depend on each other", () => {
  const stages = [
    stage("train", { foreach: (p) => p.seeds }),
    stage("sweep", { deps: ["train"], foreach: (p) => p.alphas }),
  ] as AnyStage<unknown>[];
  assertMatch(
    userError(() => expandInstances(stages, { seeds: [0, 1], alphas: [0.1] })),
    /stage sweep \(foreach \[0\.1\]\) depends on train \(foreach \[0,1\]\)/,
  );
});

Deno.test("declaration order does not matter; upstream comes first", () => {
  const stages = [stage("b", { deps: ["a"] }), stage("a")] as AnyStage<
    unknown
  >[];
  assertEquals(expandInstances(stages, {}).map((i) => i.name), ["a", "b"]);
});

Deno.test("non-serialisable params and bad foreach items are user errors", () => {
  assertMatch(
    userError(() =>
      expandInstances(
        [stage("a", { params: () => ({ x: NaN }) })] as AnyStage<unknown>[],
        {},
      )
    ),
    /stage a: params must be JSON-serialisable/,
  );
  assertMatch(
    userError(() =>
      expandInstances(
        [stage("a", { foreach: () => ["x/y"] })] as AnyStage<unknown>[],
        {},
      )
    ),
    /foreach item "x\/y"/,
  );
});

Deno.test("two instances writing the same workspace file is an error naming both", () => {
  const stages = [
    stage("a", { workspace: "results" }),
    stage("b", { workspace: "results" }),
  ] as AnyStage<unknown>[];
  assertEquals(
    userError(() => expandInstances(stages, {})),
    "stages a and b both write results/o.txt; give one of them another workspace or output name",
  );
});

Deno.test("foreach errors speak of the param the items come from, with a shell-safe fix", () => {
  const seeded = (extra: Partial<AnyStage<P>> = {}) =>
    [
      stage("train", {
        foreach: (p) => p.seeds,
        foreachParam: "seeds",
        ...extra,
      }),
    ] as AnyStage<unknown>[];
  const twice = userError(() =>
    expandInstances(seeded(), { seeds: [0, 1, 0], alphas: [] })
  );
  assertEquals(
    twice,
    "0 appears twice in seeds; list each value once (--set 'seeds=[0,1]')",
  );
  assertShellSafeHints(twice);
  assertEquals(
    userError(() => expandInstances(seeded(), { seeds: [], alphas: [] })),
    "seeds must list at least one value (stage train runs once per value)",
  );
  // Without foreachParam the engine can only speak of foreach items.
  assertMatch(
    userError(() =>
      expandInstances(
        [stage("a", { foreach: () => [1, 1] })] as AnyStage<unknown>[],
        {},
      )
    ),
    /stage a: foreach item 1 appears twice/,
  );
});

Deno.test("matchTarget: a missing item in params words, a mistyped stage with a suggestion", () => {
  const instances = expandInstances(
    [
      stage("prep"),
      stage("train", {
        deps: ["prep"],
        foreach: (p) => p.seeds,
        foreachParam: "seeds",
      }),
      stage("sweep", { foreach: (p) => p.alphas }),
    ] as AnyStage<unknown>[],
    { seeds: [0], alphas: [0.1] },
  );
  assertEquals(matchTarget(instances, "train"), ["train@0"]);
  assertEquals(matchTarget(instances, "train@0"), ["train@0"]);
  const seven = userError(() => matchTarget(instances, "train@7"));
  assertEquals(
    seven,
    "no seeds item 7 (seeds are [0]); add it with --set 'seeds=[0,7]'",
  );
  assertShellSafeHints(seven);
  assertEquals(
    userError(() => matchTarget(instances, "sweep@0.5")),
    'stage sweep has no item 0.5 (its items are [0.1]); run "dag" to list instances',
  );
  assertMatch(
    userError(() => matchTarget(instances, "prep@1")),
    /stage prep has no items \(it does not fan out\); name it without @1/,
  );
  assertMatch(
    userError(() => matchTarget(instances, "trian@0")),
    /^unknown stage trian; did you mean train\? stages: prep, train, sweep/,
  );
  assertMatch(
    userError(() => matchTarget(instances, "nothing")),
    /^unknown stage nothing; stages: prep, train, sweep/,
  );
});

Deno.test("outputsFor: an instance writes the declared outputs its params select; an undeclared one is an error", () => {
  const params: P = { seeds: [0], alphas: [1] };
  const charts = stage("report", {
    outputs: ["report.md", "sweep.svg"],
    outputsFor: (p: P) =>
      p.alphas.length > 1 ? ["report.md", "sweep.svg"] : ["report.md"],
  });
  const [single] = expandInstances([charts] as AnyStage<unknown>[], params);
  assertEquals(single.outputs, ["report.md"]);
  const [swept] = expandInstances([charts] as AnyStage<unknown>[], {
    ...params,
    alphas: [1, 2],
  });
  assertEquals(swept.outputs, ["report.md", "sweep.svg"]);
  const wrong = stage("report", {
    outputs: ["report.md"],
    outputsFor: () => ["report.md", "extra.svg"],
  });
  assertMatch(
    userError(() => expandInstances([wrong] as AnyStage<unknown>[], params)),
    /stage report: outputsFor returned extra\.svg, which outputs does not list/,
  );
});
