import { assertEquals, assertThrows } from "../assert.ts";
import {
  formatReason,
  formatReasons,
  StaleReason,
} from "../../pipeline/plan/reasons.ts";

/** One reason of every kind and its words, exactly as status printed them before reasons were typed. */
const WORDS: [StaleReason, string][] = [
  [
    { kind: "params", path: "train.epochs", from: 10, to: 2 },
    "params changed (train.epochs 10 -> 2)",
  ],
  [
    { kind: "params", path: "mode", from: "x", to: undefined },
    'params changed (mode "x" -> (unset))',
  ],
  [
    { kind: "params", path: "matrix.train.alpha", to: [0.05, 0.1] },
    "params changed (matrix.train.alpha (unset) -> [0.05,0.1])",
  ],
  [{ kind: "code", file: "models/mlp.ts" }, "code changed (models/mlp.ts)"],
  [
    {
      kind: "dependency",
      name: "zod",
      from: "npm:zod@4.6.7",
      to: "npm:zod@4.7.0",
    },
    "dependency changed (zod npm:zod@4.6.7 -> npm:zod@4.7.0)",
  ],
  [
    { kind: "dependency", name: "left", from: "npm:left@1" },
    "dependency changed (left npm:left@1 -> (none))",
  ],
  [
    { kind: "upstream", change: "changed", names: ["preprocess"] },
    "upstream changed (preprocess)",
  ],
  [
    { kind: "upstream", change: "added", names: ["a", "b", "c"] },
    "upstream added (a, b, c)",
  ],
  [
    {
      kind: "upstream",
      change: "removed",
      names: ["a", "b", "c", "d", "e", "f", "g"],
    },
    "upstream removed (a, b, c and 4 more)",
  ],
  [
    { kind: "upstream-pending", names: ["train_baseline@0"] },
    "runs if train_baseline@0's outputs change",
  ],
  [
    { kind: "upstream-pending", names: ["a@0", "b@0"] },
    "runs if the outputs of a@0 and b@0 change",
  ],
  [
    { kind: "upstream-pending", names: ["a", "b", "c", "d", "e"] },
    "runs if the outputs of a, b, c and 2 more change",
  ],
  [{ kind: "not-in-cache" }, "not in cache"],
  [{ kind: "not-run-yet" }, "not run yet"],
  [
    { kind: "in-remote", remote: "s3://team-cache/rdrop/" },
    "in the remote cache (s3://team-cache/rdrop/; run pulls it)",
  ],
  [{ kind: "not-checked-out" }, "not checked out (result in cache)"],
  [
    { kind: "key-format" },
    "made by an older key format; will recompute",
  ],
  [
    { kind: "workspace", from: ".pipeline/out/a", to: "results" },
    "workspace changed (.pipeline/out/a -> results)",
  ],
  [
    { kind: "output", file: "report.md" },
    "output missing or corrupt (report.md)",
  ],
  [
    { kind: "cache-entry-corrupt", detail: "Unexpected end of JSON input" },
    "cache entry corrupt (manifest: Unexpected end of JSON input)",
  ],
  [{ kind: "cached-result-invalid" }, "cached result invalid"],
  [
    { kind: "cached-result-corrupt", outputs: ["a.bin", "b.json"] },
    "cached result corrupt (a.bin, b.json)",
  ],
  [{ kind: "forced" }, "forced"],
];

for (const [reason, words] of WORDS) {
  Deno.test(`formatReason: ${reason.kind} -> ${words}`, () => {
    assertEquals(formatReason(reason), words);
  });
}

Deno.test("every kind of stale reason has its words pinned above", () => {
  const kinds = StaleReason.options.map((option) => option.shape.kind.value);
  assertEquals(
    [...new Set(WORDS.map(([reason]) => reason.kind))].sort(),
    [...kinds].sort(),
  );
});

Deno.test("formatReasons joins a line's reasons with '; '", () => {
  assertEquals(
    formatReasons([{ kind: "forced" }, { kind: "not-in-cache" }]),
    "forced; not in cache",
  );
  assertEquals(formatReasons([]), "");
});

Deno.test("reasons survive JSON and read back through the schema; a malformed one is refused", () => {
  const reasons = WORDS.map(([reason]) => reason);
  const back = StaleReason.array().parse(JSON.parse(JSON.stringify(reasons)));
  assertEquals(back.map(formatReason), WORDS.map(([, words]) => words));
  assertThrows(() => StaleReason.parse({ kind: "code" }));
  assertThrows(() => StaleReason.parse({ kind: "bogus" }));
  assertThrows(() =>
    StaleReason.parse({ kind: "upstream", change: "changed", names: [] })
  );
});
