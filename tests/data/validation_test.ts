import { assertEquals, assertThrows } from "../assert.ts";
import { DataError } from "../../data/errors.ts";
import type { Split } from "../../data/preprocess.ts";
import { holdOutValidation, stratifiedQuotas } from "../../data/validation.ts";

/** n examples of 2 features; example i has label labels[i] and pixels [i, -i]. */
function split(labels: number[]): Split {
  const images = new Float32Array(labels.length * 2);
  labels.forEach((_, i) => images.set([i, -i], i * 2));
  return {
    images,
    labels: Int32Array.from(labels),
    count: labels.length,
    features: 2,
  };
}

Deno.test("stratifiedQuotas: proportional, largest remainder, sums to the size", () => {
  assertEquals(stratifiedQuotas([6000, 6000, 6000], 10000), [3334, 3333, 3333]);
  assertEquals(stratifiedQuotas([50, 30, 20], 10), [5, 3, 2]);
  assertEquals(stratifiedQuotas([5, 3, 2], 5), [3, 1, 1]);
  assertEquals(stratifiedQuotas([1, 1], 0), [0, 0]);
});

Deno.test("holdOutValidation: stratified, disjoint, complete and the same every time", () => {
  // 10 of class 0, 6 of class 1, 4 of class 2, interleaved.
  const labels = [0, 1, 0, 2, 0, 1, 0, 0, 1, 2, 0, 0, 1, 2, 0, 1, 0, 2, 0, 1];
  const data = split(labels);
  const cut = holdOutValidation(data, 5, { classes: 3 });
  // Quotas 2.5/1.5/1 -> [3, 1, 1] (class 0 wins the tie); the last examples of each class.
  const counts = [0, 0, 0];
  for (const l of cut.validation.labels) counts[l]++;
  assertEquals(counts, [3, 1, 1]);
  assertEquals(cut.validationIndices, [14, 16, 17, 18, 19]);
  assertEquals(cut.validation.count + cut.train.count, data.count);
  // Disjoint and complete: every original index (pixel 0 carries it) appears exactly once.
  const seen = [
    ...Array.from(
      { length: cut.train.count },
      (_, i) => cut.train.images[i * 2],
    ),
    ...Array.from(
      { length: cut.validation.count },
      (_, i) => cut.validation.images[i * 2],
    ),
  ].sort((a, b) => a - b);
  assertEquals(seen, labels.map((_, i) => i));
  // Rows stay whole and labels travel with their rows.
  for (let i = 0; i < cut.train.count; i++) {
    const from = cut.train.images[i * 2];
    assertEquals(cut.train.images[i * 2 + 1], -from);
    assertEquals(cut.train.labels[i], labels[from]);
  }
  // Fixed: the same split again.
  assertEquals(
    holdOutValidation(data, 5, { classes: 3 }).validationIndices,
    cut.validationIndices,
  );
  // Zero holds out nothing.
  assertEquals(holdOutValidation(data, 0, { classes: 3 }).train.count, 20);
});

Deno.test("holdOutValidation: a size that leaves no training example is a DataError naming the param", () => {
  assertThrows(
    () => holdOutValidation(split([0, 1]), 2, { classes: 2 }),
    DataError,
    "preprocess.validation 2",
  );
  assertThrows(
    () => holdOutValidation(split([0, 1]), -1, { classes: 2 }),
    DataError,
    "preprocess.validation",
  );
});
