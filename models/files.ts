/**
 * Atomic file writes: write a temporary file in the same directory, then rename, so that
 * a reader (or a rerun after a kill) never sees half a file.
 *
 * @module
 */

/** Writes `bytes` to `path` atomically (temp file in the same directory, then rename). */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) : ".";
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  const temp = `${dir}/.${base}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeFile(temp, bytes);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
