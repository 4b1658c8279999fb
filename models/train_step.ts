/**
 * The fast training step: forward, hand-written backward and Adam for the MLP, with the
 * same math as the PyTorch reference (NLL mean or the R-Drop loss, Adam with bias
 * correction in PyTorch's form).
 *
 * Why it is written by hand instead of through `tf.variableGrads` + `tf.train.adam`
 * (all measured on the wasm backend, see `bench/`):
 * - tfjs-backend-wasm runs a matMul through XNNPACK only when neither operand is
 *   transposed; a transposed operand falls back to a naive loop that is 10-20x slower.
 *   Autodiff of `x @ W` produces `x^T dy` and `dy W^T`; here every matMul is non-transposed
 *   and only small `[N, k]` activations/gradients are transposed explicitly
 *   (`dh^T = W @ dz^T` instead of `dz @ W^T`, so the big W is never copied).
 * - Adam over 670k parameters as ~12 separate tfjs ops per variable costs more than the
 *   whole forward pass; on the CPU-memory backends (wasm, cpu) it runs as one fused loop in
 *   JS over the parameter, gradient and moment buffers instead (the moments live in JS
 *   memory, so `getState` reads nothing from the device). On WebGPU it runs as tfjs ops.
 * - Updated weights are always fresh tensors (never written in place): the wasm backend
 *   caches XNNPACK operators with pre-packed weights keyed by the weight tensor's id.
 * - Dropout keep masks are hashed on the CPU from `(seed, step, layer, index)`, so they are
 *   a pure function of the step index (resuming reproduces them) and identical on every
 *   backend.
 *
 * R-Drop runs ONE forward pass over the batch concatenated with itself (`[2B, 784]`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { MlpParams } from "./mlp.ts";
import { deriveSeed } from "./random.ts";
import { ModelError } from "./errors.ts";

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
   * Where Adam runs: "host" = one fused JS loop over CPU-visible buffers (wasm, cpu),
   * "device" = tfjs ops (any backend). Default: "host" on wasm and cpu, else "device".
   */
  adam?: "host" | "device";
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
  /** Copies Adam's state (step count and moments). */
  getState(): Promise<AdamState>;
  /** Restores Adam's state (e.g. from a checkpoint); masks continue from `state.step`. */
  setState(state: AdamState): void;
  /** Frees the step's own tensors (not the model's variables). */
  dispose(): void;
}

/**
 * Inverted-dropout keep mask values `[rows * cols]` (0 or `1/(1-rate)`) as a pure function of
 * `(seed, step, layer)` and the element index: a counter-based hash, no generator state.
 */
export function dropoutMaskValues(
  rows: number,
  cols: number,
  options: {
    rate: number;
    seed: number;
    step: number;
    layer: number;
    /** Write the mask feature-major (`[cols, rows]`); element (r, c) is the same value. */
    transposed?: boolean;
  },
): Float32Array {
  const { rate } = options;
  const out = new Float32Array(rows * cols);
  if (!(rate > 0)) return out.fill(1);
  const key = deriveSeed(options.seed, options.step, options.layer) | 0;
  const keep = 1 / (1 - rate);
  // Compare on 32 bits: P(hash >= threshold) = 1 - rate (to 2^-32).
  const threshold = Math.min(Math.round(rate * 2 ** 32), 2 ** 32 - 1);
  const transposed = options.transposed === true;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // murmur3 finaliser of (key + golden-ratio counter of the element (r, c)).
      let h = (key + Math.imul(r * cols + c + 1, 0x9e3779b9)) | 0;
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      h ^= h >>> 16;
      out[transposed ? c * rows + r : r * cols + c] = (h >>> 0) >= threshold ? keep : 0;
    }
  }
  return out;
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

