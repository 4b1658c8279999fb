/**
 * What the store records: a manifest per stage key (written last) naming its output objects by
 * SHA-256, and what a checkout records about each output.
 *
 * @module
 */
import { z } from "zod";
import { canonicalJson, sha256TextSync } from "../plan/hash.ts";
import { ItemSchema } from "../plan/items.ts";
import { keyOf } from "../plan/key_record.ts";
import type { StaleReason } from "../plan/reasons.ts";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One stored output file. */
export const OutputRecord = z.strictObject({
  sha256: Sha256,
  size: z.number().int().nonnegative(),
});
/** One stored output file. */
export type OutputRecord = z.infer<typeof OutputRecord>;

/** The code part of a key record. */
export const CodeRecord = z.strictObject({
  files: z.record(z.string(), Sha256),
  packages: z.record(z.string(), z.string()),
});

/** The manifest format this engine writes (1: keys made of upstream keys, before early cutoff). */
export const MANIFEST_VERSION = 2;

/**
 * What a finished stage instance produced. Written last. It holds its whole key record (stage,
 * item, params, code, inputs), so that reading it back can check it belongs to its key, and a
 * digest of everything else, so that an edit (an output pointed at another object) is caught.
 */
export const Manifest = z.strictObject({
  version: z.literal(MANIFEST_VERSION),
  key: Sha256,
  stage: z.string(),
  instance: z.string(),
  item: ItemSchema.nullable(),
  params: z.unknown(),
  code: CodeRecord,
  /** Direct upstream instance -> output file -> SHA-256: the inputs in its key. */
  inputs: z.record(z.string(), z.record(z.string(), Sha256)),
  /** Direct upstream instance -> the key of the result it read (provenance; not in its key). */
  upstream: z.record(z.string(), Sha256),
  outputs: z.record(z.string(), OutputRecord),
  seconds: z.number().nonnegative(),
  finishedAt: z.string(),
  /** SHA-256 of the canonical JSON of every other member. */
  digest: Sha256,
});
/** A validated manifest. */
export type Manifest = z.infer<typeof Manifest>;

/** The digest a manifest must carry: SHA-256 of its other members' canonical JSON. */
export function manifestDigest(manifest: Omit<Manifest, "digest">): string {
  const { digest: _ignored, ...rest } = manifest as Manifest;
  return sha256TextSync(canonicalJson(rest));
}

/** A manifest with its digest. */
export function sealManifest(manifest: Omit<Manifest, "digest">): Manifest {
  return { ...manifest, digest: manifestDigest(manifest) } as Manifest;
}

/** A checked-out output: the stored record plus the workspace file's mtime (ms). */
export const CheckedOutRecord = z.strictObject({
  sha256: Sha256,
  size: z.number().int().nonnegative(),
  mtime: z.number(),
});
/** A checked-out output. */
export type CheckedOutRecord = z.infer<typeof CheckedOutRecord>;

/** Result of reading a manifest. */
export type ManifestRead =
  | { state: "missing" }
  | { state: "old-format"; version: number }
  | { state: "invalid"; reason: string }
  | { state: "ok"; manifest: Manifest };

/** Why the result of a key cannot be restored, from its manifest read; undefined when it can. */
export function cacheReason(read: ManifestRead): StaleReason | undefined {
  switch (read.state) {
    case "ok":
      return undefined;
    case "missing":
      return { kind: "not-in-cache" };
    case "old-format":
      return { kind: "key-format" };
    case "invalid":
      return { kind: "cache-entry-corrupt", detail: read.reason };
  }
}

/**
 * Parses manifest text read for `key` (from disk or a remote) and checks that it belongs there:
 * its digest matches its content, its key is `key`, and its key record hashes to that key.
 */
export function parseManifest(text: string, key: string): ManifestRead {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { state: "invalid", reason: (error as Error).message };
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version < MANIFEST_VERSION) {
    return { state: "old-format", version };
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    return {
      state: "invalid",
      reason: parsed.error.issues[0]?.message ?? "invalid",
    };
  }
  const manifest = parsed.data;
  if (manifest.key !== key) {
    return { state: "invalid", reason: "key does not match file name" };
  }
  if (manifestDigest(manifest) !== manifest.digest) {
    return {
      state: "invalid",
      reason:
        "its content does not match its digest (edited after it was written)",
    };
  }
  const recordKey = keyOf({
    stage: manifest.stage,
    item: manifest.item,
    params: manifest.params,
    code: manifest.code,
    inputs: manifest.inputs,
  });
  if (recordKey !== key) {
    return {
      state: "invalid",
      reason:
        "its key record does not hash to its key (it belongs to another result)",
    };
  }
  return { state: "ok", manifest };
}

/** Serialises a manifest the way every store writes it. */
export function manifestText(manifest: Manifest): string {
  return JSON.stringify(manifest, null, 2) + "\n";
}
