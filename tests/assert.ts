/**
 * The assertions every test uses, built on `node:assert/strict` (`jsr:@std/assert` cannot be
 * fetched here). Signatures follow `@std/assert` so the tests would port unchanged.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** A class whose instances a thrown or rejected value must be. */
// deno-lint-ignore no-explicit-any
export type ErrorClass<E extends Error = Error> = new (...args: any[]) => E;

/** Asserts `condition` is truthy. */
export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  nodeAssert.ok(condition, message);
}

/**
 * Asserts deep strict equality (`node:assert`'s `deepStrictEqual`): prototypes, Sets, Maps and
 * typed arrays are compared as they are, and `NaN` equals `NaN`.
 */
export function assertEquals(
  actual: unknown,
  expected: unknown,
  message?: string,
): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts `|actual - expected| <= tolerance`. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  message?: string,
): void {
  nodeAssert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${message ? message + ": " : ""}expected ${expected} ± ${tolerance}, ` +
      `got ${actual}`,
  );
}

/** Asserts `text` contains `part`. */
export function assertStringIncludes(
  text: string,
  part: string,
  message?: string,
): void {
  nodeAssert.ok(
    text.includes(part),
    `${message ? message + ": " : ""}expected text to include ` +
      `${JSON.stringify(part)}:\n${text.slice(0, 2000)}`,
  );
}

/** Asserts `text` matches `pattern`. */
export function assertMatch(
  text: string,
  pattern: RegExp,
  message?: string,
): void {
  nodeAssert.match(text, pattern, message);
}

/** Asserts `value` is an instance of `type`. */
export function assertInstanceOf<T>(
  value: unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => T,
  message?: string,
): asserts value is T {
  nodeAssert.ok(
    value instanceof type,
    message ?? `expected an instance of ${type.name}, got ${String(value)}`,
  );
}

/** Asserts `fn` throws anything, and returns what it threw. */
export function assertThrows(fn: () => unknown): unknown;
/**
 * Asserts `fn` throws an instance of `type` (whose message includes `includes`, when given), and
 * returns the error.
 */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  type: ErrorClass<E>,
  includes?: string,
): E;
export function assertThrows<E extends Error>(
  fn: () => unknown,
  type?: ErrorClass<E>,
  includes?: string,
): unknown {
  try {
    fn();
  } catch (error) {
    return checkError(error, type, includes);
  }
  throw new nodeAssert.AssertionError({
    message: type ? `expected ${type.name} to be thrown` : "expected a throw",
  });
}

/** Asserts the promise from `fn` rejects with anything, and returns the reason. */
export function assertRejects(fn: () => Promise<unknown>): Promise<unknown>;
/**
 * Asserts the promise from `fn` rejects with an instance of `type` (whose message includes
 * `includes`, when given), and returns the error.
 */
export function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: ErrorClass<E>,
  includes?: string,
): Promise<E>;
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type?: ErrorClass<E>,
  includes?: string,
): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, type, includes);
  }
  throw new nodeAssert.AssertionError({
    message: type
      ? `expected ${type.name} to be rejected`
      : "expected a rejection",
  });
}

function checkError<E extends Error>(
  error: unknown,
  type: ErrorClass<E> | undefined,
  includes: string | undefined,
): unknown {
  if (type === undefined) return error;
  assertInstanceOf(error, type, `expected ${type.name}, got ${String(error)}`);
  if (includes && !error.message.includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `expected the message to include ${JSON.stringify(includes)}: ` +
        error.message,
    });
  }
  return error;
}
