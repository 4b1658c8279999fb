/**
 * tfjs-backend-wasm's heap, reached directly: views on tensors' memory and tensors made
 * from memory written in place, for the CPU training steps (no copies through the engine).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "./errors.ts";

/** The parts of tfjs-backend-wasm's backend object the steps use. */
export interface HeapBackend {
  /** A view on the heap; Int32Array for int32 tensors despite the declared type. */
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  wasm: { asm?: { memory?: unknown } };
}

/** tfjs-backend-wasm's WebAssembly.Memory (the Emscripten module's), when reachable. */
export function heapMemory(backend: HeapBackend): WebAssembly.Memory | null {
  const memory = backend.wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : null;
}

/** The wasm backend when it is the active one (and exposes its heap), else null. */
export function heapBackend(): HeapBackend | null {
  if (tf.getBackend() !== "wasm") return null;
  const backend = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof backend.typedArrayFromHeap === "function" &&
      typeof backend.makeOutput === "function"
    ? backend as HeapBackend
    : null;
}

/**
 * A tensor's values as a typed array without a device round trip: a view on the wasm heap
 * (valid until the next allocation), or the cpu backend's own array. Only for CPU-memory
 * backends.
 */
export function hostView(t: tf.Tensor): Float32Array | Int32Array {
  const heap = heapBackend();
  if (heap) return heap.typedArrayFromHeap(t) as Float32Array | Int32Array;
  return t.dataSync() as Float32Array | Int32Array;
}

/**
 * Rows `start .. start + size - 1` of `x` (any rank, rows = first axis) as a new tensor.
 *
 * Use this instead of `tf.slice` to cut batches out of a dataset held on the device: on
 * tfjs-backend-wasm 4.22 `tf.slice` first copies the WHOLE input out of the heap
 * (`readSync`), i.e. 188 MB per batch for the Fashion-MNIST training set (~60 ms) and
 * 33 MB (~45 ms) for a 10k-row slice, more than the training step itself. Here the rows
 * are copied heap to heap; other backends use `tf.slice`.
 */
export function sliceRows<T extends tf.Tensor>(
  x: T,
  start: number,
  size: number,
): T {
  const rows = x.shape[0] ?? 0;
  if (
    !(Number.isInteger(start) && Number.isInteger(size)) || start < 0 ||
    size < 0 ||
    start + size > rows
  ) {
    throw new ModelError(
      `sliceRows: rows ${start}..${
        start + size - 1
      } are outside a tensor of ${rows} rows`,
    );
  }
  const heap = heapBackend();
  if (!heap || (x.dtype !== "float32" && x.dtype !== "int32")) {
    const begin = x.shape.map((_, i) => (i === 0 ? start : 0));
    const sizes = x.shape.map((d, i) => (i === 0 ? size : d));
    return tf.slice(x, begin, sizes) as T;
  }
  const shape = [size, ...x.shape.slice(1)];
  const rowSize = rows === 0 ? 0 : x.size / rows;
  // Allocate first: growing the heap would detach the source view.
  const out = heap.makeOutput(shape, x.dtype);
  const source: Float32Array | Int32Array = heap.typedArrayFromHeap(x);
  const target: Float32Array | Int32Array = heap.typedArrayFromHeap(out);
  target.set(source.subarray(start * rowSize, (start + size) * rowSize));
  return tf.engine().makeTensorFromTensorInfo(out) as T;
}
