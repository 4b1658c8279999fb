/**
 * Tests of the optimised training step: its hand-written gradients against tfjs autodiff
 * of `rDropLoss` / `nllLoss`, Adam against a hand-computed reference, dropout masks as a
 * pure function of (seed, step, layer), resume, no leaks, and backends agreeing.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { assert, assertAlmostEquals, assertEquals } from "./assert.ts";
import { nllLoss, rDropLoss } from "../../models/losses.ts";
import {
  disposeMlp,
  initMlp,
  type MlpConfig,
  type MlpParams,
  predictLogits,
} from "../../models/mlp.ts";
import {
  adamUpdate,
  createTrainStep,
  dropoutMaskValues,
  forwardBackward,
  lossAndGradient,
  sliceRows,
  transposeInto,
} from "../../models/train_step.ts";

const TINY: MlpConfig = {
  inputSize: 7,
  hidden: [6, 5],
  classes: 4,
  dropout: 0,
};

/** Deterministic pseudo-random values in [lo, hi). */
function values(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  let s = seed * 2654435761 >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return lo + (hi - lo) * ((s >>> 0) / 2 ** 32);
  });
}

function batch(
  rows: number,
  seed: number,
  config: MlpConfig = TINY,
): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const x = tf.tensor2d(values(rows * config.inputSize, seed), [
    rows,
    config.inputSize,
  ]);
  const labels = Array.from(
    { length: rows },
    (_, i) => (i * 3 + seed) % config.classes,
  );
  return { x, y: tf.tensor1d(labels, "int32") };
}

/** Logits in training mode with explicit standard-layout masks, by plain tfjs ops. */
function referenceLogits(
  params: MlpParams,
  x: tf.Tensor2D,
  masks: (tf.Tensor2D | null)[],
): tf.Tensor2D {
  let h = x;
  const last = params.weights.length - 1;
  for (let layer = 0; layer <= last; layer++) {
    h = tf.add(tf.matMul(h, params.weights[layer]), params.biases[layer]);
    if (layer < last) {
      h = tf.relu(h);
      const mask = masks[layer];
      if (mask) h = tf.mul(h, mask);
    }
  }
  return h;
}

/** Gradients by autodiff, in the order w0, b0, w1, b1, .... */
function autodiffGrads(
  params: MlpParams,
  loss: () => tf.Scalar,
): { loss: number; grads: Float32Array[] } {
  const vars = params.weights.flatMap((w, i) => [w, params.biases[i]]);
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(loss, vars);
    return {
      loss: value.dataSync()[0],
      grads: vars.map((v) => grads[v.name].dataSync() as Float32Array),
    };
  });
}

