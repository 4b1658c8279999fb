/**
 * The loss head of the tfjs step: as tfjs ops (any backend) or, on CPU-memory backends, the
 * host loss head (loss_head.ts) over feature-major logits.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "./errors.ts";
import { lossHead } from "./loss_head.ts";

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
