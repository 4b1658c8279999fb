/**
 * The MLP's training step on native BLAS: matrix products through `cblas_sgemm`, the
 * elementwise work in plain loops over row-major host arrays, Adam in the WebAssembly SIMD
 * kernel over one flat buffer of all parameters. No tfjs: it implements
 * {@linkcode BatchStep} directly and is validated against the tfjs step in
 * tests/models/native_step_test.ts.
 *
 * Same computation as the tfjs step (models/train_step.ts), so that a seed gives the same
 * run on either path up to float32 rounding: the same initial values, the same hashed
 * dropout masks (`dropoutMaskValues`, a pure function of seed, step index, layer and
 * position), the same loss head, PyTorch's Adam. R-Drop runs both passes as one `[2B, ...]`
 * batch; the first layer's pre-activation, the same for both copies, is computed once, and
 * its weight gradient is `x^T @ (g_1 + g_2)`.
 *
 * @module
 */
import { ModelError } from "../errors.ts";
import { adamScalars, instantiateKernels } from "../kernels/mod.ts";
import { deriveSeed } from "../random.ts";
import { lossHead } from "../loss_head.ts";
import { layerSizes } from "../mlp.ts";
import { dropoutMaskValues } from "../dropout.ts";
import {
  ADAM_CONSTANTS,
  type AdamState,
  type Batch,
  type BatchStep,
  type StepConfig,
  type StepMetrics,
} from "../step.ts";
import type { Blas } from "./blas.ts";

/** Options of {@linkcode createNativeStep}. */
export interface NativeStepOptions {
  /** The loaded library. */
  blas: Blas;
  /** BLAS threads for this training (set process-wide when the step is created). */
  threads: number;
}

interface Layer {
  fanIn: number;
  fanOut: number;
  /** Offsets (in floats) of the weight and the bias in the flat buffers. */
  w: number;
  b: number;
}

/** Float offsets rounded up to 4 (16 bytes) for the SIMD kernel's alignment. */
const align4 = (n: number) => Math.ceil(n / 4) * 4;

/**
 * A {@linkcode BatchStep} on native BLAS for the MLP of `config.model`, starting from
 * `values` (w0, b0, w1, b1, ...; weights row-major `[fanIn, fanOut]`).
 */
