/**
 * The fast training step: forward, hand-written backward and Adam for the MLP, with the
 * same math as the PyTorch reference (NLL mean or the R-Drop loss, Adam with bias
 * correction in PyTorch's form).
 *
 * Why it is written by hand instead of through `tf.variableGrads` + `tf.train.adam`
 * (measured on the wasm backend with `deno task bench -- --variants`):
 * - tfjs-backend-wasm runs a matMul through XNNPACK only when neither operand is
 *   transposed (a transposed one falls back to a naive loop, 10-20x slower), and XNNPACK
 *   re-packs the RIGHT operand whenever it is a new tensor, which for a weight that changes
 *   every step costs more than the multiplication. So activations are kept feature-major
 *   (`[features, N]`) and the weights are always the LEFT operand: forward
 *   `z^T = W^T @ h^T`, backward `dh^T = W @ dz^T`, `dW = h^T @ dz`. A transposed copy of each
 *   weight is kept in step with it; only small `[N, k]` tensors are transposed per step.
 * - Adam over 670k parameters as tfjs ops (~12 per variable) costs about as much as the
 *   whole forward and backward pass. On wasm it runs in a 1 KB WebAssembly SIMD kernel
 *   that imports tfjs' own wasm memory and updates the heap in place (no copies), writing
 *   the new weights and their transposes; on the cpu backend the same kernel works on
 *   copies; on WebGPU Adam runs as tfjs ops.
 * - The loss head (log-softmax, NLL, KL and d loss / d logits in closed form) is one JS
 *   pass on CPU-memory backends instead of ~25 tiny ops; tfjs ops elsewhere.
 * - Updated weights are always fresh tensors (never written in place): the wasm backend
 *   caches XNNPACK operators keyed by the weight tensor's id.
 * - Dropout keep masks are hashed on the CPU from `(seed, step, layer, position)`, so they
 *   are a pure function of the step index (resuming reproduces them) and identical on every
 *   backend.
 *
 * R-Drop runs ONE forward pass over the batch concatenated with itself (`[2B, 784]`); the
 * first layer's pre-activation, identical for both copies, is computed once.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { MlpParams } from "./mlp.ts";
import { dropoutMaskValues } from "./dropout.ts";
import { ModelError } from "./errors.ts";
import { lossHead } from "./loss_head.ts";
import {
  type AdamHyper,
  adamScalars,
  instantiateKernels,
  type KernelExports,
  transposeKernel,
} from "./kernels/mod.ts";

/**
 * Rows `start .. start + size - 1` of `x` (any rank, rows = first axis) as a new tensor.
 *
 * Use this instead of `tf.slice` to cut batches out of a dataset held on the device: on
 * tfjs-backend-wasm 4.22 `tf.slice` first copies the WHOLE input out of the heap
 * (`readSync`), i.e. 188 MB per batch for the Fashion-MNIST training set (~60 ms) and
 * 33 MB (~45 ms) for a 10k-row slice, more than the training step itself. Here the rows
 * are copied heap to heap; other backends use `tf.slice`.
 */
export function sliceRows<T extends tf.Tensor>(
  x: T,
  start: number,
  size: number,
): T {
  const rows = x.shape[0] ?? 0;
  if (
    !(Number.isInteger(start) && Number.isInteger(size)) || start < 0 ||
    size < 0 ||
    start + size > rows
  ) {
    throw new ModelError(
      `sliceRows: rows ${start}..${
        start + size - 1
      } are outside a tensor of ${rows} rows`,
    );
  }
  const heap = heapBackend();
  if (!heap || (x.dtype !== "float32" && x.dtype !== "int32")) {
    const begin = x.shape.map((_, i) => (i === 0 ? start : 0));
    const sizes = x.shape.map((d, i) => (i === 0 ? size : d));
    return tf.slice(x, begin, sizes) as T;
  }
  const shape = [size, ...x.shape.slice(1)];
  const rowSize = rows === 0 ? 0 : x.size / rows;
  // Allocate first: growing the heap would detach the source view.
  const out = heap.makeOutput(shape, x.dtype);
  const source: Float32Array | Int32Array = heap.typedArrayFromHeap(x);
  const target: Float32Array | Int32Array = heap.typedArrayFromHeap(out);
  target.set(source.subarray(start * rowSize, (start + size) * rowSize));
  return tf.engine().makeTensorFromTensorInfo(out) as T;
}

export { dropoutMaskValues } from "./dropout.ts";

