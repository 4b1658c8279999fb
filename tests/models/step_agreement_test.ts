import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { assertAlmostEquals } from "../assert.ts";
import {
  disposeMlp,
  initialValues,
  type MlpConfig,
  mlpFromValues,
  readMlpValues,
} from "../../models/mlp.ts";
import { createReferenceStep } from "../../models/reference_step.ts";
import { createTrainStep } from "../../models/train_step.ts";

// Without dropout the two implementations must follow the same trajectory: the reference
// one is plain autodiff, the optimised one hand-written backward and fused Adam.
const CONFIG: MlpConfig = {
  inputSize: 10,
  hidden: [12, 8],
  classes: 3,
  dropout: 0,
};

for (const backend of ["cpu", "wasm"] as const) {
  for (const mode of ["baseline", "rdrop"] as const) {
    Deno.test(`optimised and reference steps agree (${mode}, ${backend})`, async () => {
      await tf.setBackend(backend);
      const values = initialValues(CONFIG, { seed: 8 });
      const x = tf.tensor2d(
        Float32Array.from({ length: 7 * 10 }, (_, i) => Math.sin(i * 1.3)),
        [7, 10],
      );
      const y = tf.tensor1d([0, 1, 2, 2, 1, 0, 1], "int32");
      const run = async (create: typeof createReferenceStep) => {
        const params = mlpFromValues(CONFIG, values);
        const step = create(params, {
          mode,
          alpha: 0.5,
          dropout: 0,
          learningRate: 0.02,
          seed: 1,
        });
        const losses: number[] = [];
        for (let i = 0; i < 5; i++) {
          const loss = step.run(x, y);
          losses.push((await loss.data())[0]);
          loss.dispose();
        }
        const state = await step.getState();
        const after = await readMlpValues(params);
        step.dispose();
        disposeMlp(params);
        return { losses, after, state };
      };
      const ref = await run(createReferenceStep);
      const opt = await run(createTrainStep);
      ref.losses.forEach((l, i) =>
        assertAlmostEquals(opt.losses[i], l, 1e-5, `loss ${i + 1}`)
      );
      ref.after.forEach((a, i) => {
        for (let j = 0; j < a.length; j++) {
          assertAlmostEquals(opt.after[i][j], a[j], 1e-5, `param ${i}[${j}]`);
        }
      });
      ref.state.m.forEach((m, i) => {
        for (let j = 0; j < m.length; j++) {
          assertAlmostEquals(opt.state.m[i][j], m[j], 1e-6, `m ${i}[${j}]`);
        }
      });
      x.dispose();
      y.dispose();
    });
  }
}
