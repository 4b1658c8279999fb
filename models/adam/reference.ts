/**
 * Adam in plain TypeScript: the readable reference the kernels are tested against.
 *
 * @module
 */

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
