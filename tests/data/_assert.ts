/**
 * Minimal assertions for tests/data (jsr:@std/assert cannot be fetched here), built on node:assert.
 */
import nodeAssert from "node:assert/strict";

/** Asserts `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Asserts deep strict equality. */
export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts `text` contains `part`. */
export function assertStringIncludes(text: string, part: string): void {
  nodeAssert.ok(
    text.includes(part),
    `expected ${JSON.stringify(text)} to include ${JSON.stringify(part)}`,
  );
}

/** Asserts `value` is an instance of `type`. */
export function assertInstanceOf<T>(
  value: unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => T,
): asserts value is T {
  nodeAssert.ok(
    value instanceof type,
    `expected an instance of ${type.name}, got ${String(value)}`,
  );
}

/** Asserts `fn` throws an instance of `type`, and returns the error. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): E {
  try {
    fn();
  } catch (error) {
    assertInstanceOf(error, type);
    return error;
  }
  throw new nodeAssert.AssertionError({
    message: `expected ${type.name} to be thrown`,
  });
}

/** Asserts the promise from `fn` rejects with an instance of `type`, and returns the error. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    assertInstanceOf(error, type);
    return error;
  }
  throw new nodeAssert.AssertionError({
    message: `expected ${type.name} to be rejected`,
  });
}
