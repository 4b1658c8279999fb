/**
 * The loss head on host memory: log-softmax, the loss (mean NLL, plus R-Drop's symmetric
 * KL), d loss / d logits in closed form and the number of correct arg-max predictions, in
 * one pass of float64 arithmetic over row-major logits.
 *
 * Baseline: `d/dz mean NLL = (p - onehot) / B`. R-Drop (logits `[2B, C]`, halves 1 and 2):
 * with `D = logp1 - logp2`, the symmetric KL `0.5 * sum (p1 - p2) * D` has gradient
 * `0.5 * (p1 * (D - <p1, D>) + (p1 - p2))` for pass 1 and the mirror image for pass 2.
 *
 * @module
 */
import { ModelError } from "./errors.ts";
import type { TrainMode } from "./step.ts";

/** Options of {@linkcode lossHead}. */
export interface LossHeadOptions {
  /** Logit rows: B (baseline) or 2B (R-Drop: rows B.. are the second pass). */
  rows: number;
  /** Classes (logit columns). */
  classes: number;
  /** Loss mode. */
  mode: TrainMode;
  /** KL weight (R-Drop). */
  alpha: number;
  /** KL reduction: "sum" over batch and classes (the reference) or "batchmean". */
  reduction?: "sum" | "batchmean";
}

/** What {@linkcode lossHead} returns besides the gradient it writes. */
export interface LossHeadResult {
  /** The loss of the batch. */
  loss: number;
  /** Rows whose arg-max logit is the label (first maximum on ties). */
  correct: number;
}

// Scratch for log-probabilities and the gradient, grown on demand (one head per step).
let scratch = new Float64Array(0);
let gradScratch = new Float64Array(0);

/**
 * Loss, correct count and d loss / d logits (written to `dLogits`, row-major like
 * `logits`) of row-major logits `[rows, classes]`.
 */
export function lossHead(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: LossHeadOptions & { dLogits: Float32Array },
): LossHeadResult {
  const { rows, classes, dLogits } = options;
  const rdrop = options.mode === "rdrop";
  const batch = rdrop ? rows / 2 : rows;
  if (labels.length !== batch || (rdrop && rows % 2 !== 0)) {
    throw new ModelError(
      `${options.mode} step: ${rows} logit rows for ${labels.length} labels`,
    );
  }
  if (scratch.length < rows * classes) {
    scratch = new Float64Array(rows * classes);
    gradScratch = new Float64Array(rows * classes);
  }
  const logp = scratch;
  const grad = gradScratch;
  let nll = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * classes;
    let max = -Infinity;
    let best = 0;
    for (let c = 0; c < classes; c++) {
      const z = logits[o + c];
      if (z > max) {
        max = z;
        best = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[o + c] - max);
    const lse = max + Math.log(sum);
    const label = labels[r % batch];
    if (best === label) correct++;
    for (let c = 0; c < classes; c++) {
      const lp = logits[o + c] - lse;
      logp[o + c] = lp;
      grad[o + c] = (Math.exp(lp) - (c === label ? 1 : 0)) / rows;
    }
    nll -= logp[o + label];
  }
  let loss = nll / rows;
  if (rdrop) {
    const k = options.alpha * 0.5 /
      (options.reduction === "batchmean" ? batch : 1);
    let kl = 0;
    for (let r = 0; r < batch; r++) {
      const o1 = r * classes;
      const o2 = (r + batch) * classes;
      // <p1, D> and <p2, D> with D = logp1 - logp2.
      let r1 = 0;
      let r2 = 0;
      for (let c = 0; c < classes; c++) {
        const d = logp[o1 + c] - logp[o2 + c];
        r1 += Math.exp(logp[o1 + c]) * d;
        r2 += Math.exp(logp[o2 + c]) * d;
      }
      for (let c = 0; c < classes; c++) {
        const p1 = Math.exp(logp[o1 + c]);
        const p2 = Math.exp(logp[o2 + c]);
        const d = logp[o1 + c] - logp[o2 + c];
        kl += (p1 - p2) * d;
        grad[o1 + c] += k * (p1 * (d - r1) + (p1 - p2));
        grad[o2 + c] += k * (p2 * (r2 - d) - (p1 - p2));
      }
    }
    loss += k * kl;
  }
  for (let i = 0; i < rows * classes; i++) dLogits[i] = grad[i];
  return { loss, correct };
}
