import { assertEquals } from "../assert.ts";
import { klWeight } from "../../stages/kl_weight.ts";

Deno.test("klWeight: sum passes alpha; batchmean divides by the batch size", () => {
  assertEquals(
    klWeight(0.05, { reduction: "sum", batchSize: 32, examples: 60000 }),
    {
      weight: 0.05,
      reduction: "sum",
      partialBatch: null,
    },
  );
  // 60000 = 1875 * 32: no partial batch.
  assertEquals(
    klWeight(0.32, { reduction: "batchmean", batchSize: 32, examples: 60000 }),
    { weight: 0.01, reduction: "batchmean", partialBatch: null },
  );
});

Deno.test("klWeight: batchmean names the partial last batch and how much less it weighs", () => {
  // 50000 = 1562 * 32 + 16: the last batch has 16 examples, divided by 32, so it weighs half.
  assertEquals(
    klWeight(0.32, { reduction: "batchmean", batchSize: 32, examples: 50000 }),
    {
      weight: 0.01,
      reduction: "batchmean",
      partialBatch: { size: 16, factor: 0.5 },
    },
  );
});
