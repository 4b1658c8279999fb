/**
 * A plain, readable training step (autodiff through `tf.variableGrads`, Adam as tfjs ops).
 *
 * It is the correctness reference for the optimised step in `train_step.ts` and the
 * fallback the trainer uses when that one is not available. Its interfaces are the same
 * (structurally) as `train_step.ts`'s.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { nllLoss, rDropLoss } from "./losses.ts";
import type { MlpParams } from "./mlp.ts";
import {
  type AdamState,
  dropoutMaskValues,
  type TrainStep,
  type TrainStepOptions,
} from "./train_step.ts";

/** Options of a training step: the same as the optimised step's. */
export type StepOptions = TrainStepOptions;
/** Adam's state; `m` and `v` in the order w0, b0, w1, b1, .... */
export type StepState = AdamState;
/** One optimiser step at a time over the model's variables. */
export type Step = TrainStep;

/**
 * Inverted-dropout keep mask `[rows, cols]` (values 0 or 1/(1-rate)) as a pure function of
 * `(seed, step, layer)`: the same hashed masks as `train_step.ts` draws, so the two steps
 * can be compared with dropout on, and identical on every backend.
 */
export function dropoutMask(
  rows: number,
  cols: number,
  options: { rate: number; seed: number; step: number; layer: number },
): tf.Tensor2D {
  return tf.tensor2d(dropoutMaskValues(rows, cols, options), [rows, cols]);
}

/**
 * `x @ w + b` with a gradient that transposes explicitly before multiplying: on the wasm
 * backend a matMul with a transposed operand is several times slower than a transpose
 * followed by a plain matMul. With `inputGradient: false` the gradient for `x` is zeros
 * (for the network's input, which needs none).
 */
export function linear(
  x: tf.Tensor2D,
  layer: { weight: tf.Tensor2D; bias: tf.Tensor1D },
  options: { inputGradient?: boolean } = {},
): tf.Tensor2D {
  const inputGradient = options.inputGradient ?? true;
  const op = tf.customGrad((xi, wi, bi, save) => {
    const [xt, wt, bt] = [
      xi as tf.Tensor2D,
      wi as tf.Tensor2D,
      bi as tf.Tensor1D,
    ];
    (save as tf.GradSaveFunc)([xt, wt]);
    return {
      value: tf.add(tf.matMul(xt, wt), bt),
      gradFunc: (dy, saved) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        const d = dy as tf.Tensor2D;
        return [
          // The network's input needs no gradient; zeros are far cheaper than a matMul.
          inputGradient ? tf.matMul(d, tf.transpose(ws)) : tf.zerosLike(xs),
          tf.matMul(tf.transpose(xs), d),
          tf.sum(d, 0),
        ];
      },
    };
  });
  return op(x, layer.weight, layer.bias) as tf.Tensor2D;
}

/**
 * Logits in training mode: dropout after each hidden layer with masks that are a pure
 * function of `(seed, step, layer)`.
 */
export function forwardTrain(
  params: MlpParams,
  x: tf.Tensor2D,
  options: { dropout: number; seed: number; step: number },
): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    const last = params.weights.length - 1;
    for (let layer = 0; layer <= last; layer++) {
      h = linear(h, {
        weight: params.weights[layer],
        bias: params.biases[layer],
      }, {
        inputGradient: layer > 0,
      });
      if (layer < last) {
        h = tf.relu(h);
        if (options.dropout > 0) {
          h = tf.mul(
            h,
            dropoutMask(h.shape[0], h.shape[1], {
              rate: options.dropout,
              seed: options.seed,
              step: options.step,
              layer,
            }),
          );
        }
      }
    }
    return h;
  });
}

/** A training step built from plain tfjs ops and autodiff. */
export function createReferenceStep(
  params: MlpParams,
  options: StepOptions,
): Step {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  const vars: tf.Variable[] = params.weights.flatMap((
    w,
    i,
  ) => [w, params.biases[i]]);
  // tidy frees the zeros; the variables (never tracked by tidy) keep their own reference.
  const m = vars.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  const v = vars.map((p) => tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  let step = 0;

  return {
    run(x, y) {
      const index = step;
      const loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          if (options.mode === "rdrop") {
            const logits = forwardTrain(params, tf.concat([x, x], 0), {
              dropout: options.dropout,
              seed: options.seed,
              step: index,
            });
            return rDropLoss(logits, y, { alpha: options.alpha });
          }
          const logits = forwardTrain(params, x, {
            dropout: options.dropout,
            seed: options.seed,
            step: index,
          });
          return nllLoss(logits, y);
        }, vars);
        const t = index + 1;
        const stepSize = options.learningRate / (1 - beta1 ** t);
        const correction2 = Math.sqrt(1 - beta2 ** t);
        vars.forEach((p, i) => {
          const g = grads[p.name];
          const mi = tf.add(tf.mul(m[i], beta1), tf.mul(g, 1 - beta1));
          const vi = tf.add(
            tf.mul(v[i], beta2),
            tf.mul(tf.square(g), 1 - beta2),
          );
          m[i].assign(mi);
          v[i].assign(vi);
          // PyTorch's form: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
          const denom = tf.add(tf.div(tf.sqrt(vi), correction2), epsilon);
          p.assign(tf.sub(p, tf.mul(tf.div(mi, denom), stepSize)));
        });
        return value;
      });
      step++;
      return loss;
    },
    async getState() {
      const read = (ts: tf.Variable[]) =>
        Promise.all(
          ts.map(async (t) => Float32Array.from(await t.data<"float32">())),
        );
      return { step, m: await read(m), v: await read(v) };
    },
    setState(state) {
      if (state.m.length !== vars.length || state.v.length !== vars.length) {
        throw new Error(
          `Adam state has ${state.m.length} moments, the model ${vars.length}`,
        );
      }
      tf.tidy(() => {
        vars.forEach((p, i) => {
          m[i].assign(tf.tensor(state.m[i], p.shape));
          v[i].assign(tf.tensor(state.v[i], p.shape));
        });
      });
      step = state.step;
    },
    dispose() {
      for (const t of [...m, ...v]) t.dispose();
    },
  };
}
