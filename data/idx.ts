/**
 * IDX file parsing (the MNIST / Fashion-MNIST container format), unsigned-byte data only.
 *
 * Layout: two zero bytes, a data-type byte (0x08 = unsigned byte), a dimension count,
 * then one big-endian uint32 per dimension, then exactly product(dims) data bytes.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { IdxError } from "./errors.ts";

/** A parsed IDX array: its dimensions and its data (row-major, one byte per element). */
export interface IdxArray {
  /** Sizes of each dimension, outermost first (e.g. `[60000, 28, 28]`). */
  dims: number[];
  /** The elements; a view into the parsed buffer, not a copy. */
  data: Uint8Array;
  /** The whole (decompressed) file, header included: what the published SHA-256s cover. */
  bytes: Uint8Array;
}

const IDX_UBYTE = 0x08;
const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
};

/**
 * Parses IDX bytes; `file` names the source in error messages.
 *
 * @throws {IdxError} on a wrong magic, an unsupported data type, a truncated file or trailing bytes.
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) {
    throw new IdxError(
      file,
      `too short for an IDX header (${bytes.length} bytes); the file is truncated, fetch it again`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(
      bytes.subarray(0, 4),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    throw new IdxError(
      file,
      `wrong magic number 0x${magic} (an IDX file starts with 0x0000); this is not an IDX file`,
    );
  }
  const type = bytes[2];
  if (type !== IDX_UBYTE) {
    const typeName = IDX_TYPE_NAMES[type] ?? "unknown";
    throw new IdxError(
      file,
      `unsupported IDX data type 0x${
        type.toString(16).padStart(2, "0")
      } (${typeName}); only unsigned byte (0x08) is supported`,
    );
  }
  const ndim = bytes[3];
  if (ndim === 0) {
    throw new IdxError(file, "IDX header declares 0 dimensions");
  }
  const headerLength = 4 + 4 * ndim;
  if (bytes.length < headerLength) {
    throw new IdxError(
      file,
      `truncated: the header needs ${headerLength} bytes for ${ndim} dimensions but the file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let expected = 1;
  for (let i = 0; i < ndim; i++) {
    const size = view.getUint32(4 + 4 * i, false);
    dims.push(size);
    expected *= size;
  }
  const actual = bytes.length - headerLength;
  if (actual < expected) {
    throw new IdxError(
      file,
      `truncated: dimensions [${
        dims.join(", ")
      }] need ${expected} data bytes but only ${actual} are present; fetch the file again`,
    );
  }
  if (actual > expected) {
    throw new IdxError(
      file,
      `${
        actual - expected
      } unexpected trailing bytes after the ${expected} data bytes of dimensions [${
        dims.join(", ")
      }]`,
    );
  }
  return { dims, data: bytes.subarray(headerLength), bytes };
}

/** True when `bytes` starts with the gzip magic number 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip bytes; `file` names the source in errors. zlib's one-shot inflate into one
 * growing buffer, rather than the Web `DecompressionStream` (whose chunks, copied input and
 * concatenated result held about 60 MB more at the peak for the 47 MB training images).
 */
export function gunzip(
  bytes: Uint8Array,
  file: string,
): Promise<Uint8Array> {
  try {
    const out = gunzipSync(bytes);
    return Promise.resolve(
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
    );
  } catch (error) {
    throw new IdxError(
      file,
      `not a valid gzip stream (${
        error instanceof Error ? error.message : String(error)
      }); the file is truncated or corrupt, fetch it again`,
      { cause: error },
    );
  }
}

/**
 * Reads an IDX file from disk, decompressing it first when it is gzip (detected by its
 * magic number, not its name), and parses it.
 *
 * @throws {IdxError} when the file is missing, not valid gzip, or not a valid IDX file.
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let raw: Uint8Array;
  try {
    raw = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new IdxError(path, "file not found; run the download stage first", {
        cause: error,
      });
    }
    throw error;
  }
  const bytes = isGzip(raw) ? await gunzip(raw, path) : raw;
  return parseIdx(bytes, path);
}

/** Names used in the errors of {@linkcode checkImageLabelPair}. */
export interface PairFiles {
  /** Name of the images file. */
  imagesFile: string;
  /** Name of the labels file. */
  labelsFile: string;
  /** Labels must lie in `0 .. numClasses-1`. */
  numClasses: number;
}

/**
 * Checks that an images array (`[n, ...]`, at least 2-D) and a labels array (`[n]`) belong
 * together: same count, labels in range.
 *
 * @throws {IdxError} naming the offending file.
 */
export function checkImageLabelPair(
  images: IdxArray,
  labels: IdxArray,
  files: PairFiles,
): void {
  if (images.dims.length < 2) {
    throw new IdxError(
      files.imagesFile,
      `expected an images array with at least 2 dimensions, found [${
        images.dims.join(", ")
      }]`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new IdxError(
      files.labelsFile,
      `expected a 1-D labels array, found dimensions [${
        labels.dims.join(", ")
      }]`,
    );
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new IdxError(
      files.labelsFile,
      `count mismatch: ${labels.dims[0]} labels but ${files.imagesFile} has ${
        images.dims[0]
      } images; the two files do not belong together`,
    );
  }
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= files.numClasses) {
      throw new IdxError(
        files.labelsFile,
        `label ${data[i]} at index ${i} is outside 0..${files.numClasses - 1}`,
      );
    }
  }
}
