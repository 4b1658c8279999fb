/**
 * `gc`: delete cached results that neither the current params nor the checked-out workspace
 * (`pipeline.lock`) use, plus scratch dirs and temp files left by killed runs. A dry run lists
 * what would go; a real one holds the run lock.
 *
 * @module
 */
import { join } from "node:path";
import { type EngineOptions, planPipeline } from "./engine.ts";
import { experimentKeys } from "./exp.ts";
import { readLockFile } from "./lock.ts";
import { openStore } from "./store/open.ts";
import { keysFromStore } from "./plan/stored_keys.ts";
import type { GarbageItem, RunLockInfo } from "./store/mod.ts";
import type { PipelineDeclaration } from "./types.ts";

/** One thing gc deletes. */
export type GcItem = GarbageItem;

/** What {@link collectGarbage} removed (or, with `dryRun`, would remove). */
export interface GcResult {
  /** Manifests removed. */
  manifests: number;
  /** Objects removed. */
  objects: number;
  /** Scratch dirs, temp dirs and temp files removed. */
  dirs: number;
  /** Bytes freed (objects + scratch + temp). */
  bytes: number;
  /** Every item, in the order it is removed. */
  items: GcItem[];
  /** True when nothing was removed: a dry run, or the confirmation said no. */
  kept: boolean;
}

/** Options of {@link collectGarbage}. */
export interface GcOptions extends EngineOptions {
  /** List what would go; remove nothing and take no lock. */
  dryRun?: boolean;
  /** Wait for a running pipeline instead of refusing. */
  wait?: boolean;
  /** Called once when waiting for the run lock starts. */
  onWait?: (holder: RunLockInfo | undefined) => void;
  /** Asked (under the run lock) before anything is removed; false keeps everything. */
  confirm?: (result: GcResult) => Promise<boolean>;
}

/**
 * Removes manifests, objects and scratch dirs that neither the current params' keys nor
 * `pipeline.lock` (what is checked out) reach, and temp files of killed runs.
 */
export async function collectGarbage<S extends PipelineDeclaration>(
  pipeline: S,
  options: GcOptions,
): Promise<GcResult> {
  const plan = await planPipeline(pipeline, options);
  const store = openStore(plan.root);
  const lock = options.dryRun ? undefined : await store.lockRun({
    command: "gc",
    wait: options.wait,
    onWait: options.onWait,
  });
  try {
    // Every current instance whose upstream results are stored has a key; a result is kept
    // if a key of the current params, the checked-out lock or an experiment names it.
    const stored = await keysFromStore(plan, async (instance) => {
      const read = await store.readManifest(instance.key);
      return read.state === "ok" ? read.manifest : undefined;
    });
    const keep = new Set([...stored.values()].map(({ keyed }) => keyed.key));
    const lockFile = await readLockFile(plan.root);
    for (const entry of Object.values(lockFile.instances)) keep.add(entry.key);
    // Finished experiments (see exp.ts) stay until "exp remove" lets them go.
    for (const key of await experimentKeys(pipeline, plan.root)) keep.add(key);
    const items = await store.findGarbage(keep, {
      tempDirs: plan.instances.map((i) => join(plan.root, i.workspace)),
    });
    const result = summarise(items);
    if (options.dryRun || result.items.length === 0) {
      return { ...result, kept: options.dryRun ?? false };
    }
    if (options.confirm !== undefined && !await options.confirm(result)) {
      return { ...result, kept: true };
    }
    await store.removeGarbage(result.items);
    return result;
  } finally {
    await lock?.release();
  }
}

function summarise(items: GcItem[]): GcResult {
  const count = (kind: GcItem["kind"]) =>
    items.filter((item) => item.kind === kind).length;
  return {
    manifests: count("manifest"),
    objects: count("object"),
    dirs: count("scratch") + count("temp"),
    bytes: items.reduce((sum, item) => sum + item.bytes, 0),
    items,
    kept: false,
  };
}
