/**
 * Small file-system helpers: atomic writes, temp-file names and their cleanup, tolerant removal.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { DiskFullError, isDiskFull } from "./errors.ts";

let counter = 0;

/** A temp-file name next to `path`, unique within this process and across processes. */
export function tempPathFor(path: string): string {
  counter += 1;
  return `${path}.${Deno.pid}.${counter}.${
    Math.random().toString(36).slice(2, 8)
  }.tmp`;
}

const TEMP_NAME = /\.\d+\.\d+\.[0-9a-z]*\.tmp$/;

/** Whether `name` is a name made by {@link tempPathFor} (a leftover of a killed process). */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/**
 * Removes the files directly in `dir` named by {@link tempPathFor}. Only call it while holding
 * the run lock: then no live process is writing them.
 * @returns the bytes removed.
 */
export async function removeTempFiles(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await listDir(dir)) {
    if (!entry.isFile || !isTempName(entry.name)) continue;
    const path = join(dir, entry.name);
    bytes += (await statOrUndefined(path))?.size ?? 0;
    await removeIfExists(path);
  }
  return bytes;
}

/** Entries of `dir`; empty when it does not exist. */
export async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Writes a whole file ({@link writeFileInChunks} by default; tests inject faults such as ENOSPC). */
export type WriteFile = (path: string, data: Uint8Array) => Promise<void>;

/** Options of {@link writeFileAtomic}. */
export interface WriteOptions {
  /** Writes the temp file; default {@link writeFileInChunks}. */
  writeFile?: WriteFile;
}

/**
 * Bytes handed to one write: an async write copies its buffer for the I/O thread, so one call
 * with a large object (a downloaded tensor) would hold a second copy of all of it.
 */
const WRITE_CHUNK = 4 << 20;

/** Creates `path` (it must not exist) and writes `data` to it, a few MiB per call. */
export async function writeFileInChunks(
  path: string,
  data: Uint8Array,
): Promise<void> {
  using file = await Deno.open(path, { write: true, createNew: true });
  let offset = 0;
  while (offset < data.length) {
    const end = Math.min(offset + WRITE_CHUNK, data.length);
    offset += await file.write(data.subarray(offset, end));
  }
}

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a
 * half-written file: write a temp file in the same directory, then rename it over `path`.
 * A full disk is a {@link DiskFullError} naming `path`; the temp file is removed either way.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteOptions = {},
): Promise<void> {
  const write = options.writeFile ?? writeFileInChunks;
  const bytes = typeof data === "string"
    ? new TextEncoder().encode(data)
    : data;
  const temp = tempPathFor(path);
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    await write(temp, bytes);
    await Deno.rename(temp, path);
  } catch (error) {
    await removeIfExists(temp);
    if (isDiskFull(error)) throw new DiskFullError(path, error);
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
