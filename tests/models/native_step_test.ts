import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { blobs } from "./_synthetic.ts";
import {
  disposeMlp,
  initialValues,
  type MlpConfig,
  mlpFromValues,
} from "../../models/mlp.ts";
import { evaluateTensors } from "../../models/evaluate.ts";
import {
  BLAS_LIBRARY_ENV,
  createNativeStep,
  nativeStepFactory,
  probeBlas,
} from "../../models/native/mod.ts";
import { createReferenceStep } from "../../models/reference_step.ts";
import type { BatchStepFactory, StepConfig } from "../../models/step.ts";
import { tfjsStepFactory } from "../../models/tfjs_step.ts";
import {
  evaluateLogits,
  train,
  type TrainOptions,
} from "../../models/trainer.ts";

// CI installs libopenblas0-pthread, so there these tests must run; elsewhere they are
// skipped (visibly) when the library is missing.
const probe = probeBlas();
const ignore = !probe.ok && Deno.env.get("CI") === undefined;
if (!probe.ok) console.warn(`native tests: ${probe.reason}`);
const blas = () => {
  if (!probe.ok) throw new Error(probe.reason);
  return probe.blas;
};

Deno.test({
  name:
    "OpenBLAS loads and describes itself (version, core) through the library only",
  ignore,
  fn() {
    const { info } = blas();
    assertEquals(probeBlas(), probe, "loaded once per process");
    assert(/^\d+\.\d+/.test(info.version ?? ""), info.config);
    assert(info.coreName.length > 0 && info.config.includes(info.coreName));
    assertEquals(
      info.coreTypeOverride,
      Deno.env.get("OPENBLAS_CORETYPE") ?? null,
    );
    blas().setThreads(1);
    assertEquals(blas().threads(), 1);
  },
});

Deno.test({
  name: "sgemm computes row-major products with either operand transposed",
  ignore,
  fn() {
    const [m, n, k] = [3, 4, 5];
    const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i));
    const at = new Float32Array(k * m);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < k; j++) at[j * m + i] = a[i * k + j];
    }
    const bt = new Float32Array(n * k);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < n; j++) bt[j * k + i] = b[i * n + j];
    }
    const want = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
        want[i * n + j] = s;
      }
    }
    for (
      const [transA, transB] of [[false, false], [true, false], [false, true]]
    ) {
      const c = new Float32Array(m * n);
      blas().sgemm({
        transA,
        transB,
        m,
        n,
        k,
        alpha: 1,
        a: transA ? at : a,
        lda: transA ? m : k,
        b: transB ? bt : b,
        ldb: transB ? k : n,
        beta: 0,
        c,
        ldc: n,
      });
      c.forEach((v, i) =>
        assert(Math.abs(v - want[i]) < 1e-5, `${transA}/${transB} [${i}]`)
      );
    }
  },
});

Deno.test({
  name: "sgemv sums a row-major matrix's columns or rows; saxpy adds in place",
  ignore,
  fn() {
    const [m, n] = [5, 3];
    const a = Float32Array.from({ length: m * n }, (_, i) => i + 1);
    const colSums = new Float32Array(n).fill(7); // beta 0 overwrites
    blas().sgemv({
      trans: true,
      m,
      n,
      alpha: 1,
      a,
      lda: n,
      x: new Float32Array(m).fill(1),
      beta: 0,
      y: colSums,
    });
    // Columns of [[1,2,3],[4,5,6],...,[13,14,15]]: 1+4+7+10+13, ...
    assert(colSums.join() === "35,40,45", colSums.join());
    const rowDots = new Float32Array(m);
    blas().sgemv({
      trans: false,
      m,
      n,
      alpha: 2,
      a,
      lda: n,
      x: Float32Array.of(1, 0, -1),
      beta: 0,
      y: rowDots,
    });
    assert(rowDots.every((v) => v === -4), rowDots.join());
    const y = Float32Array.of(1, 2, 3, 4);
    blas().saxpy(0.5, Float32Array.of(2, 4, 6), y);
    assert(y.join() === "2,4,6,4", y.join());
    assertThrows(() =>
      blas().saxpy(1, new Float32Array(3), new Float32Array(2))
    );
  },
});

Deno.test("a missing library is reported with the path, never thrown", () => {
  const missing = probeBlas({ path: "/nonexistent/libopenblas.so.0" });
  assert(!missing.ok);
  assert(
    missing.reason.includes("/nonexistent/libopenblas.so.0"),
    missing.reason,
  );
  const before = Deno.env.get(BLAS_LIBRARY_ENV);
  Deno.env.set(BLAS_LIBRARY_ENV, "/nonexistent/other/libopenblas.so.0");
  try {
    const viaEnv = probeBlas();
    assert(!viaEnv.ok);
    assert(viaEnv.reason.includes(BLAS_LIBRARY_ENV), viaEnv.reason);
  } finally {
    if (before === undefined) Deno.env.delete(BLAS_LIBRARY_ENV);
    else Deno.env.set(BLAS_LIBRARY_ENV, before);
  }
});

