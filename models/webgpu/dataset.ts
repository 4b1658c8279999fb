/**
 * The training set on the GPU, uploaded once: images, labels, and the row order of the
 * current epoch (identity, or the epoch's shuffle). A batch is a window `offset ..
 * offset + size` of the order buffer; nothing is copied per step.
 *
 * Images with at most 256 distinct values (pixels / 255) are stored as one byte per value
 * plus a 256-entry palette of the exact float32 values: 47 MB instead of 188 MB for
 * Fashion-MNIST (under WebGPU's default 128 MiB binding limit), and bit-identical to the
 * float32 images. Other images are stored as float32.
 *
 * @module
 */

/** Images encoded for upload. */
export interface EncodedImages {
  /** "palette": codes 4 per u32 and a palette; "f32": the values themselves. */
  kind: "palette" | "f32";
  /** The buffer contents (codes padded to a multiple of 4 bytes, or the float32 values). */
  data: Uint8Array | Float32Array;
  /** The palette's float32 values (256 entries; unused ones 0), for "palette". */
  palette: Float32Array;
}

/**
 * Encodes images as palette codes when they hold at most 256 distinct float32 values
 * (compared bit for bit, so -0 and NaN payloads survive), else as float32.
 */
export function encodeImages(images: Float32Array): EncodedImages {
  const bits = new Uint32Array(
    images.buffer,
    images.byteOffset,
    images.length,
  );
  const codes = new Uint8Array(Math.ceil(images.length / 4) * 4);
  const index = new Map<number, number>();
  const palette = new Float32Array(256);
  let lastBits = -1;
  let lastCode = 0;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    if (b !== lastBits) {
      let code = index.get(b);
      if (code === undefined) {
        if (index.size === 256) {
          return { kind: "f32", data: images, palette: new Float32Array(256) };
        }
        code = index.size;
        index.set(b, code);
        palette[code] = images[i];
      }
      lastBits = b;
      lastCode = code;
    }
    codes[i] = lastCode;
  }
  return { kind: "palette", data: codes, palette };
}
