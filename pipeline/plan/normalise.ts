/**
 * What of a source file can change behaviour: the JavaScript it runs as, printed canonically.
 *
 * A key must not move when an edit cannot change a result (a comment, `deno fmt`, a type-only
 * change) and must move for every edit that can. Hashing the bytes does the first badly; hashing
 * a token stream still sees quotes, trailing commas, optional parentheses and type annotations.
 * So each module is compiled the way it runs (TypeScript erased, type-only imports dropped, as
 * Deno does) and re-printed from its syntax tree by esbuild without whitespace or comments, its
 * syntax minified by rewrites that keep what the program does (braces, parentheses, constant
 * folding): two sources that print the same are the same program. Identifiers are kept (no
 * renaming), so a rename counts; esbuild's version is part of {@link NORMALISER} so that a new printer cannot make
 * two different programs look alike.
 *
 * esbuild runs as WebAssembly in this process (no subprocess, no native binary) and is loaded only
 * when a file's content has not been normalised before (see `code_memo.ts`), so a no-op run never
 * pays its ~0.2 s start.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { importLater } from "../lazy.ts";
import { loadEsbuildWasm } from "./esbuild_wasm.js";

/** The normaliser's identity: a memo made by another one is not reused. */
export const NORMALISER = "esbuild-wasm@0.28.2/ts-minify-whitespace-syntax/1";

type Esbuild = typeof import("esbuild-wasm/esm/browser.js");

let loading: Promise<Esbuild> | undefined;

async function load(): Promise<Esbuild> {
  const [esbuild, wasmModule] = await Promise.all([
    importLater<Esbuild>("esbuild-wasm/esm/browser.js"),
    loadEsbuildWasm(),
  ]);
  await esbuild.initialize({ wasmModule, worker: false });
  return esbuild;
}

/** What a script is once normalised. */
export interface NormalisedScript {
  /** The canonical JavaScript (no comments, no whitespace that carries no meaning). */
  code: string;
}

/**
 * The canonical JavaScript of a TypeScript or JavaScript module. A syntax error is a
 * {@link UserError} naming the file, since a key cannot be computed for code that does not parse.
 */
export async function normaliseScript(
  source: string,
  options: { path: string },
): Promise<NormalisedScript> {
  loading ??= load();
  const esbuild = await loading;
  const loader = /\.(m|c)?jsx?$/.test(options.path)
    ? (options.path.endsWith("x") ? "jsx" : "js")
    : (options.path.endsWith("x") ? "tsx" : "ts");
  try {
    const result = await esbuild.transform(source, {
      loader,
      format: "esm",
      target: "esnext",
      charset: "utf8",
      minifyWhitespace: true,
      // Semantics-preserving rewrites (redundant braces and parentheses, `a + 1 + 1`), so that
      // `deno fmt` adding braces around a statement that no longer fits a line counts for nothing.
      minifySyntax: true,
      legalComments: "none",
      sourcefile: options.path,
    });
    return { code: result.code };
  } catch (error) {
    const message = (error as Error).message.split("\n").slice(0, 3).join(
      " ",
    );
    throw new UserError(
      `${options.path} does not parse, so its stages' keys cannot be computed: ${message}`,
    );
  }
}
