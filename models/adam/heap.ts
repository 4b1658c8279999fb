/**
 * Adam on tfjs-backend-wasm's own heap (see {@linkcode HeapAdam}).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type AdamHyper,
  adamScalars,
  instantiateKernels,
  type KernelExports,
  transposeKernel,
} from "../kernels/mod.ts";
import type { HeapBackend } from "../wasm_heap.ts";
import type { TensorAdam } from "./mod.ts";

/**
 * Adam on the wasm backend with the kernel module sharing tfjs' own wasm memory: moments
 * are tensors on the heap and the kernel reads parameters and gradients and writes the new
 * parameters (and their transposes) in place, with no copies.
 */
export class HeapAdam implements TensorAdam {
  readonly #kernels: KernelExports;
  readonly #backend: HeapBackend;
  readonly #vars: tf.Variable[];
  #m: tf.Tensor[];
  #v: tf.Tensor[];

  /** Moments start at zero; `heap` is the active wasm backend and `memory` its heap. */
  constructor(
    vars: tf.Variable[],
    options: { heap: HeapBackend; memory: WebAssembly.Memory },
  ) {
    this.#kernels = instantiateKernels(options.memory);
    this.#backend = options.heap;
    this.#vars = vars;
    this.#m = vars.map((p) => tf.keep(tf.zeros(p.shape)));
    this.#v = vars.map((p) => tf.keep(tf.zeros(p.shape)));
  }

  #ptr(t: tf.TensorInfo): number {
    return this.#backend.dataIdMap.get(t.dataId).memoryOffset;
  }

  /** See {@linkcode TensorAdam.update}. */
  update(grads: tf.Tensor[], hyper: AdamHyper): tf.Tensor2D[] {
    const transposes: tf.Tensor2D[] = [];
    this.#vars.forEach((p, i) => {
      const { next, nextT } = this.#updateOne(
        i,
        p,
        grads[i],
        p.rank === 2,
        hyper,
      );
      p.assign(next);
      next.dispose();
      if (nextT) transposes.push(nextT);
    });
    return transposes;
  }

  /** New values of parameter `i` (and their transpose when `transposed`). */
  #updateOne(
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
  moments(): Promise<{ m: Float32Array[]; v: Float32Array[] }> {
    const read = (t: tf.Tensor) =>
      Float32Array.from(t.dataSync() as Float32Array);
    return Promise.resolve({ m: this.#m.map(read), v: this.#v.map(read) });
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
