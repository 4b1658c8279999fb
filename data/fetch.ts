/**
 * Verified fetching of a gzip file from an ordered list of sources.
 *
 * A source is a directory, a `file://` URL or an `http(s)://` base URL; the file is
 * `<source>/<name>`. The first source that yields a copy whose **decompressed** content has
 * the expected SHA-256 wins. Bytes stream to a temporary file in the destination directory
 * while being decompressed and hashed in the same pass; the temporary file is renamed to
 * its final name only after verification and removed on any failure.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { DataError, FetchError, type SourceFailure } from "./errors.ts";
import type { DataFile } from "./fashion_mnist.ts";

/** Progress of one transfer, reported after every chunk. */
export interface FetchProgress {
  /** File name being fetched. */
  file: string;
  /** Source being read. */
  source: string;
  /** Compressed bytes received so far in this attempt. */
  bytes: number;
  /** Expected compressed size (HTTP `content-length` or file size), when known. */
  total?: number;
  /** 1-based attempt on this source; `bytes` restarts from 0 on each attempt. */
  attempt: number;
}

/** A failed HTTP attempt that will be retried after `delayMs`. */
export interface FetchRetry {
  /** File name being fetched. */
  file: string;
  /** Source being retried. */
  source: string;
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  /** Why the attempt failed. */
  reason: string;
  /** Wait before the next attempt. */
  delayMs: number;
}

/** Options of {@linkcode fetchVerified}. */
export interface FetchOptions {
  /** Ordered sources: directory paths, `file://` URLs or `http(s)://` base URLs. */
  sources: readonly string[];
  /** Directory that receives the verified file (created if missing). */
  destDir: string;
  /**
   * HTTP idle timeout in milliseconds: the longest wait for the response headers and
   * between two body chunks, so a stalled transfer fails too. Default 30000.
   */
  timeoutMs?: number;
  /** Extra attempts per HTTP source after a network error, timeout or 5xx/408/429. Default 2. */
  retries?: number;
  /** Delay before the first retry; doubles for each further retry. Default 1000. */
  retryDelayMs?: number;
  /** Called after every received chunk. */
  onProgress?: (progress: FetchProgress) => void;
  /** Called once per source that failed, before the next source is tried. */
  onSourceFailed?: (failure: SourceFailure & { file: string }) => void;
  /** Called before each retry of an HTTP source. */
  onRetry?: (retry: FetchRetry) => void;
  /** Aborts the whole fetch; the abort reason is rethrown as is. */
  signal?: AbortSignal;
}

/** The verified file and where it came from. */
export interface FetchResult {
  /** Path of the verified `.gz` file in `destDir`. */
  path: string;
  /** The source that yielded it, as given in `sources`. */
  source: string;
  /** Compressed size in bytes. */
  bytes: number;
  /** Decompressed size in bytes. */
  decompressedBytes: number;
  /** SHA-256 of the decompressed content (equal to the expected one). */
  sha256: string;
  /** Attempts made on the winning source (1 unless it was retried). */
  attempts: number;
  /** Sources tried before the winning one, with the reason each failed. */
  failures: SourceFailure[];
}

/** A parsed source. */
export type ParsedSource =
  | { kind: "dir"; path: string }
  | { kind: "http"; baseUrl: string };

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 2;
const DEFAULT_RETRY_DELAY_MS = 1000;

/**
 * Classifies a source string.
 *
 * @throws {DataError} for a URL scheme other than `file:`, `http:` and `https:`, or an empty source.
 */
