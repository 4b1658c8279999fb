/**
 * Defence in depth before a result is published: the upstream outputs a stage read must still be
 * the results its key names. A key is computed from upstream keys, not from the bytes a stage
 * actually read, so anything that swapped an upstream checkout while the stage ran would
 * otherwise be cached under a key that does not describe it.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "./errors.ts";
import { statOrUndefined } from "./fs.ts";
import { sha256File } from "./hash.ts";
import { formatReason } from "./reasons.ts";
import { cacheReason, type Store } from "./store/mod.ts";

/** An upstream instance of the stage being published. */
export interface UpstreamRef {
  /** Instance name. */
  name: string;
  /** The key the downstream key was computed from. */
  key: string;
  /** Absolute directory its outputs are checked out into. */
  dir: string;
}

/** An upstream result changed under a running stage; nothing was cached. */
export class UpstreamChangedError extends UserError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UpstreamChangedError";
  }
}

/**
 * Throws an {@link UpstreamChangedError} unless every output of every upstream manifest is
 * checked out unchanged: the same inode as the store's read-only object (no hashing), or, for a
 * copy, the same size and SHA-256.
 */
export async function checkUpstream(
  store: Store,
  upstream: readonly UpstreamRef[],
): Promise<void> {
  for (const ref of upstream) {
    const read = await store.readManifest(ref.key);
    if (read.state !== "ok") {
      const why = cacheReason(read) ?? { kind: "not-in-cache" };
      throw changed(
        ref.name,
        `its cache entry is unusable (${formatReason(why)})`,
      );
    }
    for (const [output, record] of Object.entries(read.manifest.outputs)) {
      const path = join(ref.dir, output);
      const info = await statOrUndefined(path);
      if (info === undefined) throw changed(ref.name, `${path} is gone`);
      if (info.size !== record.size) {
        throw changed(
          ref.name,
          `${path} has ${info.size} bytes, its result ${record.size}`,
        );
      }
      if (await store.isStoredObject(path, record)) continue;
      if ((await sha256File(path)).sha256 !== record.sha256) {
        throw changed(ref.name, `${path} no longer matches its result's hash`);
      }
    }
  }
}

function changed(name: string, what: string): UpstreamChangedError {
  return new UpstreamChangedError(
    `upstream ${name} changed while this stage ran: ${what}. Nothing was cached; ` +
      `another process may be writing this project. Rerun when it is done.`,
  );
}
