/**
 * Dropout keep masks as a pure function of `(seed, step, layer, position)`: a counter-based
 * hash with no generator state, so that resuming reproduces them and every step
 * implementation (tfjs on any backend, native) draws the same ones.
 *
 * @module
 */
import { deriveSeed } from "./random.ts";

/**
 * Inverted-dropout keep mask values `[rows * cols]` (0 or `1/(1-rate)`) as a pure function of
 * `(seed, step, layer)` and the element's position: a counter-based hash, no generator
 * state. One 32-bit hash serves rows 2k and 2k+1 of a column (16 bits each, so the rate is
 * resolved to 2^-16).
 */
export function dropoutMaskValues(
  rows: number,
  cols: number,
  options: {
    rate: number;
    seed: number;
    step: number;
    layer: number;
    /** Write the mask feature-major (`[cols, rows]`); element (r, c) is the same value. */
    transposed?: boolean;
  },
): Float32Array {
  const { rate } = options;
  const out = new Float32Array(rows * cols);
  if (!(rate > 0)) return out.fill(1);
  const key = deriveSeed(options.seed, options.step, options.layer) | 0;
  const keep = 1 / (1 - rate);
  // P(16 random bits >= threshold) = 1 - rate (to 2^-16).
  const threshold = Math.min(Math.round(rate * 65536), 65535);
  const hash = (pairRow: number, c: number): number => {
    // murmur3 finaliser of (key + golden-ratio counter of the row pair and column).
    let h = (key + Math.imul(pairRow * cols + c + 1, 0x9e3779b9)) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  };
  // The loops follow the output layout so that the writes are sequential.
  if (options.transposed === true) {
    for (let c = 0; c < cols; c++) {
      const base = c * rows;
      for (let r = 0; r < rows; r += 2) {
        const h = hash(r >> 1, c);
        out[base + r] = (h & 0xffff) >= threshold ? keep : 0;
        if (r + 1 < rows) {
          out[base + r + 1] = (h >>> 16) >= threshold ? keep : 0;
        }
      }
    }
  } else {
    for (let r = 0; r < rows; r += 2) {
      for (let c = 0; c < cols; c++) {
        const h = hash(r >> 1, c);
        out[r * cols + c] = (h & 0xffff) >= threshold ? keep : 0;
        if (r + 1 < rows) {
          out[(r + 1) * cols + c] = (h >>> 16) >= threshold ? keep : 0;
        }
      }
    }
  }
  return out;
}