function ourGrads(
  params: MlpParams,
  inputs: { x: tf.Tensor2D; y: tf.Tensor1D; masks: (tf.Tensor2D | null)[] },
  options: {
    mode: "baseline" | "rdrop";
    alpha: number;
    reduction?: "sum" | "batchmean";
    head?: "host" | "device";
  },
): { loss: number; grads: Float32Array[] } {
  return tf.tidy(() => {
    const out = forwardBackward(
      {
        weights: params.weights,
        weightsT: params.weights.map((w) => tf.transpose(w)),
        biases: params.biases,
      },
      {
        x: inputs.x,
        y: inputs.y,
        masksT: inputs.masks.map((m) => m && tf.transpose(m)),
      },
      options,
    );
    return {
      loss: out.loss.dataSync()[0],
      grads: out.grads.map((g) => g.dataSync() as Float32Array),
    };
  });
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: number,
  what: string,
): void {
  assertEquals(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  assert(
    worst <= tolerance,
    `${what}: max abs difference ${worst} > ${tolerance}`,
  );
}

function maskTensors(rows: number, seed: number, rate: number): tf.Tensor2D[] {
  return TINY.hidden.map((cols, layer) =>
    tf.tensor2d(dropoutMaskValues(rows, cols, { rate, seed, step: 3, layer }), [
      rows,
      cols,
    ])
  );
}

for (const head of ["device", "host"] as const) {
  Deno.test(`gradients match tf autodiff of rDropLoss / nllLoss (cpu, no dropout, 1e-5, ${head} head)`, async () => {
    await tf.setBackend("cpu");
    const params = initMlp(TINY, { seed: 11 });
    const { x, y } = batch(5, 1);
    const xx = tf.concat([x, x], 0) as tf.Tensor2D;
    for (const reduction of ["sum", "batchmean"] as const) {
      for (const alpha of [0.05, 1]) {
        const expected = autodiffGrads(
          params,
          () =>
            rDropLoss(referenceLogits(params, xx, [null, null]), y, {
              alpha,
              reduction,
            }),
        );
        const actual = ourGrads(params, { x, y, masks: [null, null] }, {
          mode: "rdrop",
          alpha,
          reduction,
          head,
        });
        assertAlmostEquals(actual.loss, expected.loss, 1e-5, "R-Drop loss");
        actual.grads.forEach((g, i) =>
          assertClose(
            g,
            expected.grads[i],
            1e-5,
            `R-Drop ${reduction} alpha ${alpha} grad ${i}`,
          )
        );
      }
    }
    const expected = autodiffGrads(
      params,
      () => nllLoss(referenceLogits(params, x, [null, null]), y),
    );
    const actual = ourGrads(params, { x, y, masks: [null, null] }, {
      mode: "baseline",
      alpha: 0,
      head,
    });
    assertAlmostEquals(actual.loss, expected.loss, 1e-5, "NLL");
    actual.grads.forEach((g, i) =>
      assertClose(g, expected.grads[i], 1e-5, `baseline grad ${i}`)
    );
    disposeMlp(params);
    tf.dispose([x, y, xx]);
  });

  Deno.test(`gradients with dropout masks match autodiff through the same masks (${head} head)`, async () => {
    await tf.setBackend("cpu");
    const params = initMlp(TINY, { seed: 12 });
    const { x, y } = batch(4, 2);
    const xx = tf.concat([x, x], 0) as tf.Tensor2D;
    const masks = maskTensors(8, 5, 0.5);
    const expected = autodiffGrads(
      params,
      () => rDropLoss(referenceLogits(params, xx, masks), y, { alpha: 0.3 }),
    );
    const actual = ourGrads(params, { x, y, masks }, {
      mode: "rdrop",
      alpha: 0.3,
      head,
    });
    assertAlmostEquals(actual.loss, expected.loss, 1e-5, "loss");
    actual.grads.forEach((g, i) =>
      assertClose(g, expected.grads[i], 1e-5, `grad ${i}`)
    );
    disposeMlp(params);
    tf.dispose([x, y, xx, ...masks]);
  });
}

Deno.test("lossAndGradient: R-Drop gradient of the issue's example matches autodiff", async () => {
  await tf.setBackend("cpu");
  const logits = tf.tensor2d([[1, 2, 0.5], [0, -1, 3], [1.5, 1, 0], [
    0.5,
    -0.5,
    2,
  ]]);
  const labels = tf.tensor1d([1, 2], "int32");
  const { loss, dLogits } = lossAndGradient(logits, labels, {
    mode: "rdrop",
    alpha: 0.05,
  });
  assertAlmostEquals(
    loss.dataSync()[0],
    0.493162,
    1e-5,
    "loss of the issue's example",
  );
  const expected = tf.grad((z: tf.Tensor) =>
    rDropLoss(z as tf.Tensor2D, labels)
  )(logits);
  assertClose(dLogits.dataSync(), expected.dataSync(), 1e-6, "dLogits");
  tf.dispose([logits, labels, loss, dLogits, expected]);
});

Deno.test("dropout masks: a pure function of (seed, step, layer), keep rate ~ 1 - rate", () => {
  const a = dropoutMaskValues(64, 100, {
    rate: 0.5,
    seed: 1,
    step: 7,
    layer: 0,
  });
  const b = dropoutMaskValues(64, 100, {
    rate: 0.5,
    seed: 1,
    step: 7,
    layer: 0,
  });
  assertEquals(Array.from(a), Array.from(b), "same arguments, same mask");
  for (
    const other of [
      { rate: 0.5, seed: 2, step: 7, layer: 0 },
      { rate: 0.5, seed: 1, step: 8, layer: 0 },
      { rate: 0.5, seed: 1, step: 7, layer: 1 },
    ]
  ) {
    const c = dropoutMaskValues(64, 100, other);
    const same = a.filter((v, i) => v === c[i]).length / a.length;
    assert(
      same > 0.4 && same < 0.6,
      `masks for ${JSON.stringify(other)} agree on ${same}`,
    );
  }
  const kept = a.filter((v) => v > 0);
  assert(
    Math.abs(kept.length / a.length - 0.5) < 0.03,
    `kept ${kept.length / a.length}`,
  );
  assert(
    kept.every((v) => v === 2),
    "kept values are scaled by 1 / (1 - rate)",
  );
  const r = dropoutMaskValues(100, 100, {
    rate: 0.2,
    seed: 3,
    step: 0,
    layer: 0,
  });
  const keptR = r.filter((v) => v > 0).length / r.length;
  assert(Math.abs(keptR - 0.8) < 0.02, `rate 0.2 keeps ${keptR}`);
  const t = dropoutMaskValues(64, 100, {
    rate: 0.5,
    seed: 1,
    step: 7,
    layer: 0,
    transposed: true,
  });
  for (let row = 0; row < 64; row += 9) {
    for (let col = 0; col < 100; col += 7) {
      assertEquals(
        t[col * 64 + row],
        a[row * 100 + col],
        `transposed (${row}, ${col})`,
      );
    }
  }
  const none = dropoutMaskValues(3, 4, { rate: 0, seed: 1, step: 0, layer: 0 });
  assert(none.every((v) => v === 1), "rate 0 keeps everything unscaled");
});

Deno.test("transposeInto transposes non-square and odd-sized matrices", () => {
  const rows = 37;
  const cols = 53;
  const src = values(rows * cols, 9);
  const dst = new Float32Array(rows * cols);
  transposeInto(src, [rows, cols], dst);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      assertEquals(dst[c * rows + r], src[r * cols + c], `(${r}, ${c})`);
    }
  }
});

