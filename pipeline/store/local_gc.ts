/**
 * What `gc` may delete from a local store: manifests of keys nobody keeps, objects no kept
 * manifest names, scratch dirs of other keys, temp dirs and temp files of killed runs.
 *
 * @module
 */
import { join } from "node:path";
import { isTempName, listDir } from "../fs.ts";
import type { LocalStore } from "./local.ts";
import type { GarbageItem } from "./mod.ts";

/** Lists garbage of `store` (paths relative to `options.root`). */
export async function findGarbage(
  store: LocalStore,
  options: {
    root: string;
    keep: ReadonlySet<string>;
    tempDirs: readonly string[];
  },
): Promise<GarbageItem[]> {
  const { root, keep } = options;
  const items: GarbageItem[] = [];
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
  const dirs = new Set([store.dir, runsDir, root, ...options.tempDirs]);
  for (const dir of dirs) {
    for (const entry of await listDir(dir)) {
      if (!entry.isFile || !isTempName(entry.name)) continue;
      const path = join(dir, entry.name);
      items.push({ kind: "temp", path: rel(path), bytes: await sizeOf(path) });
    }
  }
  return items;
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
