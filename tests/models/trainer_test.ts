import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { blobs } from "./_synthetic.ts";
import { DivergenceError, ModelError } from "../../models/errors.ts";
import { memoryCheckpointStore } from "../../models/checkpoint_store.ts";
import { disposeMlp, readMlpValues } from "../../models/mlp.ts";
import { createReferenceStep } from "../../models/reference_step.ts";
import { tfjsStepFactory } from "../../models/tfjs_step.ts";
import {
  stepsPerEpoch,
  train,
  type TrainData,
  type TrainOptions,
} from "../../models/trainer.ts";

/** The behaviour tests run on both CPU backends (each has its own kernels). */
const BACKENDS = ["cpu", "wasm"] as const;

function test(name: string, fn: () => Promise<void>): void {
  for (const backend of BACKENDS) {
    Deno.test(`${name} [${backend}]`, async () => {
      await tf.setBackend(backend);
      await fn();
    });
  }
}

const FEATURES = 20;
const CLASSES = 3;
const DATA: TrainData = {
  train: blobs(300, { features: FEATURES, classes: CLASSES, seed: 1 }),
  test: blobs(150, { features: FEATURES, classes: CLASSES, seed: 2 }),
};
const BASE: TrainOptions = {
  mode: "baseline",
  alpha: 0,
  shuffle: false,
  epochs: 2,
  batchSize: 16,
  learningRate: 1e-2,
  seed: 3,
  model: {
    inputSize: FEATURES,
    hidden: [32, 16],
    classes: CLASSES,
    dropout: 0.3,
  },
  readEvery: 5,
  createStep: tfjsStepFactory(),
};

/** The history without wall-clock fields, which differ between runs. */
function withoutTimes(
  history: { epochSeconds: number; samplesPerSecond: number }[],
) {
  return history.map(({ epochSeconds: _s, samplesPerSecond: _r, ...rest }) =>
    rest
  );
}

for (const mode of ["baseline", "rdrop"] as const) {
  test(`a tiny ${mode} run (300 examples, 2 epochs) beats chance clearly`, async () => {
    const result = await train(DATA, { ...BASE, mode, alpha: 1 });
    assertEquals(result.history.length, 2);
    assertEquals(result.resumedEpochs, 0);
    const last = result.history[1];
    assert(
      last.testAccuracy > 0.8,
      `test accuracy ${last.testAccuracy} (chance 0.33)`,
    );
    assert(
      last.trainLoss < result.history[0].trainLoss,
      "train loss did not fall",
    );
    assert(
      last.testLoss < Math.log(CLASSES),
      `test loss ${last.testLoss} not below chance`,
    );
    disposeMlp(result.params);
  });
}

test("the same seed and backend reproduce the same history; another seed does not", async () => {
  const options: TrainOptions = { ...BASE, mode: "rdrop", shuffle: true };
  const a = await train(DATA, options);
  const b = await train(DATA, options);
  const c = await train(DATA, { ...options, seed: 4 });
  assertEquals(withoutTimes(a.history), withoutTimes(b.history));
  assertEquals(
    (await readMlpValues(a.params)).map((v) => Array.from(v.slice(0, 50))),
    (await readMlpValues(b.params)).map((v) => Array.from(v.slice(0, 50))),
  );
  assert(
    a.history[0].trainLoss !== c.history[0].trainLoss,
    "seed had no effect",
  );
  for (const r of [a, b, c]) disposeMlp(r.params);
});

test("a run killed after epoch 1 resumes from its checkpoint with the same history", async () => {
  const options: TrainOptions = {
    ...BASE,
    mode: "rdrop",
    epochs: 3,
    shuffle: true,
  };
  const whole = await train(DATA, options);

  const store = memoryCheckpointStore();
  const controller = new AbortController();
  await assertRejects(() =>
    train(DATA, {
      ...options,
      checkpoint: store,
      signal: controller.signal,
      // The checkpoint is saved before onEpoch runs; abort right after the first one.
      onEpoch: () => controller.abort(new Error("simulated kill")),
    })
  );
  assertEquals(store.saves, 1);
  assertEquals((await store.load()).checkpoint?.epoch, 1);

  let stepsRun = 0;
  const resumedAt: {
    epochs: number;
    rejected: string[];
    stepsBefore: number;
  }[] = [];
  const resumed = await train(DATA, {
    ...options,
    checkpoint: store,
    onStep: () => stepsRun++,
    onResume: ({ resumedEpochs, rejected }) =>
      resumedAt.push({
        epochs: resumedEpochs,
        rejected,
        stepsBefore: stepsRun,
      }),
  });
  assertEquals(resumed.resumedEpochs, 1);
  // Announced once, when resuming starts, not after training.
  assertEquals(resumedAt, [{ epochs: 1, rejected: [], stepsBefore: 0 }]);
  assertEquals(stepsRun, 2 * stepsPerEpoch(300, 16));
  assertEquals(withoutTimes(resumed.history), withoutTimes(whole.history));
  assertEquals(
    (await readMlpValues(resumed.params)).map((v) => Array.from(v)),
    (await readMlpValues(whole.params)).map((v) => Array.from(v)),
  );
  assertEquals(store.saves, 3);
  disposeMlp(whole.params);
  disposeMlp(resumed.params);
});

