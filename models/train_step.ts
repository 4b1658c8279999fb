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
 * The parts: forward_backward.ts (forward and backward), tensor_loss_head.ts and
 * loss_head.ts (the loss head), adam/ (the optimiser, one implementation per kind of
 * backend), kernels/ (the WebAssembly SIMD kernels, built from kernels.wat).
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
import { createTensorAdam, type TensorAdam } from "./adam/mod.ts";
import { forwardBackward } from "./forward_backward.ts";
import { ADAM_CONSTANTS, type AdamState, checkStepSettings } from "./step.ts";

// Re-exported for the step's users and tests: the parts it is made of.
export { adamUpdate } from "./adam/mod.ts";
export { dropoutMaskValues } from "./dropout.ts";
export {
  forwardBackward,
  type StepGradients,
  type StepTensors,
  transposeInto,
} from "./forward_backward.ts";
export {
  hostLossAndGradient,
  type LossAndGradient,
  lossAndGradient,
} from "./tensor_loss_head.ts";
export { sliceRows } from "./wasm_heap.ts";

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

export type { AdamState };

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
 * Creates the optimised training step over `params` (updated in place through
 * `Variable.assign`). Adam's moments start at zero and the step index at 0.
 */
export function createTrainStep(
  params: MlpParams,
  options: TrainStepOptions,
): TrainStep {
  checkStepSettings(options);
  if (
    params.weights.length === 0 ||
    params.weights.length !== params.biases.length
  ) {
    throw new ModelError(
      "createTrainStep: params need as many biases as weights (at least one layer)",
    );
  }
  const beta1 = options.beta1 ?? ADAM_CONSTANTS.beta1;
  const beta2 = options.beta2 ?? ADAM_CONSTANTS.beta2;
  const epsilon = options.epsilon ?? ADAM_CONSTANTS.epsilon;
  const vars: tf.Variable[] = params.weights.flatMap((
    w,
    i,
  ) => [w, params.biases[i]]);
  const backendName = tf.getBackend();
  const cpuMemory = backendName === "wasm" || backendName === "cpu";
  const adamWhere = options.adam ?? (cpuMemory ? "host" : "device");
  const head = options.head ?? (cpuMemory ? "host" : "device");
  if ((adamWhere === "host" || head === "host") && !cpuMemory) {
    throw new ModelError(
      `createTrainStep: adam/head "host" needs the wasm or cpu backend, not ${backendName}`,
    );
  }
  const sizes = vars.map((p) => p.size);
  const adam: TensorAdam = createTensorAdam(vars, { where: adamWhere });
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

  function replaceTransposed(next: tf.Tensor2D[]): void {
    weightsT.forEach((t) => t.dispose());
    // Kept: run() may be called inside the caller's tf.tidy.
    weightsT = next.map((t) => tf.keep(t));
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
    replaceTransposed(adam.update(grads, {
      t: index + 1,
      learningRate: options.learningRate,
      beta1,
      beta2,
      epsilon,
    }));
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
      return { step, ...(await adam.moments()) };
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
      adam.setMoments(state.m, state.v);
      // The weights may have been replaced too (a resumed run loads them before this).
      replaceTransposed(params.weights.map((w) => tf.transpose(w)));
      step = state.step;
    },
    dispose() {
      disposed = true;
      weightsT.forEach((t) => t.dispose());
      adam.dispose();
      weightsT = [];
    },
  };
}
