/**
 * Workspaces: the directories outputs are checked out into. A no-op rerun compares their files
 * with `pipeline.lock` by size and mtime only.
 *
 * @module
 */
import { join } from "node:path";
import { statOrUndefined } from "./fs.ts";
import type { CheckedOutRecord } from "./store/mod.ts";

/** Declared outputs whose checked-out file is missing or has another size or mtime (no hashing). */
export async function changedOutputs(
  dir: string,
  options: {
    recorded: Record<string, CheckedOutRecord>;
    declared: readonly string[];
  },
): Promise<string[]> {
  const { recorded: outputs, declared } = options;
  const changed: string[] = [];
  for (const output of declared) {
    const record = outputs[output];
    const info = await statOrUndefined(join(dir, output));
    if (
      record === undefined || info === undefined || !info.isFile ||
      info.size !== record.size || (info.mtime?.getTime() ?? 0) !== record.mtime
    ) changed.push(output);
  }
  return changed;
}
