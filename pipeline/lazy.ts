/**
 * Importing a module only when the import runs.
 *
 * Before a program starts, Deno loads the module graph of every dynamic import whose specifier
 * is a string literal, taken or not: a literal `import("./store/s3.ts")` makes every command pay
 * for loading the S3 SDK (tfjs, vega and esbuild likewise), ~0.1 s each. A specifier computed at
 * run time is resolved only when the import runs. What a stage loads this way is not seen by the
 * code hasher either, so a stage names such modules in its declaration's `codeFor`.
 *
 * @module
 */

/** Imports `specifier` (a URL, a relative path resolved against `base`, or a bare specifier). */
export function importLater<T>(
  specifier: string | URL,
  base?: string | URL,
): Promise<T> {
  const resolved = base === undefined || specifier instanceof URL
    ? String(specifier)
    : new URL(specifier, base).href;
  return import(resolved);
}