export function createNativeStep(
  values: Float32Array[],
  config: StepConfig,
  options: NativeStepOptions,
): BatchStep {
  const { blas } = options;
  blas.setThreads(options.threads);
  const sizes = layerSizes(config.model);
  const dropout = config.model.dropout;
  const rdrop = config.mode === "rdrop";
  const layers: Layer[] = [];
  let total = 0;
  for (let i = 0; i + 1 < sizes.length; i++) {
    const w = total;
    total += align4(sizes[i] * sizes[i + 1]);
    const b = total;
    total += align4(sizes[i + 1]);
    layers.push({ fanIn: sizes[i], fanOut: sizes[i + 1], w, b });
  }
  const expected = layers.flatMap((l) => [l.fanIn * l.fanOut, l.fanOut]);
  const checkValues = (v: Float32Array[]) => {
    if (
      v.length !== expected.length || v.some((a, i) => a.length !== expected[i])
    ) {
      throw new ModelError(
        `native step: ${v.length} parameter arrays of sizes ${
          v.map((a) => a.length).join(",")
        } do not fit the model (${expected.join(",")})`,
      );
    }
  };
  checkValues(values);

  // Parameters, gradients, Adam's moments and the activations live in one wasm memory:
  // the SIMD kernels (Adam, the dropout-ReLU pair) work on it in place and BLAS reads and
  // writes it through views. The activations sit at the end, sized for the largest batch
  // seen; a larger one grows the memory (which detaches every view: they are re-made).
  const bytes = 4 * total;
  const memory = new WebAssembly.Memory({
    initial: Math.ceil((4 * bytes) / 65536) + 1,
  });
  const kernels = instantiateKernels(memory);
  const at = (offset: number, n: number) =>
    new Float32Array(memory.buffer, offset, n);
  let params = at(0, total);
  let grads = at(bytes, total);
  let m = at(2 * bytes, total);
  let v = at(3 * bytes, total);
  const regions = layers.flatMap((l) => [
    [l.w, l.fanIn * l.fanOut],
    [l.b, l.fanOut],
  ]);
  const setValues = (vals: Float32Array[]) =>
    vals.forEach((a, i) => params.set(a, regions[i][0]));
  setValues(values);
  const view = (buffer: Float32Array, i: number) =>
    buffer.subarray(regions[i][0], regions[i][0] + regions[i][1]);
  const weight = (buffer: Float32Array, l: number) => view(buffer, 2 * l);
  const bias = (buffer: Float32Array, l: number) => view(buffer, 2 * l + 1);
  // The SIMD kernels need row lengths that are multiples of 4; other shapes use loops.
  const simd = layers.slice(0, -1).every((l) => l.fanOut % 4 === 0);
  const keep = dropout > 0 ? Math.fround(1 / (1 - dropout)) : 1;
  const threshold = dropout > 0
    ? Math.min(Math.round(dropout * 65536), 65535)
    : 0;

  let capacity = 0;
  // acts[l]: output of layer l (post dropout for hidden layers), [N, fanOut]; deltas[l]:
  // d loss / d pre-activation of layer l, [N, fanOut]; firstPre: layer 0's pre-activation
  // of one copy (R-Drop computes it once), [B, fanOut]; ones: a column of ones, [N], for
  // the bias gradients.
  let acts: Float32Array[] = [];
  let deltas: Float32Array[] = [];
  let firstPre: Float32Array = new Float32Array(0);
  let ones: Float32Array = new Float32Array(0);
  const ensure = (rows: number) => {
    if (rows <= capacity) return;
    capacity = rows;
    let offset = 4 * bytes;
    const next = (n: number) => {
      const start = offset;
      offset += 4 * align4(n);
      return start;
    };
    const actOffsets = layers.map((l) => next(rows * l.fanOut));
    const deltaOffsets = layers.map((l) => next(rows * l.fanOut));
    const preOffset = next(rows * layers[0].fanOut);
    if (offset > memory.buffer.byteLength) {
      memory.grow(Math.ceil((offset - memory.buffer.byteLength) / 65536));
    }
    params = at(0, total);
    grads = at(bytes, total);
    m = at(2 * bytes, total);
    v = at(3 * bytes, total);
    acts = layers.map((l, i) => at(actOffsets[i], rows * l.fanOut));
    deltas = layers.map((l, i) => at(deltaOffsets[i], rows * l.fanOut));
    firstPre = at(preOffset, rows * layers[0].fanOut);
    ones = new Float32Array(rows).fill(1);
  };

  let step = 0;
  let metrics: StepMetrics = { steps: 0, lossSum: 0, correct: 0, rows: 0 };
  let disposed = false;

  const masks = (n: number, index: number): (Float32Array | null)[] =>
    layers.slice(0, -1).map((l, layer) =>
      dropout > 0
        ? dropoutMaskValues(n, l.fanOut, {
          rate: dropout,
          seed: config.seed,
          step: index,
          layer,
        })
        : null
    );

  function run(batch: Batch): void {
    if (disposed) throw new ModelError("native step used after dispose()");
    const b = batch.rows;
    const fanIn0 = layers[0].fanIn;
    if (batch.x.length < b * fanIn0 || batch.y.length < b || b < 1) {
      throw new ModelError(
        `native step: a batch of ${b} rows needs ${
          b * fanIn0
        } features and ${b} labels`,
      );
    }
    const n = rdrop ? 2 * b : b;
    ensure(n);
    const x = batch.x.subarray(0, b * fanIn0);
    const y = batch.y.subarray(0, b);
    const dropMasks = simd ? [] : masks(n, step);
    const last = layers.length - 1;

    // Forward.
    for (let l = 0; l <= last; l++) {
      const { fanIn, fanOut } = layers[l];
      const input = l === 0 ? x : acts[l - 1];
      const rowsIn = l === 0 ? b : n;
      const out = l === 0 && rdrop ? firstPre : acts[l];
      blas.sgemm({
        transA: false,
        transB: false,
        m: rowsIn,
        n: fanOut,
        k: fanIn,
        alpha: 1,
        a: input,
        lda: fanIn,
        b: weight(params, l),
        ldb: fanOut,
        beta: 0,
        c: out,
        ldc: fanOut,
      });
      const bl = bias(params, l);
      const h = acts[l];
      if (l === last) {
        for (let r = 0; r < n; r++) {
          const o = r * fanOut;
          for (let c = 0; c < fanOut; c++) h[o + c] += bl[c];
        }
        break;
      }
      if (simd) {
        kernels.dropout_relu(
          out.byteOffset,
          bl.byteOffset,
          h.byteOffset,
          n,
          fanOut,
          rowsIn,
          deriveSeed(config.seed, step, l) | 0,
          threshold,
          keep,
        );
        continue;
      }
      const mask = dropMasks[l];
      for (let r = 0; r < n; r++) {
        const o = r * fanOut;
        const src = l === 0 && rdrop ? (r % b) * fanOut : o;
        for (let c = 0; c < fanOut; c++) {
          const z = out[src + c] + bl[c];
          const a = z > 0 ? z : 0;
          h[o + c] = mask === null ? a : a * mask[o + c];
        }
      }
    }

    // Loss head.
    const classes = layers[last].fanOut;
    const head = lossHead(acts[last].subarray(0, n * classes), y, {
      rows: n,
      classes,
      mode: config.mode,
      alpha: config.alpha,
      dLogits: deltas[last],
    });

    // Backward.
    for (let l = last; l >= 0; l--) {
      const { fanIn, fanOut } = layers[l];
      let d = deltas[l];
      let rows = n;
      if (l === 0 && rdrop) {
        // Both copies share layer 0's input: their deltas are summed (in place, into the
        // first copy's, which nothing reads afterwards) and multiplied once.
        const half = b * fanOut;
        d = d.subarray(0, half);
        blas.saxpy(1, deltas[l].subarray(half, 2 * half), d);
        rows = b;
      }
      const input = l === 0 ? x : acts[l - 1];
      blas.sgemm({
        transA: true,
        transB: false,
        m: fanIn,
        n: fanOut,
        k: rows,
        alpha: 1,
        a: input,
        lda: fanIn,
        b: d,
        ldb: fanOut,
        beta: 0,
        c: weight(grads, l),
        ldc: fanOut,
      });
      // The bias gradient: the deltas' column sums, d^T @ 1.
      blas.sgemv({
        trans: true,
        m: rows,
        n: fanOut,
        alpha: 1,
        a: d,
        lda: fanOut,
        x: ones.subarray(0, rows),
        beta: 0,
        y: bias(grads, l),
      });
      if (l === 0) break;
      const prev = deltas[l - 1];
      blas.sgemm({
        transA: false,
        transB: true,
        m: n,
        n: fanIn,
        k: fanOut,
        alpha: 1,
        a: deltas[l],
        lda: fanOut,
        b: weight(params, l),
        ldb: fanOut,
        beta: 0,
        c: prev,
        ldc: fanIn,
      });
      // d relu(z) * mask / dz = mask where the unit is active (its output is > 0).
      const h = acts[l - 1];
      const count = n * fanIn;
      if (simd) {
        kernels.dropout_relu_grad(prev.byteOffset, h.byteOffset, count, keep);
        continue;
      }
      const mask = dropMasks[l - 1];
      if (mask === null) {
        for (let i = 0; i < count; i++) if (!(h[i] > 0)) prev[i] = 0;
      } else {
        for (let i = 0; i < count; i++) {
          prev[i] = h[i] > 0 ? prev[i] * mask[i] : 0;
        }
      }
    }

    // Adam over all parameters at once (padding stays zero: zero gradient, zero moments).
    const scalars = adamScalars({
      t: step + 1,
      learningRate: config.learningRate,
      ...ADAM_CONSTANTS,
    }) as [number, number, number, number, number, number, number];
    kernels.adam(0, bytes, 2 * bytes, 3 * bytes, 0, total, ...scalars);

    step++;
    metrics.steps++;
    metrics.lossSum += head.loss;
    metrics.correct += head.correct;
    metrics.rows += n;
  }

  /** Evaluation-mode forward pass (no dropout) over plain arrays. */
  function predictLogits(input: Float32Array, rows: number): Float32Array {
    let h = input;
    for (let l = 0; l < layers.length; l++) {
      const { fanIn, fanOut } = layers[l];
      const out = new Float32Array(rows * fanOut);
      blas.sgemm({
        transA: false,
        transB: false,
        m: rows,
        n: fanOut,
        k: fanIn,
        alpha: 1,
        a: h,
        lda: fanIn,
        b: weight(params, l),
        ldb: fanOut,
        beta: 0,
        c: out,
        ldc: fanOut,
      });
      const bl = bias(params, l);
      const hidden = l + 1 < layers.length;
      for (let r = 0; r < rows; r++) {
        const o = r * fanOut;
        for (let c = 0; c < fanOut; c++) {
          const z = out[o + c] + bl[c];
          out[o + c] = hidden && !(z > 0) ? 0 : z;
        }
      }
      h = out;
    }
    return h;
  }

  const copies = (buffer: Float32Array) =>
    regions.map((_, i) => view(buffer, i).slice());

  return {
    kind: "native",
    run,
    predictLogits,
    takeMetrics() {
      const out = metrics;
      metrics = { steps: 0, lossSum: 0, correct: 0, rows: 0 };
      return Promise.resolve(out);
    },
    getValues: () => Promise.resolve(copies(params)),
    getState: () => Promise.resolve({ step, m: copies(m), v: copies(v) }),
    restore(vals: Float32Array[], state: AdamState) {
      checkValues(vals);
      checkValues(state.m);
      checkValues(state.v);
      if (!Number.isInteger(state.step) || state.step < 0) {
        throw new ModelError(`Adam state has a bad step count ${state.step}`);
      }
      setValues(vals);
      state.m.forEach((a, i) => m.set(a, regions[i][0]));
      state.v.forEach((a, i) => v.set(a, regions[i][0]));
      step = state.step;
    },
    dispose() {
      disposed = true;
      acts = [];
      deltas = [];
    },
  };
}
