/**
 * `verify`: re-hash the checked-out outputs and the cached objects of the current instances,
 * and check that their manifests are readable. Takes no lock and changes nothing.
 *
 * @module
 */
import { join } from "node:path";
import { type EngineOptions, planPipeline } from "./engine.ts";
import { statOrUndefined } from "./fs.ts";
import { sha256File } from "./plan/hash.ts";
import { readLockFile } from "./lock.ts";
import { openStore } from "./store/open.ts";
import { keysFromStore } from "./plan/stored_keys.ts";
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

/** What {@link verifyPipeline} found. */
export interface VerifyResult {
  /** Files and manifests checked. */
  checked: number;
  /** Every problem. */
  problems: VerifyProblem[];
  /**
   * Instances `pipeline.lock` names that were never computed or restored in this checkout (a
   * fresh clone of a committed lock): nothing of theirs to check, and not a problem.
   */
  notRunHere: string[];
}

/**
 * Re-hashes every checked-out output and store object of the current instances, and checks
 * that each manifest belongs to its key and instance.
 */
export async function verifyPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: EngineOptions,
): Promise<VerifyResult> {
  const plan = await planPipeline(pipeline, options);
  const store = openStore(plan.root);
  const lock = await readLockFile(plan.root);
  const problems: VerifyProblem[] = [];
  /** Instances the lock names whose result was never computed or restored here. */
  const notRunHere: string[] = [];
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
  const stored = await keysFromStore(plan, async (instance) => {
    const read = await store.readManifest(instance.key);
    return read.state === "ok" ? read.manifest : undefined;
  });
  for (const instance of plan.instances) {
    const entry = lock.instances[instance.name];
    const walked = stored.get(instance.name);
    if (walked === undefined) {
      // Its upstream has no result here: it has no key yet (not run yet, or not any more).
      if (entry !== undefined) notRunHere.push(instance.name);
      continue;
    }
    const key = walked.keyed.key;
    const checkedOut = entry !== undefined && entry.key === key;
    const read = await store.readManifest(key);
    if (read.state === "missing" && !checkedOut) {
      if (entry !== undefined) notRunHere.push(instance.name);
      continue;
    }
    if (checkedOut) {
      for (const [output, record] of Object.entries(entry.outputs)) {
        await check(instance.name, output, "workspace", {
          path: join(plan.root, entry.workspace, output),
          sha256: record.sha256,
        });
      }
    }
    if (read.state === "invalid" || read.state === "old-format") {
      checked++;
      problems.push({
        instance: instance.name,
        output: `${key}.json`,
        where: "manifest",
        problem: "corrupt",
        detail: read.state === "invalid"
          ? read.reason
          : `made by an older key format (${read.version})`,
      });
      continue;
    }
    if (read.state === "missing") {
      // A checked-out result whose cache entry is gone cannot be restored again.
      checked++;
      problems.push({
        instance: instance.name,
        output: `${key}.json`,
        where: "manifest",
        problem: "missing",
      });
      continue;
    }
    checked++;
    if (read.manifest.instance !== instance.name) {
      problems.push({
        instance: instance.name,
        output: `${key}.json`,
        where: "manifest",
        problem: "corrupt",
        detail: `it is the result of ${read.manifest.instance}`,
      });
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
  return { checked, problems, notRunHere };
}
