/**
 * Atomic file writes: a reader sees either the old file or the complete new one, never a
 * partial file, because the bytes go to a temporary file in the same directory (same file
 * system) that is then renamed over the target.
 *
 * @module
 */

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
    await Deno.writeFile(temp, bytes, { createNew: true });
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
