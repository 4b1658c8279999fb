/**
 * Hashing and canonical JSON, the two things every key is built from.
 *
 * @module
 */

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
export async function sha256Bytes(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    data as Uint8Array<ArrayBuffer>,
  );
  return toHex(new Uint8Array(digest));
}

/** Lower-case hex SHA-256 of a string's UTF-8 bytes. */
export function sha256Text(text: string): Promise<string> {
  return sha256Bytes(new TextEncoder().encode(text));
}

/** SHA-256 and size of a file. */
export async function sha256File(
  path: string,
): Promise<{ sha256: string; size: number }> {
  const data = await Deno.readFile(path);
  return { sha256: await sha256Bytes(data), size: data.byteLength };
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
