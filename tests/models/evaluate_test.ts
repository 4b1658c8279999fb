import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
} from "../assert.ts";
import { evaluateModel, summarisePredictions } from "../../models/evaluate.ts";
import { disposeMlp, mlpFromValues } from "../../models/mlp.ts";
import { ModelError } from "../../models/errors.ts";

await tf.setBackend("cpu");

Deno.test("summarisePredictions: accuracy, per-class accuracy (null when absent), confusion", () => {
  const labels = Int32Array.from([0, 0, 1, 1, 1, 0]);
  const predicted = Int32Array.from([0, 1, 1, 1, 0, 0]);
  const s = summarisePredictions(labels, predicted, { classes: 3 });
  assertAlmostEquals(s.accuracy, 4 / 6, 1e-12);
  assertEquals(s.confusion, [[2, 1, 0], [1, 2, 0], [0, 0, 0]]);
  assertEquals(s.perClassAccuracy, [2 / 3, 2 / 3, null]);
});

Deno.test("evaluateModel on a hand-set linear model, across several batches", async () => {
  // No hidden layer: logits = x (identity weights), so the arg-max is the larger input.
  const params = mlpFromValues({
    inputSize: 2,
    hidden: [],
    classes: 2,
    dropout: 0,
  }, [
    new Float32Array([1, 0, 0, 1]),
    new Float32Array([0, 0]),
  ]);
  const rows = [[2, 0], [0, 2], [1, 0], [0, 3], [5, 5]];
  const labels = [0, 1, 1, 1, 0];
  const result = await evaluateModel(params, {
    images: Float32Array.from(rows.flat()),
    labels: Int32Array.from(labels),
    count: 5,
    features: 2,
  }, { classes: 2, batchSize: 2 });
  // Predictions: 0, 1, 0, 1, 0 (ties go to the first class).
  assertAlmostEquals(result.accuracy, 4 / 5, 1e-12);
  assertEquals(result.confusion, [[2, 0], [1, 2]]);
  const nll = (logits: number[], label: number) =>
    -(logits[label] - Math.log(logits.reduce((a, l) => a + Math.exp(l), 0)));
  const expected = rows.reduce((a, r, i) => a + nll(r, labels[i]), 0) / 5;
  assertAlmostEquals(result.loss, expected, 1e-5);
  assertEquals(result.examples, 5);
  disposeMlp(params);
});

Deno.test("evaluateModel rejects labels outside the classes", async () => {
  const params = mlpFromValues({
    inputSize: 1,
    hidden: [],
    classes: 2,
    dropout: 0,
  }, [
    new Float32Array([1, 0]),
    new Float32Array([0, 0]),
  ]);
  const error = await assertRejects(() =>
    evaluateModel(params, {
      images: new Float32Array([1]),
      labels: Int32Array.from([2]),
      count: 1,
      features: 1,
    }, {
      classes: 2,
    })
  );
  assert(error instanceof ModelError, String(error));
  disposeMlp(params);
});
