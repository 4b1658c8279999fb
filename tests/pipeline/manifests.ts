/**
 * Valid manifests for tests: the key is that of the record and the digest is sealed, as a stage
 * run writes them, so a test that wants a broken one breaks it on purpose.
 *
 * @module
 */
import { keyOf } from "../../pipeline/plan/key_record.ts";
import {
  type Manifest,
  MANIFEST_VERSION,
  sealManifest,
} from "../../pipeline/store/manifest.ts";

/** A sealed manifest whose key is that of its record; every field has a default. */
export function testManifest(
  fields: Partial<Omit<Manifest, "key" | "digest" | "version">> = {},
): Manifest {
  const record = {
    stage: fields.stage ?? "s",
    item: fields.item ?? null,
    params: fields.params ?? {},
    code: fields.code ?? { files: {}, packages: {} },
    inputs: fields.inputs ?? {},
  };
  return sealManifest({
    version: MANIFEST_VERSION,
    key: keyOf(record),
    ...record,
    instance: fields.instance ?? record.stage,
    upstream: fields.upstream ?? {},
    outputs: fields.outputs ?? {},
    seconds: fields.seconds ?? 1,
    finishedAt: fields.finishedAt ?? new Date(0).toISOString(),
  });
}
