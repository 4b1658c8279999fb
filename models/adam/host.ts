/**
 * Adam with the kernel on its own memory and parameters copied in and out (see
 * {@linkcode HostAdam}).
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
import { heapBackend } from "../wasm_heap.ts";
import type { TensorAdam } from "./mod.ts";

/**
 * Adam's moments for a list of parameter sizes, in a private memory of one instance of the
 * kernel module, with scratch space for one parameter, its gradient and its transpose
 * (backends whose tensors are JS arrays: copies in and out).
 */
export class HostAdam implements TensorAdam {
  readonly #memory: WebAssembly.Memory;
  readonly #kernels: KernelExports;
  readonly #sizes: number[];
  readonly #m: number[] = [];
  readonly #v: number[] = [];
  readonly #p: number;
  readonly #g: number;
  readonly #t: number;
  readonly #vars: tf.Variable[];

  /** Moments start at zero. */
  constructor(vars: tf.Variable[]) {
    this.#vars = vars;
    const sizes = vars.map((p) => p.size);
    this.#memory = new WebAssembly.Memory({ initial: 1 });
    this.#kernels = instantiateKernels(this.#memory);
    this.#sizes = sizes;
    // Every region padded to 4 floats (16 bytes) for the f32x4 loop.
    const padded = (n: number) => Math.ceil(n / 4) * 16;
    let offset = 0;
    for (const n of sizes) {
      this.#m.push(offset);
      offset += padded(n);
      this.#v.push(offset);
      offset += padded(n);
    }
    const largest = Math.max(...sizes.map(padded));
    this.#p = offset;
    this.#g = offset + largest;
    this.#t = offset + 2 * largest;
    const needed = offset + 3 * largest;
    const have = this.#memory.buffer.byteLength;
    if (needed > have) this.#memory.grow(Math.ceil((needed - have) / 65536));
  }

  #view(offset: number, n: number): Float32Array {
    return new Float32Array(this.#memory.buffer, offset, n);
  }

  /** See {@linkcode TensorAdam.update}. */
  update(grads: tf.Tensor[], hyper: AdamHyper): tf.Tensor2D[] {
    const heap = heapBackend();
    const transposes: tf.Tensor2D[] = [];
    this.#vars.forEach((p, i) => {
      const isWeight = p.rank === 2;
      const shape = p.shape as [number, number];
      const shapeT: [number, number] = [shape[1], shape[0]];
      let next: tf.Tensor;
      if (heap) {
        // Allocate first: growing the wasm heap would detach views taken before.
        const info = heap.makeOutput(p.shape, "float32");
        const infoT = isWeight ? heap.makeOutput(shapeT, "float32") : null;
        this.#updateOne(i, {
          param: heap.typedArrayFromHeap(p),
          grad: heap.typedArrayFromHeap(grads[i]),
          out: heap.typedArrayFromHeap(info),
          outT: infoT ? heap.typedArrayFromHeap(infoT) : undefined,
          shape,
        }, hyper);
        next = tf.engine().makeTensorFromTensorInfo(info);
        if (infoT) {
          transposes.push(
            tf.engine().makeTensorFromTensorInfo(infoT) as tf.Tensor2D,
          );
        }
      } else {
        const out = new Float32Array(p.size);
        const outT = isWeight ? new Float32Array(p.size) : undefined;
        this.#updateOne(i, {
          param: p.dataSync() as Float32Array,
          grad: grads[i].dataSync() as Float32Array,
          out,
          outT,
          shape,
        }, hyper);
        next = tf.tensor(out, p.shape, "float32");
        if (outT) transposes.push(tf.tensor2d(outT, shapeT));
      }
      p.assign(next);
      next.dispose();
    });
    return transposes;
  }

  /**
   * Updates parameter `i` from `param` and `grad`; writes the new values to `out` and, for a
   * 2-D parameter with `outT`, their transpose to `outT`.
   */
  #updateOne(
    i: number,
    buffers: {
      param: Float32Array;
      grad: Float32Array;
      out: Float32Array;
      outT?: Float32Array;
      shape?: [number, number];
    },
    options: AdamHyper,
  ): void {
    const n = this.#sizes[i];
    this.#view(this.#p, n).set(buffers.param);
    this.#view(this.#g, n).set(buffers.grad);
    const [b1, b2, c1, c2, ss, ic2, eps] = adamScalars(options);
    this.#kernels.adam(
      this.#p,
      this.#g,
      this.#m[i],
      this.#v[i],
      this.#p,
      n,
      b1,
      b2,
      c1,
      c2,
      ss,
      ic2,
      eps,
    );
    buffers.out.set(this.#view(this.#p, n));
    if (buffers.outT && buffers.shape) {
      const [rows, cols] = buffers.shape;
      transposeKernel(this.#kernels, rows, cols)(this.#p, this.#t, rows, cols);
      buffers.outT.set(this.#view(this.#t, n));
    }
  }

  /** Copies of the moments. */
  moments(): Promise<{ m: Float32Array[]; v: Float32Array[] }> {
    return Promise.resolve({
      m: this.#sizes.map((n, i) => this.#view(this.#m[i], n).slice()),
      v: this.#sizes.map((n, i) => this.#view(this.#v[i], n).slice()),
    });
  }

  /** Overwrites the moments. */
  setMoments(m: Float32Array[], v: Float32Array[]): void {
    this.#sizes.forEach((n, i) => {
      this.#view(this.#m[i], n).set(m[i]);
      this.#view(this.#v[i], n).set(v[i]);
    });
  }

  /** Nothing to free: the moments live in the kernels' own memory. */
  dispose(): void {}
}
