/**
 * Stage keys and why-stale reasons.
 *
 * The key is SHA-256 over one canonical record in fixed order: engine format, stage name,
 * item, resolved params, direct upstream keys (Merkle), code hash. Nothing else goes in (no
 * timestamps, no absolute paths), so a key means the same on any machine.
 *
 * @module
 */
import type { CodeFingerprint } from "./code_hash.ts";
import { canonicalJson, sha256Text } from "./hash.ts";
import { diffParams } from "./params.ts";
import type { Item } from "./types.ts";

/** Bumped when the meaning of a key record changes. */
export const KEY_FORMAT = "rdrop-pipeline/key/1";

/** Everything that goes into a key. */
export interface KeyRecord {
  /** Declaration name. */
  stage: string;
  /** Foreach item, or null. */
  item: Item | null;
  /** Resolved params. */
  params: unknown;
  /** Direct upstream instance name -> key. */
  upstream: Record<string, string>;
  /** Code fingerprint (per-file hashes and import-map targets). */
  code: CodeFingerprint;
}

/** The key of a record. */
export async function computeKey(record: KeyRecord): Promise<string> {
  const codeHash = await sha256Text(canonicalJson(record.code));
  return await sha256Text(canonicalJson([
    KEY_FORMAT,
    record.stage,
    record.item,
    record.params,
    record.upstream,
    codeHash,
  ]));
}

/** What the lock file remembers of an instance's last run, as far as reasons need it. */
export interface PreviousRecord {
  params: unknown;
  upstream: Record<string, string>;
  code: CodeFingerprint;
}

/**
 * Every reason why `current` differs from `previous`, word for word as status prints them:
 * `params changed (alpha 0.05 -> 0.1)`, `code changed (models/mlp.ts)`,
 * `dependency changed (zod npm:zod@4.6.7 -> npm:zod@4.7.0)`, `upstream changed (preprocess)`,
 * `upstream removed (train@1, train@2, train@3 and 4 more)`.
 */
export function changeReasons(
  previous: PreviousRecord,
  current: KeyRecord,
): string[] {
  const reasons: string[] = [];
  for (const change of diffParams(previous.params, current.params)) {
    reasons.push(`params changed (${change})`);
  }
  const files = unionKeys(previous.code.files, current.code.files);
  for (const file of files) {
    if (previous.code.files[file] !== current.code.files[file]) {
      reasons.push(`code changed (${file})`);
    }
  }
  for (const name of unionKeys(previous.code.packages, current.code.packages)) {
    const from = previous.code.packages[name] ?? "(none)";
    const to = current.code.packages[name] ?? "(none)";
    if (from !== to) {
      reasons.push(`dependency changed (${name} ${from} -> ${to})`);
    }
  }
  const added: string[] = [];
  const removed: string[] = [];
  for (const name of unionKeys(previous.upstream, current.upstream)) {
    if (!(name in previous.upstream)) added.push(name);
    else if (!(name in current.upstream)) removed.push(name);
    else if (previous.upstream[name] !== current.upstream[name]) {
      reasons.push(`upstream changed (${name})`);
    }
  }
  // A sweep's report has dozens of upstream instances: a plan without the sweep drops them all.
  if (added.length > 0) reasons.push(`upstream added (${nameList(added)})`);
  if (removed.length > 0) {
    reasons.push(`upstream removed (${nameList(removed)})`);
  }
  return reasons;
}

/** Up to three names, then how many more. */
function nameList(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(", ");
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>) {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}