/** PyTorch's Adam in float64 for one tensor; returns the new parameter. */
function referenceAdam(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  state: { m: Float64Array; v: Float64Array },
  t: number,
  lr: number,
): Float64Array<ArrayBuffer> {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    state.m[i] = 0.9 * state.m[i] + 0.1 * g[i];
    state.v[i] = 0.999 * state.v[i] + 0.001 * g[i] * g[i];
    const denom = Math.sqrt(state.v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
    out[i] = p[i] - lr / (1 - 0.9 ** t) * state.m[i] / denom;
  }
  return out;
}

// QUAD's sizes are multiples of 4: the SIMD transpose path of the host Adam.
const QUAD: MlpConfig = {
  inputSize: 12,
  hidden: [8, 4],
  classes: 4,
  dropout: 0,
};

for (
  const setup of [
    { backend: "cpu", adam: "host", config: TINY },
    { backend: "wasm", adam: "host", config: TINY },
    { backend: "wasm", adam: "host", config: QUAD },
    { backend: "cpu", adam: "device", config: TINY },
  ] as const
) {
  const sizes = [
    setup.config.inputSize,
    ...setup.config.hidden,
    setup.config.classes,
  ];
  Deno.test(
    `Adam matches a hand-computed PyTorch reference for 2 steps (${setup.backend}, ${setup.adam}, ${
      sizes.join("-")
    })`,
    async () => {
      await tf.setBackend(setup.backend);
      const lr = 0.01;
      const params = initMlp(setup.config, { seed: 21 });
      const vars = params.weights.flatMap((w, i) => [w, params.biases[i]]);
      let expected: Float64Array<ArrayBuffer>[] = vars.map((v) =>
        Float64Array.from(v.dataSync())
      );
      const states = expected.map((p) => ({
        m: new Float64Array(p.length),
        v: new Float64Array(p.length),
      }));
      const step = createTrainStep(params, {
        mode: "rdrop",
        alpha: 0.5,
        dropout: 0,
        learningRate: lr,
        seed: 0,
        adam: setup.adam,
      });
      const { x, y } = batch(6, 3, setup.config);
      for (let t = 1; t <= 2; t++) {
        // Gradients at the current parameters by autodiff (independent of the step's code).
        const { grads } = autodiffGrads(
          params,
          () =>
            rDropLoss(
              referenceLogits(params, tf.concat([x, x], 0) as tf.Tensor2D, [
                null,
                null,
              ]),
              y,
              { alpha: 0.5 },
            ),
        );
        expected = expected.map((p, i) =>
          referenceAdam(p, grads[i], states[i], t, lr)
        );
        step.run(x, y).dispose();
        vars.forEach((v, i) =>
          assertClose(v.dataSync(), expected[i], 2e-6, `step ${t} param ${i}`)
        );
      }
      const state = await step.getState();
      assertEquals(state.step, 2, "step count");
      state.m.forEach((m, i) => assertClose(m, states[i].m, 1e-7, `m ${i}`));
      state.v.forEach((v, i) => assertClose(v, states[i].v, 1e-9, `v ${i}`));
      step.dispose();
      disposeMlp(params);
      tf.dispose([x, y]);
    },
  );
}

Deno.test("adamUpdate (the JS form) matches the float64 reference", () => {
  const p = values(101, 4, -1, 1);
  const g = values(101, 5, -0.1, 0.1);
  const m = new Float32Array(101);
  const v = new Float32Array(101);
  const ref = { m: new Float64Array(101), v: new Float64Array(101) };
  let expected: Float64Array<ArrayBuffer> = Float64Array.from(p);
  for (let t = 1; t <= 3; t++) {
    adamUpdate({ param: p, grad: g, m, v, out: p }, {
      t,
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
    });
    expected = referenceAdam(expected, g, ref, t, 1e-3);
  }
  assertClose(p, expected, 1e-6, "params after 3 steps");
});

