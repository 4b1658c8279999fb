/**
 * The experiment's sweep wiring, planned (nothing run): sweeps/alpha.json and
 * `--set matrix...` give one R-Drop instance per (alpha, seed), while the baseline, preprocess
 * and download keep the keys they have without a sweep.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { planPipeline } from "../../pipeline/engine.ts";
import { UserError } from "../../pipeline/errors.ts";
import { parseOverride } from "../../pipeline/plan/params.ts";
import { keyOf } from "../../pipeline/plan/key_record.ts";
import { createPipeline } from "../../stages/pipeline.ts";
import type { Params } from "../../stages/params.ts";

const root = new URL("../../", import.meta.url);
const pipeline = createPipeline({ autoBackend: "wasm" });

async function keys(sets: string[], paramsFile?: string) {
  const plan = await planPipeline(pipeline, {
    root,
    paramsFile,
    overrides: sets.map(parseOverride),
  });
  // Nothing has run, so no upstream outputs exist: what is compared is everything else in a
  // key (stage, item, params, code), which is what a sweep may or may not change.
  return new Map(
    plan.instances.map((i) => [i.name, keyOf({ ...i.input, inputs: {} })]),
  );
}

Deno.test("alpha sweep: one R-Drop instance per (alpha, seed); the baseline's keys do not change", async () => {
  const seeds = "seeds=[0,1]";
  const plain = await keys([seeds]);
  const swept = await keys([seeds, "matrix.train.alpha=[0.01,0.05]"]);
  for (
    const name of [
      "download",
      "preprocess",
      "train_baseline@0",
      "train_baseline@1",
      "evaluate_baseline@1",
    ]
  ) {
    assert(plain.has(name), name);
    assertEquals(swept.get(name), plain.get(name), `${name} kept its key`);
  }
  assertEquals(
    [...swept.keys()].filter((n) => n.startsWith("train_rdrop")),
    [
      "train_rdrop@alpha=0.01,seed=0",
      "train_rdrop@alpha=0.01,seed=1",
      "train_rdrop@alpha=0.05,seed=0",
      "train_rdrop@alpha=0.05,seed=1",
    ],
  );
  // Each combination has its own key; alpha 0.05 in a sweep is not the unswept alpha 0.05
  // instance's key only because the item (part of the key) names the swept value.
  const rdrop = [...swept.entries()].filter(([n]) =>
    n.startsWith("train_rdrop")
  );
  assertEquals(new Set(rdrop.map(([, k]) => k)).size, 4);
  // Changing the baseline-irrelevant KL reduction does not retrain the baseline either.
  const batchmean = await keys([seeds, "train.klReduction=batchmean"]);
  assertEquals(
    batchmean.get("train_baseline@0"),
    plain.get("train_baseline@0"),
  );
  assert(batchmean.get("train_rdrop@0") !== plain.get("train_rdrop@0"));
});

Deno.test("the repo's sweep file plans 6 alphas x 5 seeds plus 5 baselines, validation 10000", async () => {
  const plan = await planPipeline(pipeline, {
    root,
    paramsFile: "sweeps/alpha.json",
  });
  const names = plan.instances.map((i) => i.name);
  assertEquals(names.filter((n) => n.startsWith("train_rdrop@")).length, 30);
  assertEquals(names.filter((n) => n.startsWith("train_baseline@")).length, 5);
  assertEquals(names.filter((n) => n.startsWith("evaluate_rdrop@")).length, 30);
  assertEquals((plan.params as Params).preprocess.validation, 10000);
  const one = plan.instances.find((i) =>
    i.name === "train_rdrop@alpha=0.002,seed=4"
  );
  assertEquals(
    (one?.params as { alpha: number; validation: number }).alpha,
    0.002,
  );
  assertEquals((one?.params as { validation: number }).validation, 10000);
});

Deno.test("a matrix naming no param, or a bad value, is a params error", async () => {
  await assertRejects(
    () => keys(["matrix.train.alpah=[0.1]"]),
    UserError,
    "train.alpah is not a param to sweep; did you mean train.alpha?",
  );
  await assertRejects(
    () => keys(["matrix.train.alpha=[-1]"]),
    UserError,
    "value -1 is not a valid train.alpha",
  );
  await assertRejects(
    () => keys(["matrix.train.alpha=0.1"]),
    UserError,
    "must be a non-empty list of values to try",
  );
});
