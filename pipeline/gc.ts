/**
 * `gc`: delete cached results that neither the current params nor the checked-out workspace
 * (`pipeline.lock`) use, plus scratch dirs and temp files left by killed runs. A dry run lists
 * what would go; a real one holds the run lock.
 *
 * @module
 */
import { join } from "node:path";
import { type EngineOptions, planPipeline } from "./engine.ts";
import { isTempName, listDir, removeIfExists } from "./fs.ts";
import { readLockFile } from "./lock.ts";
import { experimentKeys } from "./exp.ts";
import { acquireRunLock, type RunLockInfo } from "./run_lock.ts";
import { Store } from "./store.ts";
import type { PipelineDeclaration } from "./types.ts";

/** One thing gc deletes. */
export interface GcItem {
  /** What it is. */
  kind: "manifest" | "object" | "scratch" | "temp";
  /** Path relative to the project root. */
  path: string;
  /** Bytes it takes. */
  bytes: number;
  /** Stage instance of a manifest, when known. */
  instance?: string;
}

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
  const store = new Store(plan.root);
  const lock = options.dryRun ? undefined : await acquireRunLock(store.dir, {
    command: "gc",
    wait: options.wait,
    onWait: options.onWait,
  });
  try {
    const keep = new Set(plan.instances.map((instance) => instance.key));
    const lockFile = await readLockFile(plan.root);
    for (const entry of Object.values(lockFile.instances)) keep.add(entry.key);
    // Finished experiments (see exp.ts) stay until "exp remove" lets them go.
    for (const key of await experimentKeys(pipeline, plan.root)) keep.add(key);
    const tempDirs = new Set([
      store.dir,
      join(store.dir, "runs"),
      plan.root,
      ...plan.instances.map((instance) => join(plan.root, instance.workspace)),
    ]);
    const result = await garbage(plan.root, store, { keep, tempDirs });
    if (options.dryRun || result.items.length === 0) {
      return { ...result, kept: options.dryRun ?? false };
    }
    if (options.confirm !== undefined && !await options.confirm(result)) {
      return { ...result, kept: true };
    }
    for (const item of result.items) {
      await removeIfExists(join(plan.root, item.path));
    }
    return result;
  } finally {
    await lock?.release();
  }
}

async function garbage(
  root: string,
  store: Store,
  options: { keep: Set<string>; tempDirs: Set<string> },
): Promise<GcResult> {
  const { keep, tempDirs } = options;
  const items: GcItem[] = [];
  const rel = (path: string) => path.slice(root.length + 1);
  const keepObjects = new Set<string>();
  const runsDir = join(store.dir, "runs");
  for (const entry of await listDir(runsDir)) {
    if (!entry.name.endsWith(".json")) continue;
    const key = entry.name.slice(0, -".json".length);
    const read = await store.readManifest(key);
    if (keep.has(key) && read.state === "ok") {
      for (const record of Object.values(read.manifest.outputs)) {
        keepObjects.add(record.sha256);
      }
      continue;
    }
    const path = join(runsDir, entry.name);
    items.push({
      kind: "manifest",
      path: rel(path),
      bytes: await sizeOf(path),
      instance: read.state === "ok" ? read.manifest.instance : undefined,
    });
  }
  const objectsDir = join(store.dir, "objects");
  for (const prefix of await listDir(objectsDir)) {
    for (const entry of await listDir(join(objectsDir, prefix.name))) {
      if (keepObjects.has(prefix.name + entry.name)) continue;
      const path = join(objectsDir, prefix.name, entry.name);
      items.push({
        kind: "object",
        path: rel(path),
        bytes: await sizeOf(path),
      });
    }
  }
  for (const sub of ["scratch", "tmp"] as const) {
    for (const entry of await listDir(join(store.dir, sub))) {
      if (sub === "scratch" && keep.has(entry.name)) continue;
      const path = join(store.dir, sub, entry.name);
      items.push({
        kind: sub === "scratch" ? "scratch" : "temp",
        path: rel(path),
        bytes: await sizeOf(path),
      });
    }
  }
  // Temp files of killed runs (atomic writes that never got renamed).
  for (const dir of tempDirs) {
    for (const entry of await listDir(dir)) {
      if (!entry.isFile || !isTempName(entry.name)) continue;
      const path = join(dir, entry.name);
      items.push({ kind: "temp", path: rel(path), bytes: await sizeOf(path) });
    }
  }
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

async function sizeOf(path: string): Promise<number> {
  const info = await Deno.lstat(path);
  if (!info.isDirectory) return info.size;
  let total = 0;
  for (const entry of await listDir(path)) {
    total += await sizeOf(join(path, entry.name));
  }
  return total;
}
