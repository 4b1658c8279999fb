import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";
import {
  disposeMlp,
  initialValues,
  type MlpConfig,
  mlpFromValues,
  readMlpValues,
} from "../../models/mlp.ts";
import { nllLoss } from "../../models/losses.ts";
import {
  createReferenceStep,
  dropoutMask,
  forwardTrain,
} from "../../models/reference_step.ts";
import { predictLogits } from "../../models/mlp.ts";

await tf.setBackend("cpu");

const CONFIG: MlpConfig = { inputSize: 6, hidden: [5], classes: 3, dropout: 0 };
const X = Float32Array.from({ length: 4 * 6 }, (_, i) => Math.cos(i));
const Y = Int32Array.from([0, 2, 1, 2]);

Deno.test("Adam's first step moves every parameter by -lr * sign(gradient)", async () => {
  const values = initialValues(CONFIG, { seed: 1 });
  const params = mlpFromValues(CONFIG, values);
  const x = tf.tensor2d(X, [4, 6]);
  const y = tf.tensor1d(Y, "int32");
  // Gradients of the plain NLL (dropout 0), computed independently of the step.
  const vars = params.weights.flatMap((w, i) => [w, params.biases[i]]);
  const grads = tf.tidy(() =>
    tf.variableGrads(() => nllLoss(predictLogits(params, x), y), vars).grads
  );
  const gradValues = await Promise.all(
    vars.map(async (v) => await grads[v.name].data()),
  );
  const lr = 0.01;
  const step = createReferenceStep(params, {
    mode: "baseline",
    alpha: 0,
    dropout: 0,
    learningRate: lr,
    seed: 0,
  });
  step.run(x, y).dispose();
  const after = await readMlpValues(params);
  after.forEach((a, i) => {
    for (let j = 0; j < a.length; j++) {
      const g = gradValues[i][j];
      // |m_hat / (sqrt(v_hat) + eps)| = |g| / (|g| + eps): 1 unless g is tiny.
      const expected = values[i][j] -
        lr * Math.sign(g) * Math.abs(g) / (Math.abs(g) + 1e-8);
      assertAlmostEquals(a[j], expected, 1e-6, `param ${i}[${j}]`);
    }
  });
  const state = await step.getState();
  assertEquals(state.step, 1);
  // m = 0.1 g, v = 0.001 g^2 after one step.
  assertAlmostEquals(state.m[0][3], 0.1 * gradValues[0][3], 1e-8);
  assertAlmostEquals(state.v[0][3], 0.001 * gradValues[0][3] ** 2, 1e-10);
  Object.values(grads).forEach((g) => g.dispose());
  step.dispose();
  disposeMlp(params);
  x.dispose();
  y.dispose();
});

Deno.test("setState resumes exactly where getState left off", async () => {
  const run = async (split: boolean) => {
    const params = mlpFromValues(
      { ...CONFIG, dropout: 0.5 },
      initialValues(CONFIG, { seed: 2 }),
    );
    const options = {
      mode: "rdrop" as const,
      alpha: 1,
      dropout: 0.5,
      learningRate: 0.01,
      seed: 3,
    };
    let step = createReferenceStep(params, options);
    const x = tf.tensor2d(X, [4, 6]);
    const y = tf.tensor1d(Y, "int32");
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      if (split && i === 2) {
        const state = await step.getState();
        step.dispose();
        step = createReferenceStep(params, options);
        step.setState(state);
      }
      const loss = step.run(x, y);
      losses.push((await loss.data())[0]);
      loss.dispose();
    }
    const values = (await readMlpValues(params)).map((v) => Array.from(v));
    step.dispose();
    disposeMlp(params);
    x.dispose();
    y.dispose();
    return { losses, values };
  };
  assertEquals(await run(true), await run(false));
});

Deno.test("dropout masks are seeded, keep about 1 - rate, and scale by 1/(1 - rate)", async () => {
  const a = await dropoutMask(100, 100, {
    rate: 0.3,
    seed: 9,
    step: 4,
    layer: 1,
  }).data();
  const b = await dropoutMask(100, 100, {
    rate: 0.3,
    seed: 9,
    step: 4,
    layer: 1,
  }).data();
  const c = await dropoutMask(100, 100, {
    rate: 0.3,
    seed: 9,
    step: 5,
    layer: 1,
  }).data();
  assertEquals(Array.from(a), Array.from(b));
  assert(a.some((v, i) => v !== c[i]), "seed ignored");
  const kept = a.filter((v) => v !== 0);
  assert(
    kept.every((v) => Math.abs(v - 1 / 0.7) < 1e-6),
    "kept values not scaled",
  );
  assertAlmostEquals(kept.length / a.length, 0.7, 0.03);
});

Deno.test("forwardTrain draws different masks per step and none at dropout 0", async () => {
  const params = mlpFromValues(
    { ...CONFIG, dropout: 0.5 },
    initialValues(CONFIG, { seed: 4 }),
  );
  const x = tf.tensor2d(X, [4, 6]);
  const at = async (step: number, dropout: number) =>
    Array.from(
      await forwardTrain(params, x, { dropout, seed: 1, step }).data(),
    );
  assertEquals(await at(0, 0.5), await at(0, 0.5));
  assert(
    JSON.stringify(await at(0, 0.5)) !== JSON.stringify(await at(1, 0.5)),
    "same masks",
  );
  assertEquals(
    await at(3, 0),
    Array.from(await predictLogits(params, x).data()),
  );
  disposeMlp(params);
  x.dispose();
});