async function trainedValues(
  backend: string,
  options: { steps: number; resumeAt?: number; mode: "baseline" | "rdrop" },
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const config = { ...TINY, dropout: 0.5 };
  const settings = {
    mode: options.mode,
    alpha: 0.3,
    dropout: 0.5,
    learningRate: 0.01,
    seed: 5,
  };
  let params = initMlp(config, { seed: 8 });
  let step = createTrainStep(params, settings);
  const batches = Array.from({ length: options.steps }, (_, k) => batch(4, k));
  for (let k = 0; k < options.steps; k++) {
    if (k === options.resumeAt) {
      // Simulated kill: keep only the weights and Adam's state, rebuild everything.
      const state = await step.getState();
      const saved = [...params.weights, ...params.biases].map((v) =>
        v.dataSync().slice()
      );
      step.dispose();
      disposeMlp(params);
      params = initMlp(config, { seed: 999 });
      const restored: tf.Variable[] = [...params.weights, ...params.biases];
      restored.forEach((v, i) => v.assign(tf.tensor(saved[i], v.shape)));
      step = createTrainStep(params, settings);
      step.setState(state);
    }
    step.run(batches[k].x, batches[k].y).dispose();
  }
  const out = params.weights.flatMap((w, i) => [
    w.dataSync().slice() as Float32Array,
    params.biases[i].dataSync().slice() as Float32Array,
  ]);
  step.dispose();
  disposeMlp(params);
  tf.dispose(batches.flatMap((b) => [b.x, b.y]));
  return out;
}

Deno.test("resume from getState/setState reproduces an uninterrupted run (masks included)", async () => {
  for (const backend of ["wasm", "cpu"]) {
    const whole = await trainedValues(backend, { steps: 4, mode: "rdrop" });
    const resumed = await trainedValues(backend, {
      steps: 4,
      resumeAt: 2,
      mode: "rdrop",
    });
    whole.forEach((w, i) =>
      assertClose(resumed[i], w, 0, `${backend} param ${i}`)
    );
  }
});

Deno.test("same seed and backend give the same weights; wasm and cpu agree", async () => {
  const a = await trainedValues("wasm", { steps: 3, mode: "baseline" });
  const b = await trainedValues("wasm", { steps: 3, mode: "baseline" });
  a.forEach((w, i) => assertClose(b[i], w, 0, `rerun param ${i}`));
  const c = await trainedValues("cpu", { steps: 3, mode: "baseline" });
  a.forEach((w, i) => assertClose(c[i], w, 1e-5, `wasm vs cpu param ${i}`));
});

Deno.test("no tensor leak: the number of live tensors is the same after every step", async () => {
  for (const backend of ["wasm", "cpu"]) {
    await tf.setBackend(backend);
    const params = initMlp({ ...TINY, dropout: 0.5 }, { seed: 1 });
    const step = createTrainStep(params, {
      mode: "rdrop",
      alpha: 0.05,
      dropout: 0.5,
      learningRate: 1e-3,
      seed: 1,
    });
    const { x, y } = batch(4, 1);
    step.run(x, y).dispose();
    const live = tf.memory().numTensors;
    for (let k = 0; k < 5; k++) {
      // Also inside a caller's tidy, as the trainer may call it.
      tf.tidy(() => step.run(x, y)).dispose();
      assertEquals(
        tf.memory().numTensors,
        live,
        `${backend} live tensors after step ${k}`,
      );
    }
    step.dispose();
    disposeMlp(params);
    tf.dispose([x, y]);
  }
});

Deno.test("training on a learnable toy problem lowers the eval NLL (wasm, both modes)", async () => {
  await tf.setBackend("wasm");
  const config = { ...TINY, hidden: [16, 16], dropout: 0.2 };
  // The label is the argmax of the first 4 features: learnable by the MLP.
  const xs = values(64 * config.inputSize, 77);
  const labels = Array.from({ length: 64 }, (_, r) => {
    const row = xs.subarray(r * config.inputSize, r * config.inputSize + 4);
    return row.indexOf(Math.max(...row));
  });
  const x = tf.tensor2d(xs, [64, config.inputSize]);
  const y = tf.tensor1d(labels, "int32");
  for (const mode of ["baseline", "rdrop"] as const) {
    const params = initMlp(config, { seed: 3 });
    const evalNll = () =>
      tf.tidy(() => nllLoss(predictLogits(params, x), y).dataSync()[0]);
    const before = evalNll();
    const step = createTrainStep(params, {
      mode,
      alpha: 0.05,
      dropout: 0.2,
      learningRate: 0.01,
      seed: 3,
    });
    for (let k = 0; k < 150; k++) step.run(x, y).dispose();
    const after = evalNll();
    assert(after < 0.5 * before, `${mode}: eval NLL ${before} -> ${after}`);
    step.dispose();
    disposeMlp(params);
  }
  tf.dispose([x, y]);
});

