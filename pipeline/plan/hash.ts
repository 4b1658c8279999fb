/**
 * Hashing and canonical JSON, the two things every key is built from.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * JSON with object keys sorted at every level, so equal values give equal strings whatever
 * order their keys were inserted in. `undefined` object members are dropped, like JSON.stringify.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new TypeError(`cannot hash non-finite number ${value}`);
  }
  return value;
}

/** Lower-case hex SHA-256 of bytes. */
export function sha256Bytes(data: Uint8Array): Promise<string> {
  return Promise.resolve(createHash("sha256").update(data).digest("hex"));
}

/** Lower-case hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Text(text: string): Promise<string> {
  return Promise.resolve(sha256TextSync(text));
}

/** Lower-case hex SHA-256 of a string's UTF-8 bytes, synchronously. */
export function sha256TextSync(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * SHA-256 and size of a file, read in 1 MiB chunks: constant memory for large tensors, and
 * several times faster than reading the whole file for crypto.subtle.
 */
export async function sha256File(
  path: string,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(1 << 20);
  let size = 0;
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    size += n;
  }
  return { sha256: hash.digest("hex"), size };
}