export function parseSource(source: string): ParsedSource {
  if (source.trim() === "") {
    throw new DataError(
      "empty data source; give a directory, a file:// URL or an http(s):// base URL",
    );
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(source)?.[1]
    ?.toLowerCase();
  if (scheme === undefined) return { kind: "dir", path: source };
  if (scheme === "file") {
    try {
      return { kind: "dir", path: fileURLToPath(source) };
    } catch (error) {
      throw new DataError(
        `invalid file:// source ${source}: ${errorText(error)}`,
        { cause: error },
      );
    }
  }
  if (scheme === "http" || scheme === "https") {
    const url = new URL(source);
    if (!url.pathname.endsWith("/")) url.pathname += "/";
    return { kind: "http", baseUrl: url.href };
  }
  throw new DataError(
    `unsupported data source ${source}: use a directory, a file:// URL or an http(s):// base URL`,
  );
}

/** A failed attempt on one source; `retryable` says whether trying the same source again may help. */
class AttemptError extends Error {
  constructor(readonly reason: string, readonly retryable: boolean) {
    super(reason);
  }
}

/**
 * Fetches `file` from the first of `options.sources` that yields a verified copy and
 * stores it as `<destDir>/<file.name>`.
 *
 * @throws {FetchError} when every source fails; its message lists each source and why.
 * @throws {DataError} when a source string is malformed.
 */
export async function fetchVerified(
  file: DataFile,
  options: FetchOptions,
): Promise<FetchResult> {
  const parsed = options.sources.map((s) => ({
    source: s,
    parsed: parseSource(s),
  }));
  try {
    await Deno.mkdir(options.destDir, { recursive: true });
  } catch (error) {
    throw new DataError(
      `cannot create the destination directory ${options.destDir}: ${
        errorText(error)
      }`,
      { cause: error },
    );
  }
  const failures: SourceFailure[] = [];
  for (const { source, parsed: p } of parsed) {
    options.signal?.throwIfAborted();
    try {
      const result = p.kind === "dir"
        ? await fetchFromDir(file, source, p.path, options)
        : await fetchFromHttp(file, source, p.baseUrl, options);
      return { ...result, source, failures };
    } catch (error) {
      if (!(error instanceof AttemptError)) throw error;
      const failure = { source, reason: error.reason };
      failures.push(failure);
      options.onSourceFailed?.({ ...failure, file: file.name });
    }
  }
  throw new FetchError(file.name, failures);
}

/** Fetches several files one after the other with the same options; see {@linkcode fetchVerified}. */
export async function fetchAllVerified(
  files: readonly DataFile[],
  options: FetchOptions,
): Promise<FetchResult[]> {
  const results: FetchResult[] = [];
  for (const file of files) results.push(await fetchVerified(file, options));
  return results;
}

type Verified = Omit<FetchResult, "source" | "failures">;

async function fetchFromDir(
  file: DataFile,
  source: string,
  dir: string,
  options: FetchOptions,
): Promise<Verified> {
  const path = joinPath(dir, file.name);
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new AttemptError(`not found (${path})`, false);
    }
    throw new AttemptError(`cannot open ${path}: ${errorText(error)}`, false);
  }
  let total: number | undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile) {
      handle.close();
      throw new AttemptError(`${path} is not a regular file`, false);
    }
    total = info.size;
  } catch (error) {
    if (error instanceof AttemptError) throw error;
    handle.close();
    throw new AttemptError(`cannot stat ${path}: ${errorText(error)}`, false);
  }
  const verified = await storeVerified(handle.readable, file, options, {
    total,
    onChunk: (bytes) =>
      options.onProgress?.({
        file: file.name,
        source,
        bytes,
        total,
        attempt: 1,
      }),
    readFailure: (error) =>
      new AttemptError(`read error on ${path}: ${errorText(error)}`, false),
  });
  return { ...verified, attempts: 1 };
}

async function fetchFromHttp(
  file: DataFile,
  source: string,
  baseUrl: string,
  options: FetchOptions,
): Promise<Verified> {
  const url = new URL(file.name, baseUrl).href;
  const retries = options.retries ?? DEFAULT_RETRIES;
  const baseDelay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  for (let attempt = 1;; attempt++) {
    try {
      return {
        ...await httpAttempt(file, source, url, { ...options, attempt }),
        attempts: attempt,
      };
    } catch (error) {
      if (!(error instanceof AttemptError)) throw error;
      if (!error.retryable) throw error;
      if (attempt > retries) {
        const tries = attempt === 1 ? "1 attempt" : `${attempt} attempts`;
        throw new AttemptError(
          `${error.reason} (gave up after ${tries})`,
          false,
        );
      }
      const delayMs = baseDelay * 2 ** (attempt - 1);
      options.onRetry?.({
        file: file.name,
        source,
        attempt,
        reason: error.reason,
        delayMs,
      });
      await sleep(delayMs, options.signal);
    }
  }
}

async function httpAttempt(
  file: DataFile,
  source: string,
  url: string,
  options: FetchOptions & { attempt: number },
): Promise<Omit<Verified, "attempts">> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = new IdleTimeout(timeoutMs);
  const signal = options.signal
    ? AbortSignal.any([options.signal, timeout.signal])
    : timeout.signal;
  const userAborted = () => options.signal?.aborted === true;
  try {
    let response: Response;
    try {
      // identity: a mirror must not re-encode the .gz, or the body would arrive decompressed
      response = await fetch(url, {
        signal,
        headers: { "accept-encoding": "identity" },
      });
    } catch (error) {
      if (userAborted()) throw options.signal!.reason;
      if (timeout.fired) {
        throw new AttemptError(
          `no response within ${timeoutMs} ms (${url})`,
          true,
        );
      }
      if (
        error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied
      ) {
        // Retrying cannot help: the process lacks --allow-net for this host.
        throw new AttemptError(
          `no network permission: ${errorText(error)}`,
          false,
        );
      }
      throw new AttemptError(
        `network error: ${errorText(error)} (${url})`,
        true,
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      const status = response.status;
      const retryable = status >= 500 || status === 408 || status === 429;
      throw new AttemptError(
        `HTTP ${status} ${response.statusText} (${url})`.replace("  ", " "),
        retryable,
      );
    }
    if (response.body === null) {
      throw new AttemptError(`empty response body (${url})`, true);
    }
    const length = Number(response.headers.get("content-length") ?? NaN);
    const total = Number.isFinite(length) && length >= 0 ? length : undefined;
    timeout.reset();
    return await storeVerified(response.body, file, options, {
      total,
      onChunk: (bytes) => {
        timeout.reset();
        options.onProgress?.({
          file: file.name,
          source,
          bytes,
          total,
          attempt: options.attempt,
        });
      },
      readFailure: (error) => {
        if (userAborted()) return options.signal!.reason;
        if (timeout.fired) {
          return new AttemptError(
            `transfer stalled: no data for ${timeoutMs} ms (${url})`,
            true,
          );
        }
        return new AttemptError(
          `network error while downloading: ${errorText(error)} (${url})`,
          true,
        );
      },
    });
  } finally {
    timeout.clear();
  }
}

