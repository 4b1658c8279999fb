/**
 * `verify`: re-hash the checked-out outputs and the cached objects of the current instances,
 * and check that their manifests are readable. Takes no lock and changes nothing.
 *
 * @module
 */
import { join } from "node:path";
import { type EngineOptions, planPipeline } from "./engine.ts";
import { statOrUndefined } from "./fs.ts";
import { sha256File } from "./hash.ts";
import { readLockFile } from "./lock.ts";
import { openStore } from "./store/open.ts";
import type { PipelineDeclaration } from "./types.ts";

/** One problem found by {@link verifyPipeline}. */
export interface VerifyProblem {
  /** Instance name. */
  instance: string;
  /** Output path (the manifest's file name for a bad manifest). */
  output: string;
  /** Which copy is bad: the checked-out file, the cached object, or the cache entry itself. */
  where: "workspace" | "store" | "manifest";
  /** What is wrong. */
  problem: "missing" | "corrupt";
  /** Why a manifest is corrupt. */
  detail?: string;
}

/** Re-hashes every checked-out output and store object of the current instances. */
export async function verifyPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: EngineOptions,
): Promise<{ checked: number; problems: VerifyProblem[] }> {
  const plan = await planPipeline(pipeline, options);
  const store = openStore(plan.root);
  const lock = await readLockFile(plan.root);
  const problems: VerifyProblem[] = [];
  let checked = 0;
  const check = async (
    instance: string,
    output: string,
    where: "workspace",
    file: { path: string; sha256: string },
  ) => {
    checked++;
    const info = await statOrUndefined(file.path);
    if (info === undefined) {
      problems.push({ instance, output, where, problem: "missing" });
    } else if ((await sha256File(file.path)).sha256 !== file.sha256) {
      problems.push({ instance, output, where, problem: "corrupt" });
    }
  };
  for (const instance of plan.instances) {
    const entry = lock.instances[instance.name];
    const checkedOut = entry !== undefined && entry.key === instance.key;
    if (checkedOut) {
      for (const [output, record] of Object.entries(entry.outputs)) {
        await check(instance.name, output, "workspace", {
          path: join(plan.root, entry.workspace, output),
          sha256: record.sha256,
        });
      }
    }
    const read = await store.readManifest(instance.key);
    if (read.state === "invalid") {
      checked++;
      problems.push({
        instance: instance.name,
        output: `${instance.key}.json`,
        where: "manifest",
        problem: "corrupt",
        detail: read.reason,
      });
      continue;
    }
    if (read.state === "missing") {
      // A checked-out result whose cache entry is gone cannot be restored again.
      if (checkedOut) {
        checked++;
        problems.push({
          instance: instance.name,
          output: `${instance.key}.json`,
          where: "manifest",
          problem: "missing",
        });
      }
      continue;
    }
    checked += Object.keys(read.manifest.outputs).length;
    for (const bad of await store.checkObjects(read.manifest)) {
      problems.push({
        instance: instance.name,
        output: bad.output,
        where: "store",
        problem: bad.problem,
      });
    }
  }
  return { checked, problems };
}
