/**
 * Checking stored objects out into a workspace: a hard link to the read-only object when the
 * file system allows, else a copy written through a temp file.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { removeIfExists, tempPathFor } from "../fs.ts";
import { DiskFullError, isDiskFull } from "../errors.ts";
import type { CheckedOutRecord, OutputRecord } from "./manifest.ts";

/**
 * Checks out `outputs` into `dir`; with `clean`, the directory is emptied first (the engine owns
 * default workspaces). Returns what was checked out, with mtimes for the lock file.
 */
export async function checkoutObjects(
  outputs: Record<string, OutputRecord>,
  dir: string,
  options: { clean: boolean; objectPath: (sha256: string) => string },
): Promise<Record<string, CheckedOutRecord>> {
  if (options.clean) await removeIfExists(dir);
  const result: Record<string, CheckedOutRecord> = {};
  for (const [output, record] of Object.entries(outputs)) {
    const target = join(dir, output);
    await Deno.mkdir(dirname(target), { recursive: true });
    await removeIfExists(target);
    const object = options.objectPath(record.sha256);
    try {
      await Deno.link(object, target);
    } catch {
      await copyAtomic(object, target);
    }
    const info = await Deno.stat(target);
    result[output] = {
      sha256: record.sha256,
      size: info.size,
      mtime: info.mtime?.getTime() ?? 0,
    };
  }
  return result;
}

/** Copies `source` to `target` through a temp file; a full disk names `target` and keeps nothing. */
async function copyAtomic(source: string, target: string): Promise<void> {
  const temp = tempPathFor(target);
  try {
    await Deno.copyFile(source, temp);
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o644);
    await Deno.rename(temp, target);
  } catch (error) {
    await removeIfExists(temp);
    if (isDiskFull(error)) throw new DiskFullError(target, error);
    throw error;
  }
}