/** Options of {@linkcode createTrainStep}. */
export interface TrainStepOptions {
  /** "baseline": NLL of one pass; "rdrop": R-Drop loss of two passes over `[x; x]`. */
  mode: "baseline" | "rdrop";
  /** Weight of the symmetric KL term (R-Drop only; KL summed over batch and classes). */
  alpha: number;
  /** Dropout rate after each hidden layer (0 disables dropout). */
  dropout: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Adam beta1 (default 0.9, PyTorch's). */
  beta1?: number;
  /** Adam beta2 (default 0.999, PyTorch's). */
  beta2?: number;
  /** Adam epsilon (default 1e-8, PyTorch's). */
  epsilon?: number;
  /** Seed of the dropout masks. */
  seed: number;
  /** KL reduction of the R-Drop loss: "sum" (default, as the reference) or "batchmean". */
  reduction?: "sum" | "batchmean";
  /**
   * Where Adam runs: "host" = the WebAssembly SIMD kernel over CPU-visible buffers (wasm,
   * cpu), "device" = tfjs ops (any backend). Default: "host" on wasm and cpu, else "device".
   */
  adam?: "host" | "device";
  /**
   * Where the loss and its logit gradient are computed: "host" = one JS pass (wasm, cpu),
   * "device" = tfjs ops. Default: "host" on wasm and cpu, else "device".
   */
  head?: "host" | "device";
}

/** Adam's state; `m` and `v` in the order w0, b0, w1, b1, .... */
export interface AdamState {
  /** Number of steps taken so far (the next step uses index `step`, Adam's t = step + 1). */
  step: number;
  /** First moments. */
  m: Float32Array[];
  /** Second moments. */
  v: Float32Array[];
}

/** One optimiser step at a time over the model's variables. */
export interface TrainStep {
  /** Runs one Adam step on the batch; the returned loss stays on the device (caller disposes). */
  run(x: tf.Tensor2D, y: tf.Tensor1D): tf.Scalar;
  /**
   * {@linkcode run} that also returns the number of rows whose arg-max logit was the label
   * (R-Drop: over both passes), on the device (caller disposes both); optional.
   */
  runCounting?(
    x: tf.Tensor2D,
    y: tf.Tensor1D,
  ): { loss: tf.Scalar; correct: tf.Scalar };
  /** Copies Adam's state (step count and moments). */
  getState(): Promise<AdamState>;
  /** Restores Adam's state (e.g. from a checkpoint); masks continue from `state.step`. */
  setState(state: AdamState): void;
  /** Frees the step's own tensors (not the model's variables). */
  dispose(): void;
}

/**
 * One PyTorch-style Adam update of `param` in place over plain arrays, writing the new
 * parameter values to `out` (which may be `param`). `t` is Adam's 1-based step.
 */
export function adamUpdate(
  buffers: {
    param: Float32Array;
    grad: Float32Array;
    m: Float32Array;
    v: Float32Array;
    out: Float32Array;
  },
  options: {
    t: number;
    learningRate: number;
    beta1: number;
    beta2: number;
    epsilon: number;
  },
): void {
  const { param, grad, m, v, out } = buffers;
  const { t, beta1, beta2, epsilon } = options;
  const stepSize = options.learningRate / (1 - beta1 ** t);
  const invCorrection2 = 1 / Math.sqrt(1 - beta2 ** t);
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const n = param.length;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    // PyTorch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
    out[i] = param[i] -
      stepSize * mi / (Math.sqrt(vi) * invCorrection2 + epsilon);
  }
}

/** Result of {@linkcode lossAndGradient}: the scalar loss and d loss / d logits. */
export interface LossAndGradient {
  /** The loss (NLL mean, or the R-Drop loss). */
  loss: tf.Scalar;
  /** Gradient of the loss with respect to the logits, same shape as the logits. */
  dLogits: tf.Tensor2D;
}

/**
 * The loss and its gradient with respect to the logits, in closed form.
 *
 * Baseline: `d/dz mean NLL = (p - onehot) / B`. R-Drop (logits `[2B, C]`, halves 1 and 2):
 * with `D = logp1 - logp2`, the symmetric KL `0.5 * sum (p1 - p2) * D` has gradient
 * `0.5 * (p1 * (D - <p1, D>) + (p1 - p2))` for pass 1 and the mirror image for pass 2.
 */
