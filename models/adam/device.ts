/**
 * Adam as tfjs ops, for any backend (WebGPU): the moments are variables on the device.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { AdamHyper } from "../kernels/mod.ts";
import type { TensorAdam } from "./mod.ts";

/** Adam as tfjs ops over `vars` (about a dozen ops per variable). */
export class DeviceAdam implements TensorAdam {
  readonly #vars: tf.Variable[];
  readonly #m: tf.Variable[];
  readonly #v: tf.Variable[];

  /** Moments start at zero. */
  constructor(vars: tf.Variable[]) {
    this.#vars = vars;
    // tidy frees the zeros; the variables (never tracked by tidy) keep their own reference.
    this.#m = vars.map((p) =>
      tf.tidy(() => tf.variable(tf.zerosLike(p), false))
    );
    this.#v = vars.map((p) =>
      tf.tidy(() => tf.variable(tf.zerosLike(p), false))
    );
  }

  /** See {@linkcode TensorAdam.update}. */
  update(grads: tf.Tensor[], hyper: AdamHyper): tf.Tensor2D[] {
    const { t, beta1, beta2, epsilon } = hyper;
    const stepSize = hyper.learningRate / (1 - beta1 ** t);
    const correction2 = Math.sqrt(1 - beta2 ** t);
    tf.tidy(() => {
      this.#vars.forEach((p, i) => {
        const g = grads[i];
        const mi = tf.add(tf.mul(this.#m[i], beta1), tf.mul(g, 1 - beta1));
        const vi = tf.add(
          tf.mul(this.#v[i], beta2),
          tf.mul(tf.square(g), 1 - beta2),
        );
        this.#m[i].assign(mi);
        this.#v[i].assign(vi);
        const denom = tf.add(tf.div(tf.sqrt(vi), correction2), epsilon);
        p.assign(tf.sub(p, tf.mul(tf.div(mi, denom), stepSize)));
      });
    });
    return this.#vars.filter((p) => p.rank === 2).map((w) =>
      tf.transpose(w) as tf.Tensor2D
    );
  }

  /** Copies of the moments. */
  async moments(): Promise<{ m: Float32Array[]; v: Float32Array[] }> {
    const read = (ts: tf.Variable[]) =>
      Promise.all(
        ts.map(async (t) => Float32Array.from(await t.data<"float32">())),
      );
    return { m: await read(this.#m), v: await read(this.#v) };
  }

  /** Overwrites the moments. */
  setMoments(m: Float32Array[], v: Float32Array[]): void {
    tf.tidy(() => {
      this.#vars.forEach((p, i) => {
        this.#m[i].assign(tf.tensor(m[i], p.shape));
        this.#v[i].assign(tf.tensor(v[i], p.shape));
      });
    });
  }

  /** Frees the moments. */
  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
  }
}
