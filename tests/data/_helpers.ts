/** Test helpers: build small IDX files and gzip them, independently of the code under test. */
import { createHash } from "node:crypto";

/** IDX bytes (unsigned-byte type) for the given dimensions and data. */
export function makeIdx(
  dims: number[],
  data: ArrayLike<number>,
  type = 0x08,
): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => {
    const o = 4 + 4 * i;
    out[o] = (d >>> 24) & 0xff;
    out[o + 1] = (d >>> 16) & 0xff;
    out[o + 2] = (d >>> 8) & 0xff;
    out[o + 3] = d & 0xff;
  });
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

/** Gzip-compresses bytes with the Web CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Hex SHA-256 of bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Deterministic pseudo-random bytes (LCG) so tests need no fixtures. */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** A small images/labels pair: `n` images of `rows x cols` and `n` labels in 0..9. */
export function makeDataset(
  n: number,
  rows = 4,
  cols = 3,
  seed = 1,
): { images: Uint8Array; labels: Uint8Array } {
  const pixels = pseudoRandomBytes(n * rows * cols, seed);
  const labels = Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10);
  return {
    images: makeIdx([n, rows, cols], pixels),
    labels: makeIdx([n], labels),
  };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever `fn` does. */
export async function withDir(
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