test("a checkpoint of other settings is refused with a ModelError", async () => {
  const store = memoryCheckpointStore();
  const first = await train(DATA, { ...BASE, epochs: 1, checkpoint: store });
  disposeMlp(first.params);
  const error = await assertRejects(() =>
    train(DATA, { ...BASE, learningRate: 0.5, checkpoint: store })
  );
  assert(
    error instanceof ModelError && error.message.includes("learningRate"),
    String(error),
  );
  // A checkpoint past the requested number of epochs cannot be resumed either.
  const two = memoryCheckpointStore();
  disposeMlp(
    (await train(DATA, { ...BASE, epochs: 2, checkpoint: two })).params,
  );
  const past = await assertRejects(() =>
    train(DATA, { ...BASE, epochs: 1, checkpoint: two })
  );
  assert(past instanceof ModelError, String(past));
});

test("a NaN or infinite loss stops with a DivergenceError naming epoch, step and a hint", async () => {
  const before = tf.memory().numTensors;
  const huge = await assertRejects(() =>
    train(DATA, { ...BASE, mode: "rdrop", alpha: 1e39, readEvery: 3 })
  );
  assert(huge instanceof DivergenceError, String(huge));
  // Seen at a read (every 3 steps) in the first epoch; which read depends on whether the
  // step computes the loss in float32 (Inf at once) or float64 (finite until weights blow up).
  assert(
    huge.epoch === 1 && huge.step % 3 === 0,
    `seen at ${huge.epoch}/${huge.step}`,
  );
  assert(!Number.isFinite(huge.loss));
  assert(huge.message.includes("alpha"), huge.message);

  const lr = await assertRejects(() =>
    train(DATA, { ...BASE, learningRate: 1e30, readEvery: 4 })
  );
  assert(lr instanceof DivergenceError, String(lr));
  assert(lr.epoch === 1 && lr.step % 4 === 0, `seen at ${lr.epoch}/${lr.step}`);
  assert(!Number.isFinite(lr.loss));
  assert(lr.message.includes("learning rate"), lr.message);
  assertEquals(
    tf.memory().numTensors,
    before,
    "tensors leaked by the failed runs",
  );
});

test("no tensor leak: live tensors are the same after every step", async () => {
  const before = tf.memory().numTensors;
  const counts: number[] = [];
  const steps = [["optimised", tfjsStepFactory()], [
    "reference",
    tfjsStepFactory(createReferenceStep),
  ]] as const;
  for (const [stepName, createStep] of steps) {
    for (const mode of ["baseline", "rdrop"] as const) {
      const result = await train(DATA, {
        ...BASE,
        mode,
        shuffle: true,
        createStep,
        onStep: () => counts.push(tf.memory().numTensors),
      });
      assertEquals(
        new Set(counts).size,
        1,
        `${stepName} ${mode}: live tensors per step: ${[...new Set(counts)]}`,
      );
      counts.length = 0;
      disposeMlp(result.params);
    }
  }
  assertEquals(tf.memory().numTensors, before);
});

test("the last partial batch is kept and progress reports it", async () => {
  assertEquals(stepsPerEpoch(300, 16), 19);
  assertEquals(stepsPerEpoch(32, 32), 1);
  const small: TrainData = {
    train: blobs(10, { features: FEATURES, classes: 3, seed: 9 }),
    test: DATA.test,
  };
  const infos: { step: number; steps: number; loss?: number }[] = [];
  const result = await train(small, {
    ...BASE,
    epochs: 1,
    batchSize: 4,
    readEvery: 2,
    onStep: (i) => infos.push(i),
  });
  assertEquals(infos.map((i) => [i.step, i.steps]), [[1, 3], [2, 3], [3, 3]]);
  // Loss read on step 2 (every 2) and on the last step only.
  assertEquals(infos.map((i) => i.loss !== undefined), [false, true, true]);
  disposeMlp(result.params);
});

test("bad options and inconsistent data are ModelErrors", async () => {
  for (
    const options of [
      { ...BASE, epochs: 0 },
      { ...BASE, batchSize: 0 },
      { ...BASE, learningRate: -1 },
      { ...BASE, model: { ...BASE.model, inputSize: 10 } },
    ]
  ) {
    const error = await assertRejects(() => train(DATA, options));
    assert(error instanceof ModelError, String(error));
  }
  const broken = { ...DATA, train: { ...DATA.train, count: 301 } };
  assert(
    (await assertRejects(() => train(broken, BASE))) instanceof ModelError,
  );
});
