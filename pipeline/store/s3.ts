/**
 * The shared remote store on S3-compatible storage, laid out like Bazel's remote cache:
 * `<prefix>objects/<aa>/<rest of sha256>` (content, uploaded with its SHA-256 checksum and
 * skipped when present), `<prefix>runs/<key>.json` (manifests, written last and create-only
 * with `If-None-Match: *`, so the first result for a key wins), and `<prefix>scratch/<key>/`
 * (job specs and checkpoints of running keys). Endpoint and credentials come from the standard
 * AWS variables, never from params, keys or the lock file.
 *
 * @module
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { UserError } from "../errors.ts";
import {
  type Manifest,
  type ManifestRead,
  manifestText,
  type OutputRecord,
  parseManifest,
} from "./manifest.ts";
import type { RemoteStore } from "./mod.ts";
import {
  DEFAULT_RETRY,
  RemoteUnavailableError,
  type RetryPolicy,
  retryPolicyFromEnv,
  withRetries,
} from "./remote_retry.ts";

/** Where a remote lives and how to reach it (from `PIPELINE_REMOTE`/config and AWS variables). */
export interface S3Location {
  /** Bucket name. */
  bucket: string;
  /** Key prefix, empty or ending in `/`. */
  prefix: string;
  /** `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`; undefined for AWS itself. */
  endpoint?: string;
  /** `AWS_REGION` / `AWS_DEFAULT_REGION`, default `us-east-1`. */
  region: string;
  /** Explicit keys from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; else the SDK's chain. */
  credentials?: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
  };
}

/** Test hooks (fault injection) and the retry policy. */
export interface S3Hooks {
  /** Called after a result's objects are uploaded, before its manifest is created. */
  beforeManifest?: (manifest: Manifest) => Promise<void> | void;
  /** Timeouts and retries of every call (default: `AWS_MAX_ATTEMPTS` or {@link DEFAULT_RETRY}). */
  retry?: RetryPolicy;
}

/** Parses `s3://bucket/prefix`; a UserError names `source` when it is malformed. */
export function parseS3Url(
  url: string,
  source: string,
): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/.*)?$/.exec(url);
  if (match === null) {
    throw new UserError(
      `${source} is ${
        JSON.stringify(url)
      }; write s3://BUCKET or s3://BUCKET/PREFIX`,
    );
  }
  const path = (match[2] ?? "").replace(/^\/+/, "");
  return {
    bucket: match[1],
    prefix: path === "" || path.endsWith("/") ? path : `${path}/`,
  };
}

/** A {@link RemoteStore} on S3. */
export class S3RemoteStore implements RemoteStore {
  /** `s3://bucket/prefix`. */
  readonly url: string;
  #loc: S3Location;
  #client: S3Client;
  #hooks: S3Hooks;
  #checked: Promise<void> | undefined;
  #probed: Promise<void> | undefined;
  #retry: RetryPolicy;

  /** Creates a client for `location` (nothing is contacted until {@link check}). */
  constructor(location: S3Location, hooks: S3Hooks = {}) {
    this.#loc = location;
    this.#hooks = hooks;
    this.url = `s3://${location.bucket}/${location.prefix}`;
    const config: S3ClientConfig = {
      region: location.region,
      // Checksums are sent explicitly (SHA-256 of each object); no others are added.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // Retries are this store's (see remote_retry.ts): each attempt bounded, one message at the end.
      maxAttempts: 1,
    };
    this.#retry = hooks.retry ?? policyFromEnv();
    if (location.endpoint !== undefined) {
      config.endpoint = location.endpoint;
      config.forcePathStyle = true;
    }
    if (location.credentials !== undefined) {
      config.credentials = location.credentials;
    }
    this.#client = new S3Client(config);
  }

  /** Checks access (and, with `publish`, that create-only writes are enforced), once. */
  async check(options: { publish: boolean }): Promise<void> {
    this.#checked ??= this.#checkAccess();
    await this.#checked;
    if (options.publish) {
      this.#probed ??= this.#probeConditionalWrites();
      await this.#probed;
    }
  }

