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
import { paramChanges } from "./params.ts";
import type { StaleReason } from "./reasons.ts";
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
 * Every reason why `current` differs from `previous`, in the order status lists them: params,
 * code files, dependencies, upstream changed, upstream added, upstream removed. Upstream
 * instances added or removed make one reason each way (a sweep's report has dozens).
 */
export function changeReasons(
  previous: PreviousRecord,
  current: KeyRecord,
): StaleReason[] {
  const reasons: StaleReason[] = paramChanges(previous.params, current.params)
    .map(({ path, from, to }) => ({ kind: "params", path, from, to }));
  const files = unionKeys(previous.code.files, current.code.files);
  for (const file of files) {
    if (previous.code.files[file] !== current.code.files[file]) {
      reasons.push({ kind: "code", file });
    }
  }
  for (const name of unionKeys(previous.code.packages, current.code.packages)) {
    const from = previous.code.packages[name];
    const to = current.code.packages[name];
    if (from !== to) reasons.push({ kind: "dependency", name, from, to });
  }
  const added: string[] = [];
  const removed: string[] = [];
  for (const name of unionKeys(previous.upstream, current.upstream)) {
    if (!(name in previous.upstream)) added.push(name);
    else if (!(name in current.upstream)) removed.push(name);
    else if (previous.upstream[name] !== current.upstream[name]) {
      reasons.push({ kind: "upstream", change: "changed", names: [name] });
    }
  }
  if (added.length > 0) {
    reasons.push({ kind: "upstream", change: "added", names: added });
  }
  if (removed.length > 0) {
    reasons.push({ kind: "upstream", change: "removed", names: removed });
  }
  return reasons;
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>) {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}
