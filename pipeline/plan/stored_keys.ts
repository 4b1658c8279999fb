/**
 * Keys from stored results: walks the plan upstream first, keying each instance from the
 * outputs of the stored results below it, for the commands that only look at what is stored
 * (verify, gc, push, pull, workers). An instance whose upstream has no stored result has no key
 * yet.
 *
 * @module
 */
import {
  type KeyedInstance,
  keyInstance,
  type OutputHashes,
  type Plan,
} from "./mod.ts";
import type { Manifest } from "../store/mod.ts";

/** One instance of the walk. */
export interface StoredKey {
  /** The instance with its key. */
  keyed: KeyedInstance;
  /** Its stored result, if `read` found one. */
  manifest?: Manifest;
}

/**
 * Keys every instance of `plan` (or of `names`) whose upstream results `read` finds, upstream
 * first; instance name -> its key and stored result.
 */
export async function keysFromStore(
  plan: Plan,
  read: (instance: KeyedInstance) => Promise<Manifest | undefined>,
  options: { names?: ReadonlySet<string> } = {},
): Promise<Map<string, StoredKey>> {
  const outputs = new Map<string, OutputHashes>();
  const found = new Map<string, StoredKey>();
  for (const instance of plan.instances) {
    if (options.names !== undefined && !options.names.has(instance.name)) {
      continue;
    }
    const keyed = keyInstance(instance, (dep) => outputs.get(dep));
    if (keyed === undefined) continue;
    const manifest = await read(keyed);
    if (manifest !== undefined) outputs.set(instance.name, manifest.outputs);
    found.set(instance.name, { keyed, manifest });
  }
  return found;
}