export function lossAndGradient(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: {
    mode: "baseline" | "rdrop";
    alpha: number;
    reduction?: "sum" | "batchmean";
  },
): LossAndGradient {
  return tf.tidy(() => {
    const [rows, classes] = logits.shape;
    const batch = labels.shape[0];
    const logp = tf.logSoftmax(logits);
    const p = tf.exp(logp);
    const y = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
    if (options.mode === "baseline") {
      if (rows !== batch) {
        throw new ModelError(
          `baseline step: logits have ${rows} rows but labels ${batch}`,
        );
      }
      const onehot = tf.oneHot(y, classes);
      const loss = tf.div(
        tf.neg(tf.sum(tf.mul(onehot, logp))),
        batch,
      ) as tf.Scalar;
      const dLogits = tf.div(tf.sub(p, onehot), batch) as tf.Tensor2D;
      return { loss, dLogits };
    }
    if (rows !== 2 * batch) {
      throw new ModelError(
        `R-Drop step: logits have ${rows} rows but labels ${batch}; logits must be [2B, C]`,
      );
    }
    const onehot = tf.oneHot(tf.concat([y, y]), classes);
    const nll = tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), rows);
    const [logp1, logp2] = tf.split(logp, 2, 0);
    const [p1, p2] = tf.split(p, 2, 0);
    const d = tf.sub(logp1, logp2);
    const delta = tf.sub(p1, p2);
    const k = options.alpha * 0.5 /
      (options.reduction === "batchmean" ? batch : 1);
    const loss = tf.add(nll, tf.mul(tf.sum(tf.mul(delta, d)), k)) as tf.Scalar;
    // E = [D; -D], F = [delta; -delta]: gradient of the KL term is k * (P*(E - <P,E>) + F).
    const e = tf.concat([d, tf.neg(d)]);
    const f = tf.concat([delta, tf.neg(delta)]);
    const pe = tf.mul(p, e);
    const kl = tf.add(tf.sub(pe, tf.mul(p, tf.sum(pe, 1, true))), f);
    const dLogits = tf.add(
      tf.div(tf.sub(p, onehot), rows),
      tf.mul(kl, k),
    ) as tf.Tensor2D;
    return { loss, dLogits };
  });
}

/**
 * A tensor's values as a typed array without a device round trip: a view on the wasm heap
 * (valid until the next allocation), or the cpu backend's own array. Only for CPU-memory
 * backends.
 */
function hostView(t: tf.Tensor): Float32Array | Int32Array {
  const heap = heapBackend();
  if (heap) return heap.typedArrayFromHeap(t) as Float32Array | Int32Array;
  return t.dataSync() as Float32Array | Int32Array;
}

/**
 * {@linkcode lossAndGradient} in plain JS (float64 arithmetic) from feature-major logits
 * `[classes, rows]`; returns d loss / d logits in both layouts.
 */
export function hostLossAndGradient(
  logitsT: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: {
    rows: number;
    classes: number;
    mode: "baseline" | "rdrop";
    alpha: number;
    reduction?: "sum" | "batchmean";
  },
): {
  loss: number;
  correct: number;
  dLogits: Float32Array;
  dLogitsT: Float32Array;
} {
  const { rows, classes } = options;
  const logits = new Float32Array(rows * classes);
  for (let c = 0; c < classes; c++) {
    for (let r = 0; r < rows; r++) {
      logits[r * classes + c] = logitsT[c * rows + r];
    }
  }
  const dLogits = new Float32Array(rows * classes);
  const { loss, correct } = lossHead(logits, labels, { ...options, dLogits });
  const dLogitsT = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < classes; c++) {
      dLogitsT[c * rows + r] = dLogits[r * classes + c];
    }
  }
  return { loss, correct, dLogits, dLogitsT };
}

/** Loss and parameter gradients of one batch (no update), for tests and the step itself. */
export interface StepGradients {
  /** The loss of the batch. */
  loss: tf.Scalar;
  /** Gradients in the order w0, b0, w1, b1, ... (weights `[fanIn, fanOut]`). */
  grads: tf.Tensor[];
  /** Rows whose arg-max logit is the label (int32 scalar). */
  correct: tf.Scalar;
}

/** The MLP's tensors as {@linkcode forwardBackward} reads them. */
export interface StepTensors {
  /** `weights[i]`: `[fanIn, fanOut]`. */
  weights: tf.Tensor2D[];
  /** `weightsT[i]`: the same values transposed, `[fanOut, fanIn]`. */
  weightsT: tf.Tensor2D[];
  /** `biases[i]`: `[fanOut]`. */
  biases: tf.Tensor1D[];
}