/** Hidden sizes that are not multiples of 4: the step's plain-loop path instead of SIMD. */
const ODD: MlpConfig = {
  inputSize: 12,
  hidden: [10, 6],
  classes: 3,
  dropout: 0.3,
};
const SMALL: MlpConfig = {
  inputSize: 12,
  hidden: [16, 8],
  classes: 3,
  dropout: 0.3,
};

/** Runs `steps` steps of a factory on fixed batches; returns losses, counts, values, state. */
async function trajectory(
  factory: BatchStepFactory,
  config: StepConfig,
  options: { steps: number; rows: number },
) {
  const { inputSize } = config.model;
  const x = Float32Array.from(
    { length: options.rows * inputSize },
    (_, i) => Math.sin(i * 0.37) + 0.2 * Math.cos(i * 1.9),
  );
  const y = Int32Array.from(
    { length: options.rows },
    (_, i) => (i * 7) % config.model.classes,
  );
  const step = factory(initialValues(config.model, { seed: 4 }), config);
  const losses: number[] = [];
  const correct: number[] = [];
  for (let i = 0; i < options.steps; i++) {
    step.run({ x, y, rows: options.rows });
    const m = await step.takeMetrics();
    losses.push(m.lossSum);
    correct.push(m.correct);
  }
  const values = await step.getValues();
  const state = await step.getState();
  step.dispose();
  return { losses, correct, values, state };
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((arr, i) =>
    arr.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i][j]))))
  );
  return worst;
}

for (
  const [mode, model] of [
    ["baseline", SMALL],
    ["rdrop", SMALL],
    ["baseline", ODD],
    ["rdrop", ODD],
  ] as const
) {
  Deno.test({
    name:
      `native step follows the tfjs steps (optimised on wasm, reference on cpu): ${mode}, hidden ${model.hidden}`,
    ignore,
    async fn() {
      const config: StepConfig = {
        model,
        mode,
        alpha: 0.5,
        learningRate: 0.01,
        seed: 9,
      };
      const run = { steps: 6, rows: 10 };
      const native = await trajectory(
        nativeStepFactory(blas(), { threads: 1 }),
        config,
        run,
      );
      for (
        const [backend, factory] of [
          ["wasm", tfjsStepFactory()],
          ["cpu", tfjsStepFactory(createReferenceStep)],
        ] as const
      ) {
        await tf.setBackend(backend);
        const ref = await trajectory(factory, config, run);
        native.losses.forEach((l, i) =>
          assert(
            Math.abs(l - ref.losses[i]) < 1e-5,
            `${backend} loss ${i}: ${l} vs ${ref.losses[i]}`,
          )
        );
        const params = maxDiff(native.values, ref.values);
        const moments = maxDiff(native.state.m, ref.state.m);
        console.log(
          `${mode} vs ${backend}: max |param diff| ${
            params.toExponential(2)
          }, max |m diff| ${moments.toExponential(2)}`,
        );
        assert(params < 1e-5, `${backend}: parameters differ by ${params}`);
        assert(
          moments < 1e-6,
          `${backend}: first moments differ by ${moments}`,
        );
        assertEquals(native.state.step, ref.state.step);
        if (backend === "wasm") assertEquals(native.correct, ref.correct);
      }
    },
  });
}

Deno.test({
  name:
    "native step at the real model's size follows the tfjs wasm step (3 steps, dropout 0.5)",
  ignore,
  async fn() {
    await tf.setBackend("wasm");
    const config: StepConfig = {
      model: { inputSize: 784, hidden: [512, 512], classes: 10, dropout: 0.5 },
      mode: "rdrop",
      alpha: 0.05,
      learningRate: 1e-3,
      seed: 0,
    };
    const run = { steps: 3, rows: 32 };
    const native = await trajectory(
      nativeStepFactory(blas(), { threads: 1 }),
      config,
      run,
    );
    const wasm = await trajectory(tfjsStepFactory(), config, run);
    native.losses.forEach((l, i) =>
      assert(
        Math.abs(l - wasm.losses[i]) < 1e-5,
        `loss ${i}: ${l} vs ${wasm.losses[i]}`,
      )
    );
    // Adam makes an update of ~lr * g / (|g| + 1e-8): for the few weights whose gradient is
    // a near-cancelled sum of size ~1e-8 the float32 summation order (BLAS vs XNNPACK)
    // shows in the update. Every parameter stays within a tenth of one step (lr = 1e-3),
    // and almost all agree to float32 rounding.
    const params = maxDiff(native.values, wasm.values);
    let total = 0;
    let loose = 0;
    native.values.forEach((a, i) =>
      a.forEach((v, j) => {
        total++;
        if (Math.abs(v - wasm.values[i][j]) > 1e-6) loose++;
      })
    );
    console.log(
      `784-512-512-10 rdrop, 3 steps: max |param diff| ${
        params.toExponential(2)
      }, ${loose} of ${total} parameters differ by more than 1e-6`,
    );
    assert(params < 1e-4, `parameters differ by ${params}`);
    assert(
      loose / total < 1e-3,
      `${loose} of ${total} parameters differ by > 1e-6`,
    );
  },
});