interface StoreHooks {
  total: number | undefined;
  onChunk: (bytes: number) => void;
  /** Maps an error thrown while reading the body to the error to throw. */
  readFailure: (error: unknown) => unknown;
}

/**
 * Streams `body` into a temporary file in `destDir` while gunzipping and hashing it; renames
 * the file to its final name only when the hash matches, and removes it otherwise.
 */
async function storeVerified(
  body: ReadableStream<Uint8Array<ArrayBuffer>>,
  file: DataFile,
  options: FetchOptions,
  hooks: StoreHooks,
): Promise<Omit<Verified, "attempts">> {
  const finalPath = joinPath(options.destDir, file.name);
  const tempPath = joinPath(
    options.destDir,
    `.${file.name}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  let out: Deno.FsFile;
  try {
    out = await Deno.open(tempPath, { write: true, createNew: true });
  } catch (error) {
    await body.cancel().catch(() => {});
    throw new DataError(
      `cannot write into ${options.destDir}: ${
        errorText(error)
      }; check that the directory is writable`,
      { cause: error },
    );
  }
  let outClosed = false;
  const reader = body.getReader();
  const gunzip = new DecompressionStream("gzip");
  const gzWriter = gunzip.writable.getWriter();
  const hash = createHash("sha256");
  let decompressedBytes = 0;
  const hashing = (async () => {
    for await (const chunk of gunzip.readable) {
      hash.update(chunk);
      decompressedBytes += chunk.length;
    }
  })();
  // Observed below; this only keeps an early gzip error from being reported as unhandled.
  hashing.catch(() => {});
  let success = false;
  let bytes = 0;
  try {
    while (true) {
      let step: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
      try {
        step = await reader.read();
      } catch (error) {
        throw hooks.readFailure(error);
      }
      if (step.done) break;
      const chunk = step.value;
      try {
        for (let off = 0; off < chunk.length;) {
          off += await out.write(chunk.subarray(off));
        }
      } catch (error) {
        throw new DataError(`cannot write ${tempPath}: ${errorText(error)}`, {
          cause: error,
        });
      }
      bytes += chunk.length;
      hooks.onChunk(bytes);
      try {
        await gzWriter.write(chunk);
      } catch (error) {
        throw badGzip(error);
      }
    }
    try {
      await gzWriter.close();
      await hashing;
    } catch (error) {
      throw badGzip(error);
    }
    if (hooks.total !== undefined && bytes !== hooks.total) {
      throw new AttemptError(
        `received ${bytes} bytes but expected ${hooks.total}`,
        true,
      );
    }
    const sha256 = hash.digest("hex");
    if (sha256 !== file.sha256) {
      throw new AttemptError(
        `SHA-256 mismatch of the decompressed content: got ${sha256}, expected ${file.sha256} (corrupt or different file)`,
        false,
      );
    }
    out.close();
    outClosed = true;
    await Deno.rename(tempPath, finalPath);
    success = true;
    return { path: finalPath, bytes, decompressedBytes, sha256 };
  } finally {
    if (!success) {
      await reader.cancel().catch(() => {});
      await gzWriter.abort().catch(() => {});
      await hashing.catch(() => {});
      if (!outClosed) out.close();
      await Deno.remove(tempPath).catch(() => {});
    }
  }
}

function badGzip(error: unknown): AttemptError {
  return new AttemptError(
    `not a valid gzip stream (${errorText(error)}): truncated or corrupt`,
    false,
  );
}

/** An abort signal that fires after `ms` without a {@linkcode IdleTimeout.reset}. */
class IdleTimeout {
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  fired = false;

  constructor(readonly ms: number) {
    this.reset();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  reset(): void {
    this.clear();
    this.#timer = setTimeout(() => {
      this.fired = true;
      this.#controller.abort(
        new DOMException(`idle for ${this.ms} ms`, "TimeoutError"),
      );
    }, this.ms);
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