/**
 * Forward and hand-written backward pass of the MLP. Activations are kept feature-major
 * (`[features, N]`) so that both passes multiply with the big weights as the LEFT operand
 * and never transposed: forward `z^T = W^T @ h^T`, backward `dh^T = W @ dz^T`. (On wasm a
 * weight as the right operand is re-packed by XNNPACK whenever it changes, i.e. every step,
 * which costs more than the multiplication.) Only small `[N, k]` tensors are transposed.
 *
 * `x` is the batch `[B, fanIn0]`; `masksT[i]` is the keep mask of hidden layer i,
 * feature-major `[fanOut, N]` (N = B, or 2B for R-Drop), or null for no dropout.
 *
 * R-Drop is one forward pass over `[x; x]` (`[2B, fanIn0]`). Its first layer's
 * pre-activation is the same for both copies, so it is computed once and duplicated, and
 * the first weight gradient `[x; x]^T @ g` is taken as `x^T @ (g_1 + g_2)`: the same
 * values with half the work on the largest layer.
 */
export function forwardBackward(
  tensors: StepTensors,
  inputs: { x: tf.Tensor2D; y: tf.Tensor1D; masksT: (tf.Tensor2D | null)[] },
  options: {
    mode: "baseline" | "rdrop";
    alpha: number;
    reduction?: "sum" | "batchmean";
    /**
     * "host": the loss head in JS on CPU-visible memory (wasm, cpu: one pass instead of ~25
     * tiny tfjs ops); "device" (default): tfjs ops, any backend.
     */
    head?: "host" | "device";
  },
): StepGradients {
  return tf.tidy(() => {
    const { weights, weightsT, biases } = tensors;
    const last = weights.length - 1;
    const rdrop = options.mode === "rdrop";
    const linearT = (layer: number, inT: tf.Tensor2D): tf.Tensor2D => {
      const b = biases[layer];
      const zT = tf.add(
        tf.matMul(weightsT[layer], inT),
        tf.reshape(b, [b.shape[0], 1]),
      ) as tf.Tensor2D;
      return layer === 0 && rdrop ? tf.concat([zT, zT], 1) : zT;
    };
    let hT = tf.transpose(inputs.x) as tf.Tensor2D;
    const actsT: tf.Tensor2D[] = [hT];
    const gatesT: tf.Tensor2D[] = [];
    for (let layer = 0; layer < last; layer++) {
      const aT = tf.relu(linearT(layer, hT));
      const mask = inputs.masksT[layer];
      if (mask) {
        hT = tf.mul(aT, mask);
        // d (relu(z) * mask) / dz = mask where z > 0, else 0.
        gatesT.push(tf.mul(mask, tf.step(aT)));
      } else {
        hT = aT as tf.Tensor2D;
        gatesT.push(tf.step(aT) as tf.Tensor2D);
      }
      actsT.push(hT);
    }
    const logitsT = linearT(last, hT);
    // g: d loss / d z of the current layer, [N, fanOut]; gT the same feature-major.
    let loss: tf.Scalar;
    let correct: tf.Scalar;
    let g: tf.Tensor2D;
    let gT: tf.Tensor2D;
    if (options.head === "host") {
      const [classes, rows] = logitsT.shape;
      // Both views are read before anything is allocated (a growing wasm heap detaches them).
      const head = hostLossAndGradient(hostView(logitsT), hostView(inputs.y), {
        rows,
        classes,
        mode: options.mode,
        alpha: options.alpha,
        reduction: options.reduction,
      });
      loss = tf.scalar(head.loss);
      correct = tf.scalar(head.correct, "int32");
      g = tf.tensor2d(head.dLogits, [rows, classes]);
      gT = tf.tensor2d(head.dLogitsT, [classes, rows]);
    } else {
      const logits = tf.transpose(logitsT) as tf.Tensor2D;
      const out = lossAndGradient(logits, inputs.y, options);
      loss = out.loss;
      const labels = rdrop ? tf.concat([inputs.y, inputs.y]) : inputs.y;
      correct = tf.sum(
        tf.cast(
          tf.equal(tf.argMax(logits, 1), tf.cast(labels, "int32")),
          "int32",
        ),
      ) as tf.Scalar;
      g = out.dLogits;
      gT = tf.transpose(g) as tf.Tensor2D;
    }
    const grads: tf.Tensor[] = new Array(2 * weights.length);
    for (let layer = last; layer >= 0; layer--) {
      grads[2 * layer + 1] = tf.sum(g, 0);
      if (layer === 0 && rdrop) {
        // Both copies of x share the weight: sum their row gradients first.
        const [rows, cols] = g.shape;
        g = tf.reshape(tf.sum(tf.reshape(g, [2, rows / 2, cols]), 0), [
          rows / 2,
          cols,
        ]);
      }
      grads[2 * layer] = tf.matMul(actsT[layer], g);
      if (layer > 0) {
        gT = tf.mul(tf.matMul(weights[layer], gT), gatesT[layer - 1]);
        g = tf.transpose(gT) as tf.Tensor2D;
      }
    }
    return { loss, grads, correct };
  });
}

