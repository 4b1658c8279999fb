/**
 * The key record and its hash: what a key is made of, as one leaf module that planning, the
 * stores (to check that a manifest belongs to its key) and workers share.
 *
 * The key is SHA-256 over one canonical record in fixed order: key format, stage name, item,
 * resolved params, the content hashes of the upstream outputs the instance reads, code hash.
 * Upstream outputs, not upstream keys: an upstream that reruns and reproduces its outputs leaves
 * every key below it as it was (early cutoff, as in Bazel's action cache or Shake). Nothing else
 * goes in (no timestamps, no absolute paths), so a key means the same on any machine.
 *
 * @module
 */
import { canonicalJson, sha256TextSync } from "./hash.ts";
import type { Item } from "../types.ts";

/** Bumped when the meaning of a key record changes. */
export const KEY_FORMAT = "rdrop-pipeline/key/2";

/** What a stage's code hash is made of. */
export interface CodeFingerprint {
  /** Root-relative path (forward slashes) -> SHA-256 of the file's normalised code (or bytes). */
  files: Record<string, string>;
  /** Bare specifier as imported (`zod`) -> its import-map target (`npm:zod@4.6.7`). */
  packages: Record<string, string>;
}

/**
 * The upstream outputs an instance reads: direct upstream instance name -> output file ->
 * SHA-256 of its content.
 */
export type InputHashes = Record<string, Record<string, string>>;

/** What goes into a key besides the upstream outputs: known when the instance is planned. */
export interface InstanceRecord {
  /** Declaration name. */
  stage: string;
  /** Foreach item, or null. */
  item: Item | null;
  /** Resolved params. */
  params: unknown;
  /** Code fingerprint (per-file normalised hashes and import-map targets). */
  code: CodeFingerprint;
}

/** Everything that goes into a key. */
export interface KeyRecord extends InstanceRecord {
  /** The upstream outputs it reads, by content. */
  inputs: InputHashes;
}

/** The key of a record. */
export function keyOf(record: KeyRecord): string {
  const codeHash = sha256TextSync(canonicalJson(record.code));
  return sha256TextSync(canonicalJson([
    KEY_FORMAT,
    record.stage,
    record.item,
    record.params,
    record.inputs,
    codeHash,
  ]));
}