  async #checkAccess(): Promise<void> {
    try {
      // A listing, not HeadBucket: its error body names the problem (HEAD has no body).
      await this.#send(
        (abortSignal) =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.#loc.bucket,
              Prefix: `${this.#loc.prefix}runs/`,
              MaxKeys: 1,
            }),
            { abortSignal },
          ),
        "listing the bucket",
      );
    } catch (error) {
      if (error instanceof RemoteUnavailableError) throw error;
      throw this.#accessError(error);
    }
  }

  #accessError(error: unknown): UserError {
    const name = (error as { name?: string }).name ?? "";
    const status = (error as { $metadata?: { httpStatusCode?: number } })
      .$metadata?.httpStatusCode;
    const where = `${this.url} (${this.#loc.endpoint ?? "AWS"})`;
    if (
      /CredentialsProviderError|Could not load credentials/i.test(
        `${name} ${(error as Error).message}`,
      )
    ) {
      return new UserError(
        `no credentials for the remote store ${where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      );
    }
    if (name === "InvalidAccessKeyId") {
      return new UserError(
        `the remote store ${where} does not know this access key: check AWS_ACCESS_KEY_ID`,
      );
    }
    if (name === "SignatureDoesNotMatch") {
      return new UserError(
        `the remote store ${where} rejected the signature: check AWS_SECRET_ACCESS_KEY`,
      );
    }
    if (status === 403 || name === "AccessDenied" || name === "Forbidden") {
      return new UserError(
        `the remote store ${where} denied access (${
          name || status
        }): check AWS_ACCESS_KEY_ID and ` +
          `AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's permissions`,
      );
    }
    if (status === 404 || name === "NotFound" || name === "NoSuchBucket") {
      return new UserError(
        `bucket ${this.#loc.bucket} does not exist at ${
          this.#loc.endpoint ?? "AWS"
        }: create it, or fix PIPELINE_REMOTE`,
      );
    }
    if (error instanceof Deno.errors.NotCapable) {
      return new UserError(
        `the pipeline task may not reach the remote store ${where} (${
          (error as Error).message
        }); add its host to --allow-net of deno.json's "pipeline" task`,
      );
    }
    return new UserError(
      `cannot reach the remote store ${where}: ${
        name || (error as Error).message
      }; check AWS_ENDPOINT_URL and the network`,
    );
  }

  /** Two create-only PUTs of one probe key: the second must fail, else publishing is refused. */
  async #probeConditionalWrites(): Promise<void> {
    const key = `${this.#loc.prefix}probe/${crypto.randomUUID()}`;
    const put = () =>
      this.#send(
        (abortSignal) =>
          this.#client.send(
            new PutObjectCommand({
              Bucket: this.#loc.bucket,
              Key: key,
              Body: new TextEncoder().encode("probe"),
              IfNoneMatch: "*",
            }),
            { abortSignal },
          ),
        "writing a probe object",
      );
    try {
      await put();
      let enforced = false;
      try {
        await put();
      } catch (error) {
        enforced = isPreconditionFailed(error);
        if (!enforced) throw error;
      }
      if (!enforced) {
        throw new UserError(
          `the remote store ${this.url} does not enforce create-only writes (If-None-Match: *): ` +
            `two machines could both publish a key, so nothing is published there; use a store ` +
            `that enforces them (AWS S3, Ceph radosgw) or unset PIPELINE_REMOTE`,
        );
      }
    } finally {
      await this.#delete(key).catch(() => {});
    }
  }

  /** Reads `runs/<key>.json`. */
  async readManifest(key: string): Promise<ManifestRead> {
    const text = await this.#getText(this.#manifestKey(key));
    return text === undefined ? { state: "missing" } : parseManifest(text, key);
  }

  /** Downloads `objects/<sha>` into `path`. */
  async download(record: OutputRecord, path: string): Promise<void> {
    const data = await this.#get(
      this.#objectKey(record.sha256),
      record.size,
    );
    if (data === undefined) throw new Error("object missing");
    await Deno.writeFile(path, data);
  }

  /** Uploads `path` as `objects/<sha>` with its SHA-256 checksum, unless present. */
  async upload(record: OutputRecord, path: string): Promise<void> {
    const key = this.#objectKey(record.sha256);
    const size = await this.#size(key);
    if (size === record.size) return;
    const body = await Deno.readFile(path);
    await this.#send(
      (abortSignal) =>
        this.#client.send(
          new PutObjectCommand({
            Bucket: this.#loc.bucket,
            Key: key,
            Body: body,
            // The server re-hashes the body and rejects it if these do not match (servers that
            // predate SHA-256 checksums, like radosgw 16, still check Content-MD5).
            ChecksumSHA256: hexToBase64(record.sha256),
            ContentMD5: createHash("md5").update(body).digest("base64"),
          }),
          { abortSignal },
        ),
      `uploading object ${record.sha256.slice(0, 12)}…`,
      transferMs(body.length),
    );
  }

  /** Creates `runs/<key>.json` unless it exists. */
  async createManifest(manifest: Manifest): Promise<"created" | "exists"> {
    await this.#hooks.beforeManifest?.(manifest);
    try {
      await this.#send(
        (abortSignal) =>
          this.#client.send(
            new PutObjectCommand({
              Bucket: this.#loc.bucket,
              Key: this.#manifestKey(manifest.key),
              Body: new TextEncoder().encode(manifestText(manifest)),
              ContentType: "application/json",
              IfNoneMatch: "*",
            }),
            { abortSignal },
          ),
        `publishing the manifest of ${manifest.instance}`,
      );
      return "created";
    } catch (error) {
      if (isPreconditionFailed(error)) return "exists";
      throw error;
    }
  }

  /** Deletes a corrupt result's manifest and bad objects. */
  async removeCorrupt(
    key: string,
    records: readonly OutputRecord[],
  ): Promise<void> {
    for (const record of records) {
      await this.#delete(this.#objectKey(record.sha256));
    }
    await this.#delete(this.#manifestKey(key));
  }

  /** Writes `scratch/<key>/<name>`. */
  async putScratch(key: string, name: string, data: Uint8Array): Promise<void> {
    await this.#send(
      (abortSignal) =>
        this.#client.send(
          new PutObjectCommand({
            Bucket: this.#loc.bucket,
            Key: this.#scratchKey(key, name),
            Body: data,
          }),
          { abortSignal },
        ),
      `writing scratch file ${name} of ${key.slice(0, 12)}…`,
      transferMs(data.length),
    );
  }

  /** Reads `scratch/<key>/<name>`. */
  getScratch(key: string, name: string): Promise<Uint8Array | undefined> {
    return this.#get(this.#scratchKey(key, name));
  }

  /** Lists `scratch/<key>/`. */
  async listScratch(key: string): Promise<string[]> {
    const prefix = this.#scratchKey(key, "");
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.#send(
        (abortSignal) =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.#loc.bucket,
              Prefix: prefix,
              ContinuationToken: token,
            }),
            { abortSignal },
          ),
        `listing the scratch files of ${key.slice(0, 12)}…`,
      );
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined) out.push(item.Key.slice(prefix.length));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  /** Deletes `scratch/<key>/`. */
  async removeScratch(key: string): Promise<void> {
    for (const name of await this.listScratch(key)) {
      await this.#delete(this.#scratchKey(key, name));
    }
  }

  /** Runs one call with a timeout per attempt and retries (see remote_retry.ts). */
  #send<T>(
    call: (abortSignal: AbortSignal) => Promise<T>,
    what: string,
    extraMs = 0,
  ): Promise<T> {
    return withRetries(call, {
      policy: this.#retry,
      extraMs,
      what,
      where: { url: this.url, endpoint: this.#loc.endpoint ?? "AWS" },
    });
  }

  #objectKey(sha256: string): string {
    return `${this.#loc.prefix}objects/${sha256.slice(0, 2)}/${
      sha256.slice(2)
    }`;
  }

  #manifestKey(key: string): string {
    return `${this.#loc.prefix}runs/${key}.json`;
  }

  #scratchKey(key: string, name: string): string {
    return `${this.#loc.prefix}scratch/${key}/${name}`;
  }

  async #get(key: string, size = 0): Promise<Uint8Array | undefined> {
    try {
      // The body is read inside the attempt: a server that stops mid-body is retried too.
      return await this.#send(
        async (abortSignal) => {
          const response = await this.#client.send(
            new GetObjectCommand({ Bucket: this.#loc.bucket, Key: key }),
            { abortSignal },
          );
          return await response.Body?.transformToByteArray();
        },
        `reading ${key}`,
        transferMs(size),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #getText(key: string): Promise<string | undefined> {
    const data = await this.#get(key);
    return data === undefined ? undefined : new TextDecoder().decode(data);
  }

  async #size(key: string): Promise<number | undefined> {
    try {
      const head: HeadObjectCommandOutput = await this.#send(
        (abortSignal) =>
          this.#client.send(
            new HeadObjectCommand({ Bucket: this.#loc.bucket, Key: key }),
            { abortSignal },
          ),
        `checking ${key}`,
      );
      return head.ContentLength;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #delete(key: string): Promise<void> {
    await this.#send(
      (abortSignal) =>
        this.#client.send(
          new DeleteObjectCommand({ Bucket: this.#loc.bucket, Key: key }),
          { abortSignal },
        ),
      `deleting ${key}`,
    );
  }
}

/** Extra time a transfer of `bytes` may take: one second per MB (a slow link, not a dead one). */
function transferMs(bytes: number): number {
  return Math.ceil(bytes / 1_000_000) * 1000;
}

/** The retry policy from `AWS_MAX_ATTEMPTS`, when this process may read it. */
function policyFromEnv(): RetryPolicy {
  try {
    return retryPolicyFromEnv((name) => Deno.env.get(name));
  } catch {
    return DEFAULT_RETRY;
  }
}

function status(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata
    ?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return name === "NoSuchKey" || name === "NotFound" || status(error) === 404;
}

function isPreconditionFailed(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  return name === "PreconditionFailed" || status(error) === 412 ||
    // A create-only PUT racing another one on the same key.
    name === "ConditionalRequestConflict" || status(error) === 409;
}

function hexToBase64(hex: string): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return btoa(String.fromCharCode(...bytes));
}