/** Loss and parameter gradients of one batch (no update), for tests and the step itself. */
export interface StepGradients {
  /** The loss of the batch. */
  loss: tf.Scalar;
  /** Gradients in the order w0, b0, w1, b1, ... (weights `[fanIn, fanOut]`). */
  grads: tf.Tensor[];
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
 * `x` is `[N, fanIn0]` (already `[x; x]` for R-Drop); `masksT[i]` is the keep mask of
 * hidden layer i, feature-major `[fanOut, N]`, or null for no dropout.
 */
export function forwardBackward(
  tensors: StepTensors,
  inputs: { x: tf.Tensor2D; y: tf.Tensor1D; masksT: (tf.Tensor2D | null)[] },
  options: { mode: "baseline" | "rdrop"; alpha: number; reduction?: "sum" | "batchmean" },
): StepGradients {
  return tf.tidy(() => {
    const { weights, weightsT, biases } = tensors;
    const last = weights.length - 1;
    const column = (b: tf.Tensor1D) => tf.reshape(b, [b.shape[0], 1]);
    let hT = tf.transpose(inputs.x) as tf.Tensor2D;
    const actsT: tf.Tensor2D[] = [hT];
    const gatesT: tf.Tensor2D[] = [];
    for (let layer = 0; layer < last; layer++) {
      const aT = tf.relu(tf.add(tf.matMul(weightsT[layer], hT), column(biases[layer])));
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
    const logitsT = tf.add(tf.matMul(weightsT[last], hT), column(biases[last]));
    const { loss, dLogits } = lossAndGradient(
      tf.transpose(logitsT) as tf.Tensor2D,
      inputs.y,
      options,
    );
    const grads: tf.Tensor[] = new Array(2 * weights.length);
    // g: d loss / d z of the current layer, [N, fanOut]; gT the same feature-major.
    let g: tf.Tensor2D = dLogits;
    let gT = tf.transpose(g) as tf.Tensor2D;
    for (let layer = last; layer >= 0; layer--) {
      grads[2 * layer] = tf.matMul(actsT[layer], g);
      grads[2 * layer + 1] = tf.sum(g, 0);
      if (layer > 0) {
        gT = tf.mul(tf.matMul(weights[layer], gT), gatesT[layer - 1]);
        g = tf.transpose(gT) as tf.Tensor2D;
      }
    }
    return { loss, grads };
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

interface HeapBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
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
  const vars: tf.Variable[] = params.weights.flatMap((w, i) => [w, params.biases[i]]);
  const backendName = tf.getBackend();
  const host = (options.adam ?? (backendName === "wasm" || backendName === "cpu"
    ? "host"
    : "device")) === "host";
  const sizes = vars.map((p) => p.size);
  // Host Adam keeps the moments in JS memory; device Adam in variables.
  let hostM = sizes.map((n) => new Float32Array(n));
  let hostV = sizes.map((n) => new Float32Array(n));
  const devM = host ? [] : vars.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  const devV = host ? [] : vars.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  // Transposed copies of the weights, kept in step with them (see forwardBackward).
  let weightsT: tf.Tensor2D[] = params.weights.map((w) => tf.keep(tf.transpose(w)));
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
    weightsT[layer] = next;
  }

  function hostAdam(grads: tf.Tensor[], t: number): void {
    const heap = heapBackend();
    const adam = { t, learningRate: options.learningRate, beta1, beta2, epsilon };
    vars.forEach((p, i) => {
      const isWeight = i % 2 === 0;
      const shape = p.shape as [number, number];
      let next: tf.Tensor;
      let nextT: tf.Tensor2D | null = null;
      if (heap) {
        // Allocate first: growing the wasm heap would detach views taken before.
        const info = heap.makeOutput(p.shape, "float32");
        const infoT = isWeight ? heap.makeOutput([shape[1], shape[0]], "float32") : null;
        const out = heap.typedArrayFromHeap(info);
        adamUpdate({
          param: heap.typedArrayFromHeap(p),
          grad: heap.typedArrayFromHeap(grads[i]),
          m: hostM[i],
          v: hostV[i],
          out,
        }, adam);
        if (infoT) {
          transposeInto(out, shape, heap.typedArrayFromHeap(infoT));
          nextT = tf.engine().makeTensorFromTensorInfo(infoT) as tf.Tensor2D;
        }
        next = tf.engine().makeTensorFromTensorInfo(info);
      } else {
        const out = new Float32Array(p.size);
        adamUpdate({
          param: p.dataSync() as Float32Array,
          grad: grads[i].dataSync() as Float32Array,
          m: hostM[i],
          v: hostV[i],
          out,
        }, adam);
        if (isWeight) {
          const outT = new Float32Array(p.size);
          transposeInto(out, shape, outT);
          nextT = tf.tensor2d(outT, [shape[1], shape[0]]);
        }
        next = tf.tensor(out, p.shape, "float32");
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
        const vi = tf.add(tf.mul(devV[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        devM[i].assign(mi);
        devV[i].assign(vi);
        const denom = tf.add(tf.div(tf.sqrt(vi), correction2), epsilon);
        p.assign(tf.sub(p, tf.mul(tf.div(mi, denom), stepSize)));
      });
    });
    params.weights.forEach((w, layer) => replaceTransposed(layer, tf.keep(tf.transpose(w))));
  }

  return {
    run(x, y) {
      if (disposed) throw new ModelError("train step used after dispose()");
      const index = step;
      const rdrop = options.mode === "rdrop";
      const [loss, ...grads] = tf.tidy(() => {
        const input = rdrop ? tf.concat([x, x], 0) as tf.Tensor2D : x;
        const masksT = masksFor(input.shape[0], index);
        const out = forwardBackward(
          { weights: params.weights, weightsT, biases: params.biases },
          { x: input, y, masksT },
          options,
        );
        return [out.loss, ...out.grads];
      });
      if (host) hostAdam(grads, index + 1);
      else deviceAdam(grads, index + 1);
      for (const g of grads) g.dispose();
      step++;
      return loss as tf.Scalar;
    },
    async getState() {
      if (host) {
        return {
          step,
          m: hostM.map((a) => a.slice()),
          v: hostV.map((a) => a.slice()),
        };
      }
      const read = (ts: tf.Variable[]) =>
        Promise.all(ts.map(async (t) => Float32Array.from(await t.data<"float32">())));
      return { step, m: await read(devM), v: await read(devV) };
    },
    setState(state) {
      const ok = state.m.length === vars.length && state.v.length === vars.length &&
        sizes.every((n, i) => state.m[i].length === n && state.v[i].length === n) &&
        Number.isInteger(state.step) && state.step >= 0;
      if (!ok) {
        throw new ModelError(
          `Adam state does not fit this model (${state.m.length} moments for ${vars.length} ` +
            `parameters, or sizes differ); the checkpoint belongs to another configuration`,
        );
      }
      if (host) {
        hostM = state.m.map((a) => Float32Array.from(a));
        hostV = state.v.map((a) => Float32Array.from(a));
      } else {
        tf.tidy(() => {
          vars.forEach((p, i) => {
            devM[i].assign(tf.tensor(state.m[i], p.shape));
            devV[i].assign(tf.tensor(state.v[i], p.shape));
          });
        });
      }
      // The weights may have been replaced too (a resumed run loads them before this).
      params.weights.forEach((w, layer) => replaceTransposed(layer, tf.keep(tf.transpose(w))));
      step = state.step;
    },
    dispose() {
      disposed = true;
      for (const t of [...devM, ...devV, ...weightsT]) t.dispose();
      weightsT = [];
    },
  };
}
