/**
 * Workspaces: the directories outputs are checked out into. A no-op rerun compares their files
 * with `pipeline.lock` by size and mtime; only a file whose mtime alone differs (a fresh clone,
 * a copy) is hashed, so that identical content never counts as changed.
 *
 * @module
 */
import { join } from "node:path";
import { statOrUndefined } from "./fs.ts";
import { sha256File } from "./hash.ts";
import type { CheckedOutRecord } from "./store/mod.ts";

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
  const { recorded: outputs, declared } = options;
  const changed: string[] = [];
  for (const output of declared) {
    const record = outputs[output];
    const info = await statOrUndefined(join(dir, output));
    if (
      record === undefined || info === undefined || !info.isFile ||
      info.size !== record.size
    ) {
      changed.push(output);
    } else if ((info.mtime?.getTime() ?? 0) !== record.mtime) {
      const { sha256 } = await sha256File(join(dir, output));
      if (sha256 !== record.sha256) changed.push(output);
    }
  }
  return changed;
}
