/**
 * Opens the store of a project root: the local store, with the remote level when one is given.
 *
 * @module
 */
import { LocalStore, type LocalStoreOptions } from "./local.ts";
import type { Store } from "./mod.ts";

/** The store of `root` (see {@link LocalStoreOptions}). */
export function openStore(
  root: string,
  options: LocalStoreOptions = {},
): Store {
  return new LocalStore(root, options);
}
