import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { assertAlmostEquals, assertThrows } from "../assert.ts";
import { nllLoss, rDropLoss } from "../../models/losses.ts";

await tf.setBackend("cpu");

// The example, values computed with PyTorch in float64.
const EXAMPLE_LOGITS = [[1, 2, 0.5], [0, -1, 3], [1.5, 1, 0], [0.5, -0.5, 2]];
const EXAMPLE_LABELS = [1, 2];

function lossOf(
  logits: number[][],
  labels: number[],
  options?: Parameters<typeof rDropLoss>[2],
): number {
  return tf.tidy(() =>
    rDropLoss(tf.tensor2d(logits), tf.tensor1d(labels, "int32"), options)
      .dataSync()[0]
  );
}

Deno.test("rDropLoss matches the PyTorch example (NLL part, alpha 0.05, alpha 1)", () => {
  assertAlmostEquals(
    lossOf(EXAMPLE_LOGITS, EXAMPLE_LABELS, { alpha: 0 }),
    0.475188,
    1e-5,
  );
  assertAlmostEquals(lossOf(EXAMPLE_LOGITS, EXAMPLE_LABELS), 0.493162, 1e-5);
  assertAlmostEquals(
    lossOf(EXAMPLE_LOGITS, EXAMPLE_LABELS, { alpha: 1 }),
    0.834670,
    1e-5,
  );
  // KL part alone: (loss at alpha 1) - (NLL part) = 0.359483.
  const kl = lossOf(EXAMPLE_LOGITS, EXAMPLE_LABELS, { alpha: 1 }) -
    lossOf(EXAMPLE_LOGITS, EXAMPLE_LABELS, { alpha: 0 });
  assertAlmostEquals(kl, 0.359483, 1e-5);
});

Deno.test("rDropLoss batchmean divides the KL term by the batch size", () => {
  const nll = lossOf(EXAMPLE_LOGITS, EXAMPLE_LABELS, { alpha: 0 });
  const loss = lossOf(EXAMPLE_LOGITS, EXAMPLE_LABELS, {
    alpha: 1,
    reduction: "batchmean",
  });
  assertAlmostEquals(loss - nll, 0.359483 / 2, 1e-5);
});

Deno.test("rDropLoss stays finite where probabilities underflow", () => {
  const loss = lossOf([[200, -200, 0], [-200, 200, 0]], [0], { alpha: 1 });
  if (!Number.isFinite(loss)) throw new Error(`loss is ${loss}`);
  // NLL: pass 1 ~0, pass 2 ~400; symmetric KL ~ 0.5 * 2 * 400.
  assertAlmostEquals(loss, 0.5 * 400 + 400, 1e-2);
});

Deno.test("rDropLoss with identical passes equals nllLoss", () => {
  const one = [[0.3, -1.2, 2.0, 0.1], [1.1, 0.4, -0.5, 0.0], [-2, 3, 0.5, 1]];
  const labels = [2, 0, 1];
  const nll = tf.tidy(() =>
    nllLoss(tf.tensor2d(one), tf.tensor1d(labels, "int32")).dataSync()[0]
  );
  assertAlmostEquals(lossOf([...one, ...one], labels, { alpha: 3 }), nll, 1e-6);
});

Deno.test("rDropLoss rejects logits that are not [2B, C]", () => {
  assertThrows(() => lossOf(EXAMPLE_LOGITS, [1, 2, 0]));
});

Deno.test("rDropLoss gradient matches central differences", () => {
  const logits = [
    [0.2, -0.7, 1.3, 0.05],
    [-1.1, 0.4, 0.9, -0.3],
    [0.6, 0.1, -0.8, 1.7],
    [1.0, -0.2, 0.3, -1.4],
    [0.7, -0.5, 1.0, 0.3],
    [-0.6, 0.8, 0.2, -0.9],
  ];
  const labels = [2, 1, 3];
  for (
    const options of [{ alpha: 1 }, { alpha: 0.05 }, {
      alpha: 4,
      reduction: "batchmean" as const,
    }]
  ) {
    const analytic = tf.tidy(() => {
      const y = tf.tensor1d(labels, "int32");
      const g = tf.grad((l: tf.Tensor) =>
        rDropLoss(l as tf.Tensor2D, y, options)
      );
      return g(tf.tensor2d(logits)).arraySync() as number[][];
    });
    const h = 1e-2;
    for (let i = 0; i < logits.length; i++) {
      for (let j = 0; j < logits[0].length; j++) {
        const plus = logits.map((r) => [...r]);
        const minus = logits.map((r) => [...r]);
        plus[i][j] += h;
        minus[i][j] -= h;
        const numeric =
          (lossOf(plus, labels, options) - lossOf(minus, labels, options)) /
          (2 * h);
        assertAlmostEquals(
          analytic[i][j],
          numeric,
          2e-3,
          `d loss / d logits[${i}][${j}]`,
        );
      }
    }
  }
});

Deno.test("nllLoss is the mean of -log softmax at the label", () => {
  const value = tf.tidy(() =>
    nllLoss(
      tf.tensor2d([[0, 0], [Math.log(3), 0]]),
      tf.tensor1d([0, 1], "int32"),
    ).dataSync()[0]
  );
  // -log(1/2) and -log(1/4), averaged.
  assertAlmostEquals(value, (Math.log(2) + Math.log(4)) / 2, 1e-6);
});
