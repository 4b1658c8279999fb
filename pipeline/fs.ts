/**
 * Small file-system helpers: atomic writes and tolerant removal.
 *
 * @module
 */
import { dirname } from "node:path";

let counter = 0;

/** A temp-file name next to `path`, unique within this process and across processes. */
export function tempPathFor(path: string): string {
  counter += 1;
  return `${path}.${Deno.pid}.${counter}.${
    Math.random().toString(36).slice(2, 8)
  }.tmp`;
}

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a
 * half-written file: write a temp file in the same directory, then rename it over `path`.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = tempPathFor(path);
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
    await Deno.rename(temp, path);
  } catch (error) {
    await removeIfExists(temp);
    throw error;
  }
}

/** Removes a file or directory tree; no error when it does not exist. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** `Deno.stat`, or undefined when the path does not exist. */
export async function statOrUndefined(
  path: string,
): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Reads a text file, or returns undefined when it does not exist. */
export async function readTextOrUndefined(
  path: string,
): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