/** Writes the transpose of row-major `src` `[rows, cols]` into `dst` `[cols, rows]`. */
export function transposeInto(
  src: Float32Array,
  shape: [number, number],
  dst: Float32Array,
): void {
  const [rows, cols] = shape;
  // Blocked, so that both the reads and the strided writes stay in cache.
  const block = 32;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(r0 + block, rows);
    for (let c0 = 0; c0 < cols; c0 += block) {
      const c1 = Math.min(c0 + block, cols);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[base + c];
      }
    }
  }
}

/**
 * Adam on the wasm backend with the kernel module sharing tfjs' own wasm memory: moments
 * are tensors on the heap and the kernel reads parameters and gradients and writes the new
 * parameters (and their transposes) in place, with no copies.
 */
class HeapAdam {
  readonly #kernels: KernelExports;
  readonly #backend: HeapBackend;
  #m: tf.Tensor[];
  #v: tf.Tensor[];

  constructor(
    backend: HeapBackend,
    memory: WebAssembly.Memory,
    vars: tf.Tensor[],
  ) {
    this.#kernels = instantiateKernels(memory);
    this.#backend = backend;
    this.#m = vars.map((p) => tf.keep(tf.zeros(p.shape)));
    this.#v = vars.map((p) => tf.keep(tf.zeros(p.shape)));
  }

  #ptr(t: tf.TensorInfo): number {
    return this.#backend.dataIdMap.get(t.dataId).memoryOffset;
  }

  /** New values of parameter `i` (and their transpose when `transposed`). */
  update(
    i: number,
    param: tf.Tensor,
    grad: tf.Tensor,
    transposed: boolean,
    options: AdamHyper,
  ): { next: tf.Tensor; nextT: tf.Tensor2D | null } {
    const out = this.#backend.makeOutput(param.shape, "float32");
    const [rows, cols] = param.shape;
    const outT = transposed
      ? this.#backend.makeOutput([cols, rows], "float32")
      : null;
    const [b1, b2, c1, c2, ss, ic2, eps] = adamScalars(options);
    this.#kernels.adam(
      this.#ptr(param),
      this.#ptr(grad),
      this.#ptr(this.#m[i]),
      this.#ptr(this.#v[i]),
      this.#ptr(out),
      param.size,
      b1,
      b2,
      c1,
      c2,
      ss,
      ic2,
      eps,
    );
    if (outT) {
      transposeKernel(this.#kernels, rows, cols)(
        this.#ptr(out),
        this.#ptr(outT),
        rows,
        cols,
      );
    }
    return {
      next: tf.engine().makeTensorFromTensorInfo(out),
      nextT: outT
        ? tf.engine().makeTensorFromTensorInfo(outT) as tf.Tensor2D
        : null,
    };
  }

  /** Copies of the moments. */
  moments(): { m: Float32Array[]; v: Float32Array[] } {
    const read = (t: tf.Tensor) =>
      Float32Array.from(t.dataSync() as Float32Array);
    return { m: this.#m.map(read), v: this.#v.map(read) };
  }

  /** Overwrites the moments. */
  setMoments(m: Float32Array[], v: Float32Array[]): void {
    const replace = (old: tf.Tensor[], values: Float32Array[]) =>
      old.map((t, i) => {
        const next = tf.keep(tf.tensor(values[i], t.shape, "float32"));
        t.dispose();
        return next;
      });
    this.#m = replace(this.#m, m);
    this.#v = replace(this.#v, v);
  }

  /** Frees the moments. */
  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
  }
}

