import { assertEquals } from "../assert.ts";
import { changeReasons, type KeyRecord } from "../../pipeline/key.ts";

const code = { files: { "stages/a.ts": "h1" }, packages: { zod: "npm:zod@4" } };

function record(
  upstream: Record<string, string>,
  params: unknown = {},
): KeyRecord {
  return { stage: "report", item: null, params, upstream, code };
}

Deno.test("change reasons tell a changed upstream from one added or removed", () => {
  assertEquals(
    changeReasons(
      record({ "train@0": "k0", "train@1": "k1" }),
      record({ "train@0": "k0b", "train@2": "k2" }),
    ),
    [
      "upstream changed (train@0)",
      "upstream added (train@2)",
      "upstream removed (train@1)",
    ],
  );
  assertEquals(changeReasons(record({ a: "1" }), record({ a: "1" })), []);
});

Deno.test("a plan that drops a sweep's dozens of upstream instances says so in one reason", () => {
  const sweep: Record<string, string> = {};
  for (let seed = 0; seed < 5; seed++) sweep[`evaluate@${seed}`] = `k${seed}`;
  const reasons = changeReasons(record(sweep), record({ "evaluate@0": "k0" }));
  assertEquals(reasons, [
    "upstream removed (evaluate@1, evaluate@2, evaluate@3 and 1 more)",
  ]);
  const grown = changeReasons(record({}), record(sweep));
  assertEquals(grown, [
    "upstream added (evaluate@0, evaluate@1, evaluate@2 and 2 more)",
  ]);
});
