/**
 * Minimal assertions for the report tests (`jsr:@std/assert` cannot be fetched here).
 *
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";

/** Throws when `condition` is falsy. */
export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep strict equality. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): void {
  deepStrictEqual(actual, expected, message);
}

/** |actual - expected| <= tolerance. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(`expected ${expected} ± ${tolerance}, got ${actual}`);
  }
}

/** `text` contains `part`. */
export function assertStringIncludes(text: string, part: string): void {
  if (!text.includes(part)) {
    throw new Error(
      `expected text to include ${JSON.stringify(part)}:\n${
        text.slice(0, 2000)
      }`,
    );
  }
}

/** `fn` throws an instance of `errorClass` (and returns it). */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClass: new (...args: any[]) => E,
  messageIncludes?: string,
): E {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof errorClass)) {
      throw new Error(`expected ${errorClass.name}, got ${e}`);
    }
    if (messageIncludes && !e.message.includes(messageIncludes)) {
      throw new Error(
        `error message lacks ${JSON.stringify(messageIncludes)}: ${e.message}`,
      );
    }
    return e;
  }
  throw new Error(`expected ${errorClass.name} to be thrown`);
}

/** Async variant of {@link assertThrows}. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  errorClass: new (...args: any[]) => E,
  messageIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof errorClass)) {
      throw new Error(`expected ${errorClass.name}, got ${e}`);
    }
    if (messageIncludes && !e.message.includes(messageIncludes)) {
      throw new Error(
        `error message lacks ${JSON.stringify(messageIncludes)}: ${e.message}`,
      );
    }
    return e;
  }
  throw new Error(`expected ${errorClass.name} to be rejected`);
}