/**
 * Adam's moments for a list of parameter sizes, in a private memory of one instance of the
 * kernel module, with scratch space for one parameter, its gradient and its transpose
 * (backends whose tensors are JS arrays: copies in and out).
 */
class HostAdam {
  readonly #memory: WebAssembly.Memory;
  readonly #kernels: KernelExports;
  readonly #sizes: number[];
  readonly #m: number[] = [];
  readonly #v: number[] = [];
  readonly #p: number;
  readonly #g: number;
  readonly #t: number;

  constructor(sizes: number[]) {
    this.#memory = new WebAssembly.Memory({ initial: 1 });
    this.#kernels = instantiateKernels(this.#memory);
    this.#sizes = sizes;
    // Every region padded to 4 floats (16 bytes) for the f32x4 loop.
    const padded = (n: number) => Math.ceil(n / 4) * 16;
    let offset = 0;
    for (const n of sizes) {
      this.#m.push(offset);
      offset += padded(n);
      this.#v.push(offset);
      offset += padded(n);
    }
    const largest = Math.max(...sizes.map(padded));
    this.#p = offset;
    this.#g = offset + largest;
    this.#t = offset + 2 * largest;
    const needed = offset + 3 * largest;
    const have = this.#memory.buffer.byteLength;
    if (needed > have) this.#memory.grow(Math.ceil((needed - have) / 65536));
  }

  #view(offset: number, n: number): Float32Array {
    return new Float32Array(this.#memory.buffer, offset, n);
  }

  /**
   * Updates parameter `i` from `param` and `grad`; writes the new values to `out` and, for a
   * 2-D parameter with `outT`, their transpose to `outT`.
   */
  update(
    i: number,
    buffers: {
      param: Float32Array;
      grad: Float32Array;
      out: Float32Array;
      outT?: Float32Array;
      shape?: [number, number];
    },
    options: AdamHyper,
  ): void {
    const n = this.#sizes[i];
    this.#view(this.#p, n).set(buffers.param);
    this.#view(this.#g, n).set(buffers.grad);
    const [b1, b2, c1, c2, ss, ic2, eps] = adamScalars(options);
    this.#kernels.adam(
      this.#p,
      this.#g,
      this.#m[i],
      this.#v[i],
      this.#p,
      n,
      b1,
      b2,
      c1,
      c2,
      ss,
      ic2,
      eps,
    );
    buffers.out.set(this.#view(this.#p, n));
    if (buffers.outT && buffers.shape) {
      const [rows, cols] = buffers.shape;
      transposeKernel(this.#kernels, rows, cols)(this.#p, this.#t, rows, cols);
      buffers.outT.set(this.#view(this.#t, n));
    }
  }

  /** Copies of the moments. */
  moments(): { m: Float32Array[]; v: Float32Array[] } {
    return {
      m: this.#sizes.map((n, i) => this.#view(this.#m[i], n).slice()),
      v: this.#sizes.map((n, i) => this.#view(this.#v[i], n).slice()),
    };
  }

  /** Overwrites the moments. */
  setMoments(m: Float32Array[], v: Float32Array[]): void {
    this.#sizes.forEach((n, i) => {
      this.#view(this.#m[i], n).set(m[i]);
      this.#view(this.#v[i], n).set(v[i]);
    });
  }
}

interface HeapBackend {
  /** A view on the heap; Int32Array for int32 tensors despite the declared type. */
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  wasm: { asm?: { memory?: unknown } };
}

/** tfjs-backend-wasm's WebAssembly.Memory (the Emscripten module's), when reachable. */
function heapMemory(backend: HeapBackend): WebAssembly.Memory | null {
  const memory = backend.wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

function heapBackend(): HeapBackend | null {
  if (tf.getBackend() !== "wasm") return null;
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof backend.typedArrayFromHeap === "function" &&
      typeof backend.makeOutput === "function"
    ? backend as HeapBackend
    : null;
}

function checkOptions(params: MlpParams, options: TrainStepOptions): void {
  const bad = (what: string) => {
    throw new ModelError(`createTrainStep: ${what}`);
  };
  if (options.mode !== "baseline" && options.mode !== "rdrop") {
    bad(`mode must be "baseline" or "rdrop", got ${String(options.mode)}`);
  }
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    bad(`dropout must be in [0, 1), got ${options.dropout}`);
  }
  if (!(options.learningRate > 0)) {
    bad(`learningRate must be > 0, got ${options.learningRate}`);
  }
  if (!(options.alpha >= 0)) bad(`alpha must be >= 0, got ${options.alpha}`);
  if (
    params.weights.length === 0 ||
    params.weights.length !== params.biases.length
  ) {
    bad("params need as many biases as weights (at least one layer)");
  }
}