Deno.test("createTrainStep rejects bad options and mismatched Adam state", async () => {
  await tf.setBackend("cpu");
  const params = initMlp(TINY, { seed: 1 });
  const base = {
    mode: "baseline" as const,
    alpha: 0,
    dropout: 0,
    learningRate: 1e-3,
    seed: 0,
  };
  let threw = 0;
  for (const bad of [{ dropout: 1 }, { learningRate: 0 }, { alpha: -1 }]) {
    try {
      createTrainStep(params, { ...base, ...bad });
    } catch (error) {
      assert((error as Error).name === "ModelError", "typed error");
      threw++;
    }
  }
  assertEquals(threw, 3, "every bad option throws");
  const step = createTrainStep(params, base);
  let stateError = false;
  try {
    step.setState({
      step: 1,
      m: [new Float32Array(3)],
      v: [new Float32Array(3)],
    });
  } catch (error) {
    stateError = (error as Error).name === "ModelError";
  }
  assert(stateError, "a state of another model is refused");
  step.dispose();
  disposeMlp(params);
});

const hasWebGpu =
  typeof (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu ===
    "object";

Deno.test({
  name:
    "a WebGPU step and a wasm step from the same weights and masks agree (1e-4)",
  ignore: !hasWebGpu,
  fn: async () => {
    const { selectBackend } = await import("../../models/backend.ts");
    const run = async (backend: "wasm" | "webgpu") => {
      await selectBackend(backend);
      const params = initMlp({ ...TINY, dropout: 0.5 }, { seed: 4 });
      const step = createTrainStep(params, {
        mode: "rdrop",
        alpha: 0.05,
        dropout: 0.5,
        learningRate: 0.01,
        seed: 4,
      });
      const losses: number[] = [];
      for (let k = 0; k < 2; k++) {
        const { x, y } = batch(4, k);
        const loss = step.run(x, y);
        losses.push((await loss.data())[0]);
        tf.dispose([loss, x, y]);
      }
      const weights = await Promise.all(
        [...params.weights, ...params.biases].map((v) => v.data()),
      );
      step.dispose();
      disposeMlp(params);
      return { losses, weights };
    };
    const wasm = await run("wasm");
    const gpu = await run("webgpu");
    gpu.losses.forEach((l, k) =>
      assertAlmostEquals(l, wasm.losses[k], 1e-4, `loss ${k}`)
    );
    gpu.weights.forEach((w, i) =>
      assertClose(w, wasm.weights[i], 1e-4, `param ${i}`)
    );
    await tf.setBackend("wasm");
  },
});

Deno.test("sliceRows equals tf.slice (float32 and int32, wasm and cpu) and checks bounds", async () => {
  for (const backend of ["wasm", "cpu"]) {
    await tf.setBackend(backend);
    const x = tf.tensor2d(values(50 * 3, 6), [50, 3]);
    const y = tf.tensor1d(
      Array.from({ length: 50 }, (_, i) => i * 7 - 20),
      "int32",
    );
    for (const [start, size] of [[0, 32], [32, 18], [49, 1], [10, 0]]) {
      const a = sliceRows(x, start, size);
      const b = sliceRows(y, start, size);
      assertEquals(a.shape, [size, 3], `${backend} shape`);
      assertEquals(b.dtype, "int32", `${backend} dtype`);
      assertEquals(
        Array.from(a.dataSync()),
        Array.from(tf.slice(x, [start, 0], [size, 3]).dataSync()),
        `${backend} float rows ${start}+${size}`,
      );
      assertEquals(
        Array.from(b.dataSync()),
        Array.from(tf.slice(y, [start], [size]).dataSync()),
        `${backend} int rows ${start}+${size}`,
      );
      tf.dispose([a, b]);
    }
    let threw = false;
    try {
      sliceRows(x, 40, 11);
    } catch (error) {
      threw = (error as Error).name === "ModelError";
    }
    assert(threw, "rows past the end are refused");
    tf.dispose([x, y]);
  }
});
