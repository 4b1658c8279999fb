/**
 * Atomic file writes: a reader sees either the old file or the complete new one, never a
 * partial file, because the bytes go to a temporary file in the same directory (same file
 * system) that is then renamed over the target.
 *
 * @module
 */

/**
 * Bytes handed to one write. An async write copies its buffer before the I/O thread takes it,
 * so writing a 188 MB tensor in one call held a second 188 MB copy at the stage's peak.
 */
const WRITE_CHUNK = 4 << 20;

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const end = Math.min(offset + WRITE_CHUNK, bytes.length);
    offset += await file.write(bytes.subarray(offset, end));
  }
}

/** Writes `bytes` to `path` atomically; the temporary file is removed if anything fails. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const base = path.slice(slash + 1);
  const temp = `${dir}.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    {
      using file = await Deno.open(temp, { write: true, createNew: true });
      await writeAll(file, bytes);
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Writes `text` (UTF-8) to `path` atomically. */
export function writeTextFileAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text));
}
