/**
 * Every call to a remote store is bounded: each attempt has a timeout (a server that accepts the
 * connection and never answers counts as down), and a call that failed for a reason that can
 * pass (connection refused or reset, a 5xx or throttling answer, silence) is retried a few times
 * with growing pauses. Then it fails with one {@link RemoteUnavailableError} naming the endpoint,
 * what was asked and why, instead of the SDK's stack trace. Answers that will not change on a
 * retry (403, 404, 412) are returned to the caller at once.
 *
 * @module
 */
import { UserError } from "../errors.ts";

/** How long one attempt may take and how often a call is tried. */
export interface RetryPolicy {
  /** Attempts in all (1: no retry). */
  attempts: number;
  /** Milliseconds one attempt may take before it counts as unanswered. */
  timeoutMs: number;
  /** Pause before the second attempt; doubled before each further one. */
  backoffMs: number;
}

/**
 * The default: 4 attempts of at most 10 s, 1 s, 2 s and 4 s apart. A server that refuses
 * connections is given up on after about 7 s, a silent one after at most 47 s (for a transfer,
 * plus a second per MB). `AWS_MAX_ATTEMPTS` (the AWS SDKs' variable) sets the attempts.
 */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  timeoutMs: 10_000,
  backoffMs: 1_000,
};

/** The longest a call with `policy` can take before it fails (no transfer time). */
export function retryBoundMs(policy: RetryPolicy): number {
  let pauses = 0;
  for (let i = 1; i < policy.attempts; i++) {
    pauses += policy.backoffMs * 2 ** (i - 1);
  }
  return policy.attempts * policy.timeoutMs + pauses;
}

/** The remote store did not answer (or answered with server errors) on every attempt. */
export class RemoteUnavailableError extends UserError {
  /** `s3://bucket/prefix`. */
  readonly url: string;
  /** The server, e.g. `http://127.0.0.1:7480`, or `AWS`. */
  readonly endpoint: string;
  /** What was asked, e.g. `reading the manifest of 3fa2…`. */
  readonly what: string;
  /** Why the last attempt failed, in words. */
  readonly why: string;

  /** Creates the error; see the fields. */
  constructor(
    where: { url: string; endpoint: string },
    failure: { what: string; why: string; attempts: number; seconds: number },
  ) {
    super(
      `the remote store ${where.url} (${where.endpoint}) is unreachable: ${failure.what} failed ` +
        `${failure.attempts} time(s) over ${
          failure.seconds.toFixed(0)
        } s (${failure.why})`,
    );
    this.name = "RemoteUnavailableError";
    this.url = where.url;
    this.endpoint = where.endpoint;
    this.what = failure.what;
    this.why = failure.why;
  }
}

/** The {@link RemoteUnavailableError} inside `error` (a stage failure wraps it), if any. */
export function remoteUnavailableIn(
  error: unknown,
): RemoteUnavailableError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof RemoteUnavailableError) return e;
    e = e.cause;
  }
  return undefined;
}

/** Options of {@link withRetries}. */
export interface RetryOptions {
  /** Attempts, timeout and backoff. */
  policy: RetryPolicy;
  /** Extra milliseconds this call's attempts may take (a large transfer). */
  extraMs?: number;
  /** Where the store is, for the error. */
  where: { url: string; endpoint: string };
  /** What is asked, for the error (`reading the manifest of …`). */
  what: string;
  /** Pauses between attempts (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `attempt` with a signal that aborts it after the policy's timeout, again after a pause
 * when it failed for a passing reason; rethrows any other error at once.
 */
export async function withRetries<T>(
  attempt: (signal: AbortSignal) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { policy } = options;
  const sleep = options.sleep ??
    ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = performance.now();
  let why = "";
  for (let i = 0; i < policy.attempts; i++) {
    if (i > 0) await sleep(policy.backoffMs * 2 ** (i - 1));
    const timeoutMs = policy.timeoutMs + (options.extraMs ?? 0);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      // The race also ends an attempt whose client ignores the signal.
      return await Promise.race([
        attempt(controller.signal),
        new Promise<never>((_, reject) =>
          controller.signal.addEventListener(
            "abort",
            () => reject(new AttemptTimeout()),
            { once: true },
          )
        ),
      ]);
    } catch (error) {
      const passing = timedOut
        ? `no answer within ${timeoutMs / 1000} s`
        : transientReason(error);
      if (passing === undefined) throw error;
      why = passing;
    } finally {
      clearTimeout(timer);
    }
  }
  throw new RemoteUnavailableError(options.where, {
    what: options.what,
    why,
    attempts: policy.attempts,
    seconds: (performance.now() - started) / 1000,
  });
}

class AttemptTimeout extends Error {}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EAI_AGAIN: "name lookup failed",
  ECONNABORTED: "connection aborted",
};

/**
 * Why `error` may pass on a retry, in words (connection refused or reset, a 5xx or throttling
 * answer, a timeout); undefined when retrying cannot help (denied, not found, conflict, a bug).
 */
export function transientReason(error: unknown): string | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: number } })
    ?.$metadata?.httpStatusCode;
  const name = (error as { name?: string })?.name ?? "";
  if (status !== undefined && (status >= 500 || status === 429)) {
    return `the server answered ${status}${name === "" ? "" : ` ${name}`}`;
  }
  if (
    /^(SlowDown|ServiceUnavailable|InternalError|RequestTimeout)$/.test(name)
  ) {
    return `the server answered ${name}`;
  }
  if (/TimeoutError|RequestTimeout/.test(name)) return "the request timed out";
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code in NETWORK_CODES) {
      return NETWORK_CODES[code];
    }
    for (const [key, words] of Object.entries(NETWORK_CODES)) {
      if (e.message.includes(key)) return words;
    }
    if (/socket hang up|connection (was )?(reset|closed)/i.test(e.message)) {
      return "connection closed";
    }
    if (e instanceof Deno.errors.ConnectionRefused) return "connection refused";
    if (e instanceof Deno.errors.ConnectionReset) return "connection reset";
    e = e.cause;
  }
  return undefined;
}

/** The policy from the environment: `AWS_MAX_ATTEMPTS` when set to a positive integer. */
export function retryPolicyFromEnv(
  env: (name: string) => string | undefined,
): RetryPolicy {
  const attempts = Number(env("AWS_MAX_ATTEMPTS"));
  return Number.isInteger(attempts) && attempts > 0
    ? { ...DEFAULT_RETRY, attempts }
    : DEFAULT_RETRY;
}
