/**
 * Where the trainer keeps its checkpoints: the latest and the previous good one, each with its
 * own checksum (checkpoint.ts), so that a damaged latest checkpoint (a flipped bit, a
 * truncated file) never resumes: `load` falls back to the previous one, or to none (training
 * restarts from epoch 1), and says which it passed over. Resuming from an earlier epoch's
 * checkpoint gives the same weights as an uninterrupted run, like resuming from the latest.
 *
 * @module
 */
import { basename } from "node:path";
import { writeFileAtomic } from "../data/atomic.ts";
import {
  type Checkpoint,
  CheckpointCorruptError,
  type CheckpointLoad,
  type CheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
} from "./checkpoint.ts";

/** A stored copy by name, newest first; `bytes` is null when the copy does not exist. */
interface StoredCopy {
  name: string;
  bytes: Uint8Array | null;
}

/** The newest copy that decodes and verifies; the newer ones that do not, as `rejected`. */
function newestGood(copies: readonly StoredCopy[]): CheckpointLoad {
  const rejected: string[] = [];
  for (const [i, copy] of copies.entries()) {
    if (copy.bytes === null) {
      // A missing latest copy beside an older one: the older one is not what was last saved.
      if (i === 0 && copies.slice(1).some((c) => c.bytes !== null)) {
        rejected.push(`${copy.name} is missing`);
      }
      continue;
    }
    try {
      return { checkpoint: decodeCheckpoint(copy.bytes, copy.name), rejected };
    } catch (error) {
      if (!(error instanceof CheckpointCorruptError)) throw error;
      rejected.push(`${copy.name} is corrupt (${error.reason})`);
    }
  }
  return { checkpoint: null, rejected };
}

/** True when `bytes` is a checkpoint that verifies. */
function verifies(bytes: Uint8Array | null): bytes is Uint8Array {
  if (bytes === null) return false;
  try {
    decodeCheckpoint(bytes);
    return true;
  } catch (error) {
    if (error instanceof CheckpointCorruptError) return false;
    throw error;
  }
}

/** The previous checkpoint's file beside `path`: checkpoint.bin -> checkpoint.prev.bin. */
export function previousCheckpointPath(path: string): string {
  const dot = path.lastIndexOf(".");
  return dot > path.lastIndexOf("/")
    ? `${path.slice(0, dot)}.prev${path.slice(dot)}`
    : `${path}.prev`;
}

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * A checkpoint store of two files: `path` (the latest) and
 * {@linkcode previousCheckpointPath} (the one before), both replaced atomically. A new
 * checkpoint moves the latest to the previous one only if the latest verifies, so that a
 * damaged latest never displaces a good previous one.
 */
export function fileCheckpointStore(path: string): CheckpointStore {
  const previous = previousCheckpointPath(path);
  return {
    async load() {
      const [latest, before] = await Promise.all([
        readOrNull(path),
        readOrNull(previous),
      ]);
      return newestGood([
        { name: basename(path), bytes: latest },
        { name: basename(previous), bytes: before },
      ]);
    },
    async save(checkpoint) {
      const bytes = encodeCheckpoint(checkpoint);
      if (verifies(await readOrNull(path))) {
        // A second name for the latest file's inode, renamed over the previous one: at no
        // moment is either name missing or partly written, and nothing is copied.
        const link = `${previous}.${crypto.randomUUID().slice(0, 8)}.tmp`;
        try {
          await Deno.link(path, link);
        } catch {
          await Deno.copyFile(path, link);
        }
        await Deno.rename(link, previous);
      }
      await writeFileAtomic(path, bytes);
    },
  };
}

/**
 * A checkpoint store in memory, with the file store's two copies (tests, or callers that
 * persist elsewhere); `copies` holds their bytes (latest, previous) for tests to damage.
 */
export function memoryCheckpointStore(): CheckpointStore & {
  saves: number;
  copies: { latest: Uint8Array | null; previous: Uint8Array | null };
} {
  const copies = {
    latest: null as Uint8Array | null,
    previous: null as Uint8Array | null,
  };
  const store = {
    saves: 0,
    copies,
    load() {
      return Promise.resolve(newestGood([
        { name: "in-memory checkpoint", bytes: copies.latest },
        { name: "previous in-memory checkpoint", bytes: copies.previous },
      ]));
    },
    save(checkpoint: Checkpoint) {
      if (verifies(copies.latest)) copies.previous = copies.latest;
      copies.latest = encodeCheckpoint(checkpoint);
      store.saves++;
      return Promise.resolve();
    },
  };
  return store;
}

/**
 * The log line of a resume: "resumed from the checkpoint after epoch 2", or what was passed
 * over and what happened instead ("checkpoint.bin is corrupt (checksum mismatch); resumed from
 * the checkpoint after epoch 1", "...; restarted from epoch 1").
 */
export function describeResume(
  outcome: { resumedEpochs: number; rejected: readonly string[] },
): string {
  const what = outcome.resumedEpochs > 0
    ? `resumed from the checkpoint after epoch ${outcome.resumedEpochs}`
    : "restarted from epoch 1";
  return [...outcome.rejected, what].join("; ");
}