Deno.test({
  name:
    "native step: restoring values and Adam state continues the run exactly",
  ignore,
  async fn() {
    const config: StepConfig = {
      model: SMALL,
      mode: "rdrop",
      alpha: 0.5,
      learningRate: 0.01,
      seed: 2,
    };
    const x = Float32Array.from(
      { length: 8 * 12 },
      (_, i) => Math.cos(i * 0.3),
    );
    const y = Int32Array.from({ length: 8 }, (_, i) => i % 3);
    const init = initialValues(SMALL, { seed: 1 });
    const whole = createNativeStep(init, config, { blas: blas(), threads: 1 });
    for (let i = 0; i < 5; i++) whole.run({ x, y, rows: 8 });
    const first = createNativeStep(init, config, { blas: blas(), threads: 1 });
    for (let i = 0; i < 3; i++) first.run({ x, y, rows: 8 });
    const resumed = createNativeStep(init, config, {
      blas: blas(),
      threads: 1,
    });
    resumed.restore(await first.getValues(), await first.getState());
    for (let i = 0; i < 2; i++) resumed.run({ x, y, rows: 8 });
    assertEquals(await resumed.getValues(), await whole.getValues());
    assertEquals(await resumed.getState(), await whole.getState());
    for (const s of [whole, first, resumed]) s.dispose();
  },
});

Deno.test({
  name:
    "the trainer runs the native step: loss falls, accuracy is reported with the loss",
  ignore,
  async fn() {
    await tf.setBackend("wasm");
    const options: TrainOptions = {
      mode: "rdrop",
      alpha: 0.5,
      epochs: 3,
      batchSize: 16,
      learningRate: 1e-2,
      seed: 3,
      shuffle: true,
      model: { inputSize: 20, hidden: [32, 16], classes: 3, dropout: 0.3 },
      readEvery: 5,
      createStep: nativeStepFactory(blas(), { threads: 1 }),
    };
    const data = {
      train: blobs(300, { features: 20, classes: 3, seed: 1 }),
      test: blobs(150, { features: 20, classes: 3, seed: 2 }),
    };
    const reads: { loss?: number; accuracy?: number }[] = [];
    const result = await train(data, {
      ...options,
      onStep: (info) => {
        if (info.loss !== undefined) reads.push(info);
      },
    });
    const { history } = result;
    assert(
      history[2].trainLoss < history[0].trainLoss,
      JSON.stringify(history),
    );
    assert(history[2].testAccuracy > 0.8, JSON.stringify(history));
    assert(
      reads.every((r) =>
        r.accuracy !== undefined && r.accuracy >= 0 && r.accuracy <= 1
      ),
    );
    assert(reads.at(-1)!.accuracy! > 0.8, JSON.stringify(reads.at(-1)));
    result.params.weights.forEach((w) => w.dispose());
    result.params.biases.forEach((b) => b.dispose());
  },
});

Deno.test({
  name:
    "the native step's evaluation forward pass agrees with tfjs' evaluation",
  ignore,
  async fn() {
    await tf.setBackend("wasm");
    const model: MlpConfig = {
      inputSize: 20,
      hidden: [32, 16],
      classes: 3,
      dropout: 0.3,
    };
    const split = blobs(257, { features: 20, classes: 3, seed: 5 });
    const values = initialValues(model, { seed: 6 });
    const step = createNativeStep(values, {
      model,
      mode: "baseline",
      alpha: 0,
      learningRate: 1e-2,
      seed: 1,
    }, { blas: blas(), threads: 1 });
    // A few steps, so that the values are not the initial ones.
    for (let i = 0; i < 5; i++) {
      step.run({
        x: split.images.subarray(0, 64 * 20),
        y: split.labels.subarray(0, 64),
        rows: 64,
      });
    }
    const ours = evaluateLogits(
      (x, rows) => step.predictLogits!(x, rows),
      split,
      { classes: 3, batchSize: 100 },
    );
    const params = mlpFromValues(model, await step.getValues());
    const x = tf.tensor2d(split.images, [split.count, 20]);
    const y = tf.tensor1d(split.labels, "int32");
    const theirs = await evaluateTensors(params, { x, y }, { classes: 3 });
    assertEquals(ours.accuracy, theirs.accuracy);
    assert(
      Math.abs(ours.loss - theirs.loss) < 1e-5,
      `${ours.loss} vs ${theirs.loss}`,
    );
    disposeMlp(params);
    x.dispose();
    y.dispose();
    step.dispose();
  },
});
