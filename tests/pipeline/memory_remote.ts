/**
 * An in-memory remote store for tests (the real S3 one is exercised by tests/integration/), with
 * switches for a remote that fails or answers slowly.
 *
 * @module
 */
import type {
  Manifest,
  ManifestRead,
  OutputRecord,
  RemoteStore,
} from "../../pipeline/store/mod.ts";
import { manifestText, parseManifest } from "../../pipeline/store/manifest.ts";

/** A {@link RemoteStore} in memory: a plain map, with create-only manifests. */
export class MemoryRemote implements RemoteStore {
  readonly url = "mem://test/";
  objects = new Map<string, Uint8Array>();
  manifests = new Map<string, string>();
  log: string[] = [];
  /** Set: {@link check} rejects with it (bad credentials, server down). */
  checkError: Error | undefined;
  /** Set: every manifest read rejects with it. */
  readError: Error | undefined;
  /** Set: every upload and manifest write rejects with it (the server went down). */
  writeError: Error | undefined;
  /** Set: each manifest read waits for it first (a slow or silent server). */
  readDelay: (() => Promise<void>) | undefined;
  /** Manifest reads so far, and the most in flight at once. */
  reads = 0;
  maxInFlight = 0;
  #inFlight = 0;
  check() {
    return this.checkError === undefined
      ? Promise.resolve()
      : Promise.reject(this.checkError);
  }
  async readManifest(key: string): Promise<ManifestRead> {
    this.reads++;
    this.#inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    try {
      await this.readDelay?.();
      if (this.readError !== undefined) throw this.readError;
      const text = this.manifests.get(key);
      return text === undefined
        ? { state: "missing" }
        : parseManifest(text, key);
    } finally {
      this.#inFlight--;
    }
  }
  async download(record: OutputRecord, path: string) {
    const data = this.objects.get(record.sha256);
    if (data === undefined) throw new Error("object missing");
    await Deno.writeFile(path, data);
  }
  async upload(record: OutputRecord, path: string) {
    if (this.writeError !== undefined) throw this.writeError;
    if (this.objects.get(record.sha256)?.length === record.size) {
      this.log.push(`skip ${record.sha256.slice(0, 6)}`);
      return;
    }
    this.objects.set(record.sha256, await Deno.readFile(path));
    this.log.push(`object ${record.sha256.slice(0, 6)}`);
  }
  createManifest(manifest: Manifest) {
    if (this.manifests.has(manifest.key)) {
      return Promise.resolve("exists" as const);
    }
    this.manifests.set(manifest.key, manifestText(manifest));
    this.log.push(`manifest ${manifest.key.slice(0, 6)}`);
    return Promise.resolve("created" as const);
  }
  removeCorrupt(key: string, records: readonly OutputRecord[]) {
    for (const r of records) this.objects.delete(r.sha256);
    this.manifests.delete(key);
    this.log.push(`removed ${key.slice(0, 6)}`);
    return Promise.resolve();
  }
  putScratch() {
    return Promise.resolve();
  }
  getScratch() {
    return Promise.resolve(undefined);
  }
  listScratch() {
    return Promise.resolve([]);
  }
  removeScratch() {
    return Promise.resolve();
  }
}
