/**
 * Dropout keep masks on the GPU: the SAME counter-based hash as the CPU steps'
 * `dropoutMaskValues` (`models/train_step.ts`), so a WebGPU step drops exactly the units a
 * wasm or cpu step drops for the same `(seed, step, layer)`.
 *
 * The per-(seed, step, layer) key is derived on the host with `deriveSeed` (one 32-bit
 * value per hidden layer, sent with the step's uniforms); each element's bits are hashed
 * on the GPU from `(key, row, column)`: a murmur3 finaliser of
 * `key + (floor(row / 2) * cols + col + 1) * 0x9e3779b9`, whose low 16 bits serve even rows
 * and high 16 bits odd rows; a unit is kept when its 16 bits are >= round(rate * 65536).
 *
 * @module
 */
import { deriveSeed } from "../random.ts";
import { f32 } from "./wgsl.ts";

/** The key of hidden layer `layer`'s mask at step `step` (as `dropoutMaskValues` uses it). */
export function dropoutKey(
  seed: number,
  at: { step: number; layer: number },
): number {
  return deriveSeed(seed, at.step, at.layer) >>> 0;
}

/** The 16-bit threshold below which a unit is dropped (as `dropoutMaskValues`). */
export function dropoutThreshold(rate: number): number {
  return Math.min(Math.round(rate * 65536), 65535);
}

/**
 * WGSL of `dropoutScale(key, row, col, cols) -> f32`: 0 for a dropped unit, `1 / (1 - rate)`
 * for a kept one; always 1 when `rate` is 0.
 */
export function dropoutWgsl(rate: number): string {
  if (!(rate > 0)) {
    return `fn dropoutScale(key: u32, row: u32, col: u32, cols: u32) -> f32 { return 1.0; }`;
  }
  return `
const KEEP_SCALE: f32 = ${f32(1 / (1 - rate))};
fn dropoutScale(key: u32, row: u32, col: u32, cols: u32) -> f32 {
  var h = key + ((row >> 1u) * cols + col + 1u) * 0x9e3779b9u;
  h = (h ^ (h >> 16u)) * 0x85ebca6bu;
  h = (h ^ (h >> 13u)) * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  let bits = select(h & 0xffffu, h >> 16u, (row & 1u) == 1u);
  return select(0.0, KEEP_SCALE, bits >= ${dropoutThreshold(rate)}u);
}`;
}

/**
 * WGSL of `reluGate(h) -> f32`: d (dropout(relu(z))) / dz read off the layer's output `h`,
 * i.e. the keep scale where `h > 0` (z > 0 and the unit kept), else 0.
 */
export function reluGateWgsl(rate: number): string {
  const scale = rate > 0 ? "KEEP_SCALE" : "1.0";
  return `fn reluGate(h: f32) -> f32 { return select(0.0, ${scale}, h > 0.0); }`;
}
