/**
 * The trainer's factory: the fused step on tfjs' own WebGPU device, next to tfjs work on
 * the same device; refused with a clear message when another backend is active.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "../assert.ts";
import { selectBackend } from "../../../models/backend.ts";
import { ModelError } from "../../../models/errors.ts";
import {
  disposeMlp,
  initialValues,
  mlpFromValues,
  predictLogits,
} from "../../../models/mlp.ts";
import {
  createFusedStep,
  createWebGpuStep,
  requestGpuDevice,
} from "../../../models/webgpu/mod.ts";
import { data, maxDifference, MODEL, SKIP_REASON } from "./_fixture.ts";

const CONFIG = {
  model: MODEL,
  mode: "baseline" as const,
  alpha: 0,
  learningRate: 0.01,
  seed: 4,
};

Deno.test({
  name:
    "createWebGpuStep trains on tfjs' device like on a device of its own; tfjs still works on it",
  ignore: SKIP_REASON !== null,
  async fn() {
    const set = data(16, { palette: true, seed: 6 });
    const run = async (step: ReturnType<typeof createWebGpuStep>) => {
      step.attachTrainingSet({ ...set, count: 16, features: MODEL.inputSize });
      for (let k = 0; k < 4; k++) {
        step.run({
          x: set.images,
          y: set.labels,
          rows: 8,
          source: { start: (k % 2) * 8, order: null },
        });
      }
      const metrics = await step.takeMetrics();
      const values = await step.getValues();
      step.dispose();
      return { metrics, values };
    };
    const selection = await selectBackend("webgpu");
    const shared = createWebGpuStep(initialValues(MODEL, { seed: 1 }), CONFIG);
    assertEquals(shared.kind, "webgpu");
    assertEquals(shared.adapter, selection.adapter);
    const onTfjs = await run(shared);
    // tfjs evaluates the trained values on the same device.
    const params = mlpFromValues(MODEL, onTfjs.values);
    const logits = predictLogits(
      params,
      tf.tensor2d(set.images, [16, MODEL.inputSize]),
    );
    assert(
      (await logits.data()).every(Number.isFinite),
      "tfjs logits after the fused step",
    );
    tf.dispose(logits);
    disposeMlp(params);
    const own = await requestGpuDevice();
    const separate = await run(
      createFusedStep(own, initialValues(MODEL, { seed: 1 }), CONFIG),
    );
    own.device.destroy();
    assertEquals(onTfjs.metrics.steps, 4);
    assertEquals(onTfjs.values, separate.values);
    assert(
      maxDifference(onTfjs.values, initialValues(MODEL, { seed: 1 })) > 1e-3,
      "no training happened",
    );
    await selectBackend("cpu");
  },
});

Deno.test("createWebGpuStep needs the webgpu backend and says so", async () => {
  await selectBackend("cpu");
  const error = assertThrows(
    () => createWebGpuStep(initialValues(MODEL, { seed: 1 }), CONFIG),
    ModelError,
  ) as ModelError;
  assertStringIncludes(error.message, "needs the webgpu backend");
  assertStringIncludes(error.message, "it is cpu");
});
