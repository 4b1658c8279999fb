/**
 * Workspaces: the directories outputs are checked out into. A no-op rerun compares their files
 * with `pipeline.lock` by size and mtime; only a file whose mtime alone differs (a fresh clone,
 * a copy) is hashed, so that identical content never counts as changed.
 *
 * @module
 */
import { join } from "node:path";
import { statOrUndefined } from "./fs.ts";
import { sha256File } from "./plan/hash.ts";
import type { CheckedOutRecord } from "./store/mod.ts";

/** What {@link checkOutputs} found. */
export interface OutputCheck {
  /** Declared outputs missing or different from the record (another size, or another hash). */
  changed: string[];
  /**
   * Outputs whose content matched the record (hashed) although their mtime differs (a fresh
   * clone, a checkout, a copy): output name -> the file's mtime now. Recording it spares the
   * next run the hashing.
   */
  refreshed: Record<string, number>;
}

/** Compares the checked-out files of `dir` with their records: size, then mtime, then hash. */
export async function checkOutputs(
  dir: string,
  options: {
    recorded: Record<string, CheckedOutRecord>;
    declared: readonly string[];
  },
): Promise<OutputCheck> {
  const { recorded: outputs, declared } = options;
  const changed: string[] = [];
  const refreshed: Record<string, number> = {};
  for (const output of declared) {
    const record = outputs[output];
    const info = await statOrUndefined(join(dir, output));
    if (
      record === undefined || info === undefined || !info.isFile ||
      info.size !== record.size
    ) {
      changed.push(output);
      continue;
    }
    const mtime = info.mtime?.getTime() ?? 0;
    if (mtime === record.mtime) continue;
    const { sha256 } = await sha256File(join(dir, output));
    if (sha256 !== record.sha256) changed.push(output);
    else refreshed[output] = mtime;
  }
  return { changed, refreshed };
}

/**
 * Declared outputs whose checked-out file is missing or differs from the record: another size,
 * or another mtime and another SHA-256.
 */
export async function changedOutputs(
  dir: string,
  options: {
    recorded: Record<string, CheckedOutRecord>;
    declared: readonly string[];
  },
): Promise<string[]> {
  return (await checkOutputs(dir, options)).changed;
}
