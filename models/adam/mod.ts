/**
 * Adam for the tfjs training step: one interface, one implementation per kind of backend.
 *
 * - {@linkcode HeapAdam} (wasm): the SIMD kernel runs on tfjs' own heap, no copies.
 * - {@linkcode HostAdam} (cpu, or wasm without a reachable heap): the kernel on its own
 *   memory, parameters copied in and out.
 * - {@linkcode DeviceAdam} (any backend, WebGPU): tfjs ops.
 *
 * The native step has no tensors and runs the kernel over its flat buffers directly
 * (models/native/step.ts). All of them compute PyTorch's form,
 * `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { AdamHyper } from "../kernels/mod.ts";
import { heapBackend, heapMemory } from "../wasm_heap.ts";
import { DeviceAdam } from "./device.ts";
import { HeapAdam } from "./heap.ts";
import { HostAdam } from "./host.ts";

export { adamUpdate } from "./reference.ts";
export { DeviceAdam, HeapAdam, HostAdam };
export type { AdamHyper };

/** Adam over a fixed list of variables (w0, b0, w1, b1, ...; weights 2-D). */
export interface TensorAdam {
  /**
   * One update of every variable from its gradient (assigned in place); returns the new
   * values of the 2-D variables transposed, in order (the step keeps them for its
   * matMuls). The caller disposes the returned tensors.
   */
  update(grads: tf.Tensor[], hyper: AdamHyper): tf.Tensor2D[];
  /** Copies of the moments. */
  moments(): Promise<{ m: Float32Array[]; v: Float32Array[] }>;
  /** Overwrites the moments. */
  setMoments(m: Float32Array[], v: Float32Array[]): void;
  /** Frees the moments. */
  dispose(): void;
}

/**
 * The Adam for `vars` on the active backend: "host" runs the kernel (on the wasm heap when
 * reachable, else on copies), "device" runs tfjs ops.
 */
export function createTensorAdam(
  vars: tf.Variable[],
  options: { where: "host" | "device" },
): TensorAdam {
  if (options.where === "device") return new DeviceAdam(vars);
  const heap = heapBackend();
  const memory = heap ? heapMemory(heap) : null;
  return heap && memory
    ? new HeapAdam(vars, { heap, memory })
    : new HostAdam(vars);
}
