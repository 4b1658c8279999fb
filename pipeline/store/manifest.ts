/**
 * What the store records: a manifest per stage key (written last) naming its output objects by
 * SHA-256, and what a checkout records about each output.
 *
 * @module
 */
import { z } from "zod";
import { ItemSchema } from "../items.ts";
import type { StaleReason } from "../reasons.ts";

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

/** What a finished stage instance produced. Written last. */
export const Manifest = z.strictObject({
  version: z.literal(1),
  key: Sha256,
  stage: z.string(),
  instance: z.string(),
  item: ItemSchema.nullable(),
  params: z.unknown(),
  code: CodeRecord,
  upstream: z.record(z.string(), Sha256),
  outputs: z.record(z.string(), OutputRecord),
  seconds: z.number().nonnegative(),
  finishedAt: z.string(),
});
/** A validated manifest. */
export type Manifest = z.infer<typeof Manifest>;

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
  | { state: "invalid"; reason: string }
  | { state: "ok"; manifest: Manifest };

/** Why the result of a key cannot be restored, from its manifest read; undefined when it can. */
export function cacheReason(read: ManifestRead): StaleReason | undefined {
  switch (read.state) {
    case "ok":
      return undefined;
    case "missing":
      return { kind: "not-in-cache" };
    case "invalid":
      return { kind: "cache-entry-corrupt", detail: read.reason };
  }
}

/** Parses manifest text read for `key` (from disk or a remote). */
export function parseManifest(text: string, key: string): ManifestRead {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { state: "invalid", reason: (error as Error).message };
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    return {
      state: "invalid",
      reason: parsed.error.issues[0]?.message ?? "invalid",
    };
  }
  if (parsed.data.key !== key) {
    return { state: "invalid", reason: "key does not match file name" };
  }
  return { state: "ok", manifest: parsed.data };
}

/** Serialises a manifest the way every store writes it. */
export function manifestText(manifest: Manifest): string {
  return JSON.stringify(manifest, null, 2) + "\n";
}
