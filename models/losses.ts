/**
 * Losses of the reference experiment: the baseline NLL and the R-Drop loss.
 *
 * Both work from log-softmax so that nothing passes through probabilities that can
 * underflow to zero (a KL term of `p * log(0)` would be NaN).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's CommonJS bundle (what Deno loads) registers no kernel gradients, and its
// ESM gradient files use extensionless imports Deno cannot resolve; the union package
// registers them all in the global registry that tfjs-core reads.
import "@tensorflow/tfjs";

/** Options of {@linkcode rDropLoss}. */
export interface RDropLossOptions {
  /** Weight of the symmetric KL term (default 0.05, as in the reference). */
  alpha?: number;
  /**
   * "sum" (default): KL summed over batch and classes; "batchmean": that sum divided by
   * the batch size B.
   */
  reduction?: "sum" | "batchmean";
}

/**
 * Mean negative log-likelihood of the labels under `softmax(logits)`, computed from
 * log-softmax (PyTorch `cross_entropy` with mean reduction).
 *
 * @param logits `[B, C]` float logits.
 * @param labels `[B]` int32 class indices.
 */
export function nllLoss(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(tf.cast(labels, "int32"), classes);
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar;
  });
}

/**
 * The R-Drop loss of one forward pass over the batch concatenated with itself.
 *
 * `logits` is `[2B, C]`: rows `0..B-1` are pass 1, rows `B..2B-1` pass 2 (different
 * dropout masks). Returns
 * `0.5 * (NLL1 + NLL2) + alpha * 0.5 * (KL(p1||p2) + KL(p2||p1))`, with each NLL the mean
 * over the batch and each KL summed over batch and classes (divided by B when
 * `reduction` is "batchmean").
 *
 * @param logits `[2B, C]` float logits of both passes.
 * @param labels `[B]` int32 class indices.
 */
export function rDropLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: RDropLossOptions = {},
): tf.Scalar {
  const alpha = options.alpha ?? 0.05;
  const reduction = options.reduction ?? "sum";
  const [rows, classes] = logits.shape;
  const batch = labels.shape[0];
  if (rows !== 2 * batch) {
    throw new Error(
      `rDropLoss: logits have ${rows} rows but labels ${batch}; logits must be [2B, C] ` +
        `(the batch concatenated with itself)`,
    );
  }
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const logp1 = tf.slice(logp, [0, 0], [batch, classes]);
    const logp2 = tf.slice(logp, [batch, 0], [batch, classes]);
    const onehot = tf.oneHot(tf.cast(labels, "int32"), classes);
    // Mean over both passes of the per-example NLL equals 0.5 * (NLL1 + NLL2).
    const nll = tf.neg(
      tf.div(tf.sum(tf.mul(tf.concat([onehot, onehot], 0), logp)), rows),
    );
    // KL(p1||p2) + KL(p2||p1) = sum (p1 - p2) * (logp1 - logp2).
    const diff = tf.sub(logp1, logp2);
    let kl = tf.mul(
      0.5,
      tf.sum(tf.mul(tf.sub(tf.exp(logp1), tf.exp(logp2)), diff)),
    );
    if (reduction === "batchmean") kl = tf.div(kl, batch);
    return tf.add(nll, tf.mul(alpha, kl)) as tf.Scalar;
  });
}
