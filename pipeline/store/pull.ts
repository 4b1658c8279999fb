/**
 * Downloading one result from a remote store: every object is re-hashed before it enters the
 * local store, and a remote result found corrupt is reported and removed there so the next run
 * recomputes and republishes it.
 *
 * @module
 */
import { join } from "node:path";
import { removeIfExists } from "../fs.ts";
import { sha256File } from "../plan/hash.ts";
import type { Manifest, OutputRecord } from "./manifest.ts";
import type { RemoteStore } from "./mod.ts";

/** Options of {@link pullResult}. */
export interface PullOptions {
  /** Outputs the stage declares; a manifest without one of them is corrupt. */
  declared: readonly string[];
  /** A fresh temp dir on the local store's file system. */
  tempDir: () => Promise<string>;
  /** Moves a verified download into the local object store. */
  adopt: (path: string, record: OutputRecord) => Promise<void>;
  /** Whether the local store already holds this object intact. */
  has: (record: OutputRecord) => Promise<boolean>;
}

/** What {@link pullResult} found. */
export type PullResult =
  | { state: "ok"; manifest: Manifest }
  | { state: "missing"; warning?: string };

/** Downloads the result of `key` (objects first, verified); the caller writes the manifest. */
export async function pullResult(
  remote: RemoteStore,
  key: string,
  options: PullOptions,
): Promise<PullResult> {
  const read = await remote.readManifest(key);
  // A manifest of an older format cannot be found under a current key; absent either way.
  if (read.state === "missing" || read.state === "old-format") {
    return { state: "missing" };
  }
  if (read.state === "invalid") {
    await remote.removeCorrupt(key, []);
    return {
      state: "missing",
      warning:
        `the remote manifest of ${key} at ${remote.url} is invalid (${read.reason}); removed there`,
    };
  }
  const manifest = read.manifest;
  const absent = options.declared.filter((o) => !(o in manifest.outputs));
  if (absent.length > 0) {
    await remote.removeCorrupt(key, []);
    return {
      state: "missing",
      warning: `the remote result of ${manifest.instance} lacks ${
        absent.join(", ")
      }; removed there`,
    };
  }
  const dir = await options.tempDir();
  try {
    const bad: { output: string; record: OutputRecord; why: string }[] = [];
    for (const [output, record] of Object.entries(manifest.outputs)) {
      if (await options.has(record)) continue;
      const path = join(dir, record.sha256);
      try {
        await remote.download(record, path);
      } catch (error) {
        bad.push({ output, record, why: (error as Error).message });
        continue;
      }
      const actual = await sha256File(path);
      if (actual.sha256 !== record.sha256 || actual.size !== record.size) {
        bad.push({ output, record, why: "content does not match its hash" });
        continue;
      }
      await options.adopt(path, record);
    }
    if (bad.length === 0) return { state: "ok", manifest };
    await remote.removeCorrupt(key, bad.map((b) => b.record));
    return {
      state: "missing",
      warning:
        `the remote result of ${manifest.instance} at ${remote.url} is corrupt (${
          bad.map((b) => `${b.output}: ${b.why}`).join("; ")
        }); removed there`,
    };
  } finally {
    await removeIfExists(dir);
  }
}
