/**
 * Forward and hand-written backward pass of the MLP in tfjs ops, laid out for
 * tfjs-backend-wasm's fast paths (see {@linkcode forwardBackward}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { hostView } from "./wasm_heap.ts";
import { hostLossAndGradient, lossAndGradient } from "./tensor_loss_head.ts";

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
