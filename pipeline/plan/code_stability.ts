/**
 * The code that ran is the code that was hashed: before a result is published under its key,
 * every file of the key's code must be as it was when the key was computed, and unchanged since
 * this process started (so a module loaded before planning, or lazily during the run, is the
 * content that was hashed).
 *
 * A stage loads its run code lazily (`await import("./train_run.ts")`), so an edit made while an
 * earlier stage trains would otherwise run under the key of the code before the edit, and stay
 * cached after the edit is reverted. A file's status-change time (ctime) moves with every write
 * and cannot be set back; Deno reports it in whole seconds, so within the second the process
 * started the millisecond mtime decides, and the stamps taken at planning must also match.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { statOrUndefined } from "../fs.ts";
import type { FileStamp } from "./code_hash.ts";

/** Code of a key changed while it ran: its result is not cached. */
export class CodeChangedError extends UserError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CodeChangedError";
  }
}

/** Options of {@link checkCodeUnchanged}. */
export interface CodeCheckOptions {
  /** Absolute project root. */
  root: string;
  /** Stamps taken when the files were hashed (root-relative path -> stamp). */
  stamps: ReadonlyMap<string, FileStamp>;
  /**
   * The earliest time (ms since the epoch) the code may have been loaded: a file changed after it
   * may have run in another version than the one hashed. The CLI passes its process start (its
   * stage modules load then); without it, only changes since hashing count (a library caller
   * that wrote and imported its stage modules itself).
   */
  loadedSince?: number;
}

/**
 * Throws a {@link CodeChangedError} naming the files of `files` (root-relative) that changed
 * since they were hashed or since this process started.
 */
export async function checkCodeUnchanged(
  files: Iterable<string>,
  options: CodeCheckOptions,
): Promise<void> {
  const since = options.loadedSince;
  const sinceSecond = since === undefined ? 0 : Math.floor(since / 1000) * 1000;
  const changed: string[] = [];
  for (const rel of files) {
    const stamp = options.stamps.get(rel);
    const info = await statOrUndefined(join(options.root, rel));
    const now: FileStamp | undefined = info && {
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ctimeMs: info.ctime?.getTime() ?? 0,
    };
    const asHashed = stamp !== undefined && now !== undefined &&
      now.size === stamp.size && now.mtimeMs === stamp.mtimeMs &&
      now.ctimeMs === stamp.ctimeMs;
    const beforeStart = since === undefined || (now !== undefined &&
      (now.ctimeMs < sinceSecond ||
        (now.ctimeMs === sinceSecond && now.mtimeMs < since)));
    if (!asHashed || !beforeStart) changed.push(rel);
  }
  if (changed.length > 0) {
    throw new CodeChangedError(
      `code changed while this run was going: ${
        changed.slice(0, 3).join(", ")
      }${
        changed.length > 3 ? ` and ${changed.length - 3} more` : ""
      }; what ran may not be the code in this result's key, so nothing was cached. ` +
        `Rerun to compute it with the code as it is now`,
    );
  }
}