/**
 * Creates the optimised training step over `params` (updated in place through
 * `Variable.assign`). Adam's moments start at zero and the step index at 0.
 */
export function createTrainStep(
  params: MlpParams,
  options: TrainStepOptions,
): TrainStep {
  checkOptions(params, options);
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  const vars: tf.Variable[] = params.weights.flatMap((
    w,
    i,
  ) => [w, params.biases[i]]);
  const backendName = tf.getBackend();
  const cpuMemory = backendName === "wasm" || backendName === "cpu";
  const host = (options.adam ?? (cpuMemory ? "host" : "device")) === "host";
  const head = options.head ?? (cpuMemory ? "host" : "device");
  if ((host || head === "host") && !cpuMemory) {
    throw new ModelError(
      `createTrainStep: adam/head "host" needs the wasm or cpu backend, not ${backendName}`,
    );
  }
  const sizes = vars.map((p) => p.size);
  // Host Adam: on the wasm heap itself when its memory is reachable (no copies), else in
  // the kernel module's own memory. Device Adam keeps the moments in variables.
  const heap = host ? heapBackend() : null;
  const memory = heap ? heapMemory(heap) : null;
  const heapAdamState = heap && memory
    ? new HeapAdam(heap, memory, vars)
    : null;
  const hostAdamState = host && !heapAdamState ? new HostAdam(sizes) : null;
  const devM = host
    ? []
    : vars.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  const devV = host
    ? []
    : vars.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  // Transposed copies of the weights, kept in step with them (see forwardBackward).
  let weightsT: tf.Tensor2D[] = params.weights.map((w) =>
    tf.keep(tf.transpose(w))
  );
  let step = 0;
  let disposed = false;

  function masksFor(rows: number, index: number): (tf.Tensor2D | null)[] {
    const masks: (tf.Tensor2D | null)[] = [];
    for (let layer = 0; layer + 1 < params.weights.length; layer++) {
      if (options.dropout > 0) {
        const cols = params.weights[layer].shape[1];
        const values = dropoutMaskValues(rows, cols, {
          rate: options.dropout,
          seed: options.seed,
          step: index,
          layer,
          transposed: true,
        });
        masks.push(tf.tensor2d(values, [cols, rows]));
      } else {
        masks.push(null);
      }
    }
    return masks;
  }

  function replaceTransposed(layer: number, next: tf.Tensor2D): void {
    weightsT[layer].dispose();
    // Kept: run() may be called inside the caller's tf.tidy.
    weightsT[layer] = tf.keep(next);
  }

  function hostAdam(adamState: HostAdam, grads: tf.Tensor[], t: number): void {
    const heap = heapBackend();
    const adam = {
      t,
      learningRate: options.learningRate,
      beta1,
      beta2,
      epsilon,
    };
    vars.forEach((p, i) => {
      const isWeight = i % 2 === 0;
      const shape = p.shape as [number, number];
      const shapeT = [shape[1], shape[0]];
      let next: tf.Tensor;
      let nextT: tf.Tensor2D | null = null;
      if (heap) {
        // Allocate first: growing the wasm heap would detach views taken before.
        const info = heap.makeOutput(p.shape, "float32");
        const infoT = isWeight ? heap.makeOutput(shapeT, "float32") : null;
        adamState.update(i, {
          param: heap.typedArrayFromHeap(p),
          grad: heap.typedArrayFromHeap(grads[i]),
          out: heap.typedArrayFromHeap(info),
          outT: infoT ? heap.typedArrayFromHeap(infoT) : undefined,
          shape,
        }, adam);
        next = tf.engine().makeTensorFromTensorInfo(info);
        if (infoT) {
          nextT = tf.engine().makeTensorFromTensorInfo(infoT) as tf.Tensor2D;
        }
      } else {
        const out = new Float32Array(p.size);
        const outT = isWeight ? new Float32Array(p.size) : undefined;
        adamState.update(i, {
          param: p.dataSync() as Float32Array,
          grad: grads[i].dataSync() as Float32Array,
          out,
          outT,
          shape,
        }, adam);
        next = tf.tensor(out, p.shape, "float32");
        if (outT) nextT = tf.tensor2d(outT, shapeT as [number, number]);
      }
      p.assign(next);
      next.dispose();
      if (nextT) replaceTransposed(i / 2, nextT);
    });
  }

  function deviceAdam(grads: tf.Tensor[], t: number): void {
    const stepSize = options.learningRate / (1 - beta1 ** t);
    const correction2 = Math.sqrt(1 - beta2 ** t);
    tf.tidy(() => {
      vars.forEach((p, i) => {
        const g = grads[i];
        const mi = tf.add(tf.mul(devM[i], beta1), tf.mul(g, 1 - beta1));
        const vi = tf.add(
          tf.mul(devV[i], beta2),
          tf.mul(tf.square(g), 1 - beta2),
        );
        devM[i].assign(mi);
        devV[i].assign(vi);
        const denom = tf.add(tf.div(tf.sqrt(vi), correction2), epsilon);
        p.assign(tf.sub(p, tf.mul(tf.div(mi, denom), stepSize)));
      });
    });
    params.weights.forEach((w, layer) =>
      replaceTransposed(layer, tf.keep(tf.transpose(w)))
    );
  }

  function runCounting(
    x: tf.Tensor2D,
    y: tf.Tensor1D,
  ): { loss: tf.Scalar; correct: tf.Scalar } {
    if (disposed) throw new ModelError("train step used after dispose()");
    const index = step;
    const rdrop = options.mode === "rdrop";
    const [loss, correct, ...grads] = tf.tidy(() => {
      // R-Drop: masks for the 2B rows of [x; x] (rows B.. are the second pass).
      const masksT = masksFor(rdrop ? 2 * x.shape[0] : x.shape[0], index);
      const out = forwardBackward(
        { weights: params.weights, weightsT, biases: params.biases },
        { x, y, masksT },
        { ...options, head },
      );
      return [out.loss, out.correct, ...out.grads];
    });
    if (heapAdamState) {
      const adam = {
        t: index + 1,
        learningRate: options.learningRate,
        beta1,
        beta2,
        epsilon,
      };
      vars.forEach((p, i) => {
        const { next, nextT } = heapAdamState.update(
          i,
          p,
          grads[i],
          i % 2 === 0,
          adam,
        );
        p.assign(next);
        next.dispose();
        if (nextT) replaceTransposed(i / 2, nextT);
      });
    } else if (hostAdamState) hostAdam(hostAdamState, grads, index + 1);
    else deviceAdam(grads, index + 1);
    for (const g of grads) g.dispose();
    step++;
    return { loss: loss as tf.Scalar, correct: correct as tf.Scalar };
  }

  return {
    run(x, y) {
      const { loss, correct } = runCounting(x, y);
      correct.dispose();
      return loss;
    },
    runCounting,
    async getState() {
      if (heapAdamState) return { step, ...heapAdamState.moments() };
      if (hostAdamState) return { step, ...hostAdamState.moments() };
      const read = (ts: tf.Variable[]) =>
        Promise.all(
          ts.map(async (t) => Float32Array.from(await t.data<"float32">())),
        );
      return { step, m: await read(devM), v: await read(devV) };
    },
    setState(state) {
      const ok = state.m.length === vars.length &&
        state.v.length === vars.length &&
        sizes.every((n, i) =>
          state.m[i].length === n && state.v[i].length === n
        ) &&
        Number.isInteger(state.step) && state.step >= 0;
      if (!ok) {
        throw new ModelError(
          `Adam state does not fit this model (${state.m.length} moments for ${vars.length} ` +
            `parameters, or sizes differ); the checkpoint belongs to another configuration`,
        );
      }
      if (heapAdamState) {
        heapAdamState.setMoments(state.m, state.v);
      } else if (hostAdamState) {
        hostAdamState.setMoments(state.m, state.v);
      } else {
        tf.tidy(() => {
          vars.forEach((p, i) => {
            devM[i].assign(tf.tensor(state.m[i], p.shape));
            devV[i].assign(tf.tensor(state.v[i], p.shape));
          });
        });
      }
      // The weights may have been replaced too (a resumed run loads them before this).
      params.weights.forEach((w, layer) =>
        replaceTransposed(layer, tf.keep(tf.transpose(w)))
      );
      step = state.step;
    },
    dispose() {
      disposed = true;
      for (const t of [...devM, ...devV, ...weightsT]) t.dispose();
      heapAdamState?.dispose();
      weightsT = [];
    },
  };
}
