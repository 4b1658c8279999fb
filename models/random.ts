/**
 * Small seeded random sources, so that initialisation and shuffling are a pure function
 * of the seed (tfjs' own initialisers draw from an unseeded global generator).
 *
 * @module
 */

/**
 * Mixes a seed and any number of integers into one 32-bit seed (a murmur3-style finaliser
 * per word), so that e.g. `(seed, epoch)` and `(seed, step, layer)` give unrelated streams.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = mix32((seed | 0) ^ 0x9e3779b9);
  // Seeds may exceed 32 bits; fold the high part in too.
  h = mix32(h ^ Math.floor(seed / 2 ** 32));
  for (const part of parts) {
    h = mix32(h ^ mix32((part | 0) + 0x7f4a7c15));
    h = mix32(h ^ Math.floor(part / 2 ** 32));
  }
  return h >>> 0;
}

function mix32(value: number): number {
  let h = value | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * A seeded generator of uniform numbers in [0, 1) (sfc32 seeded through
 * {@linkcode deriveSeed}; 53 bits per draw).
 */
export function createRng(seed: number): () => number {
  let a = deriveSeed(seed, 1);
  let b = deriveSeed(seed, 2);
  let c = deriveSeed(seed, 3);
  let d = 1;
  const next32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32();
  return () => (next32() * 2 ** 21 + (next32() >>> 11)) / 2 ** 53;
}

/** A seeded uniformly random permutation of `0..n-1` (Fisher-Yates). */
export function permutation(n: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}
