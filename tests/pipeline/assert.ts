/**
 * The few assertions the tests use (jsr:@std/assert cannot be fetched here).
 *
 * @module
 */

/** Throws unless `condition` is truthy. */
export function assert(
  condition: unknown,
  message = "assertion failed",
): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep equality through canonical JSON (key order ignored). */
export function assertEquals(
  actual: unknown,
  expected: unknown,
  message?: string,
): void {
  const a = stable(actual);
  const b = stable(expected);
  if (a !== b) {
    throw new Error(
      `${message ?? "values differ"}\nactual:   ${a}\nexpected: ${b}`,
    );
  }
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_key, member) => {
    if (member instanceof Set) return [...member];
    if (member instanceof Map) return Object.fromEntries(member);
    if (
      member !== null && typeof member === "object" && !Array.isArray(member)
    ) {
      return Object.fromEntries(
        Object.keys(member).sort().map((
          k,
        ) => [k, (member as Record<string, unknown>)[k]]),
      );
    }
    return member === undefined ? "(undefined)" : member;
  });
}

/** Throws unless `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp): void {
  if (!pattern.test(text)) {
    throw new Error(`expected ${JSON.stringify(text)} to match ${pattern}`);
  }
}

/** Throws unless `fn` rejects with an instance of `type` (whose message includes `includes`). */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof type)) {
      throw new Error(`expected ${type.name}, got ${error}`);
    }
    if (includes !== undefined && !error.message.includes(includes)) {
      throw new Error(
        `expected message to include ${
          JSON.stringify(includes)
        }: ${error.message}`,
      );
    }
    return error;
  }
  throw new Error(`expected ${type.name} to be thrown`);
}
