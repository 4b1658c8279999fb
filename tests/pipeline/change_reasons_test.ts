import { assertEquals } from "../assert.ts";
import { changeReasons, type KeyRecord } from "../../pipeline/plan/key.ts";
import { formatReason } from "../../pipeline/plan/reasons.ts";

const code = { files: { "stages/a.ts": "h1" }, packages: { zod: "npm:zod@4" } };

/** A record whose upstream instances each read one file with the given content hash. */
function record(
  upstream: Record<string, string>,
  params: unknown = {},
): KeyRecord {
  const inputs = Object.fromEntries(
    Object.entries(upstream).map(([name, sha]) => [name, { "out.json": sha }]),
  );
  return { stage: "report", item: null, params, inputs, code };
}

Deno.test("change reasons tell an upstream whose outputs changed from one added or removed", () => {
  assertEquals(
    changeReasons(
      record({ "train@0": "k0", "train@1": "k1" }),
      record({ "train@0": "k0b", "train@2": "k2" }),
    ),
    [
      { kind: "upstream", change: "changed", names: ["train@0"] },
      { kind: "upstream", change: "added", names: ["train@2"] },
      { kind: "upstream", change: "removed", names: ["train@1"] },
    ],
  );
  assertEquals(changeReasons(record({ a: "1" }), record({ a: "1" })), []);
});

Deno.test("a plan that drops a sweep's dozens of upstream instances says so in one reason", () => {
  const sweep: Record<string, string> = {};
  for (let seed = 0; seed < 5; seed++) sweep[`evaluate@${seed}`] = `k${seed}`;
  const reasons = changeReasons(record(sweep), record({ "evaluate@0": "k0" }));
  assertEquals(reasons.map(formatReason), [
    "upstream removed (evaluate@1, evaluate@2, evaluate@3 and 1 more)",
  ]);
  const grown = changeReasons(record({}), record(sweep));
  assertEquals(grown, [{
    kind: "upstream",
    change: "added",
    names: Object.keys(sweep),
  }]);
  assertEquals(
    formatReason(grown[0]),
    "upstream added (evaluate@0, evaluate@1, evaluate@2 and 2 more)",
  );
});

Deno.test("change reasons name params, code files and dependencies with both sides", () => {
  const before = {
    params: { train: { epochs: 10, alpha: 0.05 }, gone: "x" },
    inputs: {},
    code: {
      files: { "models/mlp.ts": "h1", "stages/a.ts": "h2" },
      packages: { zod: "npm:zod@4.6.7", old: "npm:old@1" },
    },
  };
  const after: KeyRecord = {
    stage: "train",
    item: null,
    params: { train: { epochs: 2, alpha: 0.05 } },
    inputs: {},
    code: {
      files: { "models/mlp.ts": "h1b", "stages/a.ts": "h2" },
      packages: { zod: "npm:zod@4.7.0" },
    },
  };
  assertEquals(changeReasons(before, after), [
    { kind: "params", path: "gone", from: "x", to: undefined },
    { kind: "params", path: "train.epochs", from: 10, to: 2 },
    { kind: "code", file: "models/mlp.ts" },
    { kind: "dependency", name: "old", from: "npm:old@1", to: undefined },
    {
      kind: "dependency",
      name: "zod",
      from: "npm:zod@4.6.7",
      to: "npm:zod@4.7.0",
    },
  ]);
});
