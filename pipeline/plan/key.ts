/**
 * Stage keys (`plan/key_record.ts`) and why-stale reasons: every difference between what an
 * instance last ran with and what its key holds now.
 *
 * @module
 */
import { canonicalJson } from "./hash.ts";
import {
  type CodeFingerprint,
  type InputHashes,
  type KeyRecord,
} from "./key_record.ts";
import { paramChanges } from "./params.ts";
import type { StaleReason } from "./reasons.ts";

export {
  type CodeFingerprint,
  type InputHashes,
  type InstanceRecord,
  KEY_FORMAT,
  keyOf,
  type KeyRecord,
} from "./key_record.ts";

/** What the lock file remembers of an instance's last run, as far as reasons need it. */
export interface PreviousRecord {
  params: unknown;
  inputs: InputHashes;
  code: CodeFingerprint;
}

/**
 * Every reason why `current` differs from `previous`, in the order status lists them: params,
 * code files, dependencies, upstream outputs changed, upstream added, upstream removed. Upstream
 * instances added or removed make one reason each way (a sweep's report has dozens).
 */
export function changeReasons(
  previous: PreviousRecord,
  current: Omit<KeyRecord, "stage" | "item">,
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
  for (const name of unionKeys(previous.inputs, current.inputs)) {
    if (!(name in previous.inputs)) added.push(name);
    else if (!(name in current.inputs)) removed.push(name);
    else if (
      canonicalJson(previous.inputs[name]) !==
        canonicalJson(current.inputs[name])
    ) {
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
