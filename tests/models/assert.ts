/**
 * Minimal assertions for the models tests (`jsr:@std/assert` cannot be fetched here).
 *
 * @module
 */

/** Throws unless `|actual - expected| <= tolerance`. */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance: number,
  message = "",
): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new Error(
      `${
        message ? message + ": " : ""
      }expected ${expected} +- ${tolerance}, got ${actual}`,
    );
  }
}

/** Throws unless `actual === expected` (or deep-equal through JSON for objects). */
export function assertEquals(
  actual: unknown,
  expected: unknown,
  message = "",
): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) {
    throw new Error(`${message ? message + ": " : ""}expected ${e}, got ${a}`);
  }
}

/** Throws unless `condition` holds. */
export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  if (!condition) throw new Error(message);
}

/** Throws unless `fn` throws; returns the thrown error. */
export function assertThrows(
  fn: () => unknown,
  message = "expected a throw",
): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error(message);
}

/** Throws unless `promise` rejects; returns the rejection reason. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  message = "expected a rejection",
): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error(message);
}
