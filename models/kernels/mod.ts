/**
 * The WebAssembly SIMD kernels of the CPU training steps (Adam, transposes): assembled
 * from `kernels.wat` into `kernels_wasm.ts` by `build.ts`, instantiated over a memory the
 * caller chooses (tfjs-backend-wasm's own heap, or a private one).
 *
 * @module
 */
import { KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";

/** The kernels' exports; pointers are byte offsets into the instance's memory. */
export interface KernelExports {
  /** PyTorch-style Adam over n float32 (moments in place, new parameters to `out`). */
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    out: number,
    n: number,
    beta1: number,
    beta2: number,
    c1: number,
    c2: number,
    stepSize: number,
    invCorrection2: number,
    epsilon: number,
  ): void;
  /** `dst[c][r] = src[r][c]` for a row-major `[rows, cols]` float32 matrix. */
  transpose(src: number, dst: number, rows: number, cols: number): void;
  /** `transpose` for rows and cols multiples of 4 (4x4 SIMD tiles, ~5x faster). */
  transpose4(src: number, dst: number, rows: number, cols: number): void;
  /**
   * `h = relu(z[r mod srcRows] + b) * mask` with `dropoutMaskValues`' mask hashed on the
   * fly (key = `deriveSeed(seed, step, layer) | 0`); cols a multiple of 4.
   */
  dropout_relu(
    z: number,
    b: number,
    h: number,
    rows: number,
    cols: number,
    srcRows: number,
    key: number,
    threshold: number,
    keep: number,
  ): void;
  /** `d = h > 0 ? d * keep : 0` over n floats (n a multiple of 4). */
  dropout_relu_grad(d: number, h: number, n: number, keep: number): void;
}

let compiled: WebAssembly.Module | null = null;

/** An instance of the kernels working on `memory`. */
export function instantiateKernels(memory: WebAssembly.Memory): KernelExports {
  if (!compiled) {
    const bytes = Uint8Array.from(
      atob(KERNELS_WASM_BASE64),
      (c) => c.charCodeAt(0),
    );
    compiled = new WebAssembly.Module(bytes);
  }
  return new WebAssembly.Instance(compiled, { env: { memory } })
    .exports as unknown as KernelExports;
}

/** Adam's hyper-parameters at (1-based) step t. */
export interface AdamHyper {
  /** Adam's 1-based step. */
  t: number;
  /** Learning rate. */
  learningRate: number;
  /** First-moment decay. */
  beta1: number;
  /** Second-moment decay. */
  beta2: number;
  /** Denominator epsilon. */
  epsilon: number;
}

/** The scalar arguments of the `adam` kernel after `n`, in order. */
export function adamScalars(options: AdamHyper): number[] {
  const { t, beta1, beta2 } = options;
  return [
    beta1,
    beta2,
    1 - beta1,
    1 - beta2,
    options.learningRate / (1 - beta1 ** t),
    1 / Math.sqrt(1 - beta2 ** t),
    options.epsilon,
  ];
}

/** The faster transpose when both sizes allow its 4x4 tiles. */
export function transposeKernel(
  kernels: KernelExports,
  rows: number,
  cols: number,
): KernelExports["transpose"] {
  return rows % 4 === 0 && cols % 4 === 0
    ? kernels.transpose4
    : kernels.transpose;
}
