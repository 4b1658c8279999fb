/**
 * The system's OpenBLAS through Deno FFI: found at run time in Debian's standard places
 * (package `libopenblas0-pthread`) or where `RDROP_BLAS_LIBRARY` points, loaded once per
 * process.
 *
 * Works under a scoped `--allow-ffi=<library paths>`: only calls into the library are
 * made. The strings OpenBLAS describes itself with (`openblas_get_config()`,
 * `openblas_get_corename()`) are C strings behind pointers, and reading through
 * `Deno.UnsafePointerView` (or offsetting a pointer) needs blanket FFI permission, so they
 * are copied into a buffer with the library's own `cblas_scopy` instead: `n` floats from
 * the pointer, growing `n` until a NUL byte shows up (at most 3 bytes past the string are
 * read, inside the library's read-only data).
 *
 * OpenBLAS picks its kernels by CPU detection; a user's `OPENBLAS_CORETYPE` reaches it
 * unchanged through the process environment (it is only read here to be shown).
 *
 * @module
 */
import { ModelError } from "../errors.ts";

/** Environment variable naming the library to load instead of the standard places. */
export const BLAS_LIBRARY_ENV = "RDROP_BLAS_LIBRARY";
/** OpenBLAS's own override of its CPU detection (passed through, never set here). */
export const CORETYPE_ENV = "OPENBLAS_CORETYPE";

/** Where Debian installs OpenBLAS (pthread variant first, then the alternatives link). */
export const STANDARD_BLAS_PATHS: readonly string[] = Object.freeze([
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
]);

/** The command that makes the native backend available on Debian/Ubuntu. */
export const BLAS_INSTALL_HINT = "apt-get install libopenblas0-pthread";

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  cblas_scopy: {
    parameters: ["i32", "pointer", "i32", "buffer", "i32"],
    result: "void",
  },
  cblas_saxpy: {
    parameters: ["i32", "f32", "buffer", "i32", "buffer", "i32"],
    result: "void",
  },
  cblas_sgemv: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_get_config: { parameters: [], result: "pointer" },
  openblas_get_corename: { parameters: [], result: "pointer" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
} as const;

type BlasLibrary = Deno.DynamicLibrary<typeof SYMBOLS>;

/** What was loaded, for run records and the report. */
export interface BlasInfo {
  /** The path given to dlopen. */
  library: string;
  /** `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64". */
  config: string;
  /** The version from the config string (e.g. "0.3.21"), or null if it has none. */
  version: string | null;
  /** `openblas_get_corename()`: the kernels in use, e.g. "Haswell", "SkylakeX", "Prescott". */
  coreName: string;
  /** The user's `OPENBLAS_CORETYPE`, or null when unset (or not readable). */
  coreTypeOverride: string | null;
}

/** `C = alpha * op(A) @ op(B) + beta * C`, row-major, `op` = transpose when the flag is set. */
export interface SgemmArgs {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  a: Float32Array;
  lda: number;
  b: Float32Array;
  ldb: number;
  beta: number;
  c: Float32Array;
  ldc: number;
}

/** `y = alpha * op(A) @ x + beta * y`, A row-major `[m, n]`, `op` = transpose when set. */
export interface SgemvArgs {
  trans: boolean;
  m: number;
  n: number;
  alpha: number;
  a: Float32Array;
  lda: number;
  x: Float32Array;
  beta: number;
  y: Float32Array;
}

/** A loaded BLAS. */
export interface Blas {
  /** What was loaded. */
  readonly info: BlasInfo;
  /** Single-precision matrix product (row-major). */
  sgemm(args: SgemmArgs): void;
  /** Single-precision matrix-vector product (row-major, unit strides). */
  sgemv(args: SgemvArgs): void;
  /** `y += alpha * x` over `x.length` floats (`y` at least as long). */
  saxpy(alpha: number, x: Float32Array, y: Float32Array): void;
  /** Sets the library's thread count (process-wide). */
  setThreads(threads: number): void;
  /** The library's current thread count. */
  threads(): number;
}

/** The outcome of looking for the library: loaded, or why not. */
export type BlasProbe =
  | { ok: true; blas: Blas }
  | { ok: false; reason: string };

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

function readEnv(name: string): string | null {
  const state = Deno.permissions.querySync({ name: "env", variable: name });
  if (state.state !== "granted") return null;
  const value = Deno.env.get(name);
  return value === undefined || value === "" ? null : value;
}

function copyCString(lib: BlasLibrary, pointer: Deno.PointerValue): string {
  if (pointer === null) return "";
  const buffer = new Uint8Array(1024);
  for (let floats = 1; floats * 4 <= buffer.length; floats++) {
    lib.symbols.cblas_scopy(floats, pointer, 1, buffer, 1);
    const end = buffer.subarray(0, floats * 4).indexOf(0);
    if (end >= 0) return new TextDecoder().decode(buffer.subarray(0, end));
  }
  return new TextDecoder().decode(buffer);
}

function wrap(lib: BlasLibrary, library: string): Blas {
  const config = copyCString(lib, lib.symbols.openblas_get_config());
  const info: BlasInfo = {
    library,
    config,
    version: /OpenBLAS\s+(\d+(?:\.\d+)+)/.exec(config)?.[1] ?? null,
    coreName: copyCString(lib, lib.symbols.openblas_get_corename()),
    coreTypeOverride: readEnv(CORETYPE_ENV),
  };
  const { cblas_sgemm: sgemm, cblas_sgemv: sgemv, cblas_saxpy: saxpy } =
    lib.symbols;
  return {
    info,
    sgemv(a) {
      sgemv(
        CBLAS_ROW_MAJOR,
        a.trans ? CBLAS_TRANS : CBLAS_NO_TRANS,
        a.m,
        a.n,
        a.alpha,
        a.a,
        a.lda,
        a.x,
        1,
        a.beta,
        a.y,
        1,
      );
    },
    saxpy(alpha, x, y) {
      if (y.length < x.length) {
        throw new ModelError(
          `saxpy: y has ${y.length} floats, x ${x.length}`,
        );
      }
      saxpy(x.length, alpha, x, 1, y, 1);
    },
    sgemm(a) {
      sgemm(
        CBLAS_ROW_MAJOR,
        a.transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
        a.transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
        a.m,
        a.n,
        a.k,
        a.alpha,
        a.a,
        a.lda,
        a.b,
        a.ldb,
        a.beta,
        a.c,
        a.ldc,
      );
    },
    setThreads(threads) {
      if (!Number.isInteger(threads) || threads < 1) {
        throw new ModelError(
          `BLAS threads must be a positive integer, got ${threads}`,
        );
      }
      lib.symbols.openblas_set_num_threads(threads);
    },
    threads: () => lib.symbols.openblas_get_num_threads(),
  };
}

function tryOpen(path: string): BlasProbe {
  const permission = Deno.permissions.querySync({ name: "ffi", path });
  if (permission.state !== "granted") {
    return {
      ok: false,
      reason: `${path} is not allowed by --allow-ffi (add it to the flag)`,
    };
  }
  try {
    return { ok: true, blas: wrap(Deno.dlopen(path, SYMBOLS), path) };
  } catch (error) {
    const message = (error as Error).message.split("\n")[0];
    return { ok: false, reason: `${path}: ${message}` };
  }
}

const cache = new Map<string, BlasProbe>();

/**
 * Looks for OpenBLAS: the path in `RDROP_BLAS_LIBRARY` when set (only there), else the
 * standard places in order. Loaded once per process and path; never throws.
 */
export function probeBlas(options: { path?: string } = {}): BlasProbe {
  const override = options.path ?? readEnv(BLAS_LIBRARY_ENV);
  const key = override ?? "";
  const known = cache.get(key);
  if (known) return known;
  let result: BlasProbe;
  if (override !== null) {
    const probe = tryOpen(override);
    result = probe.ok ? probe : {
      ok: false,
      reason: `${BLAS_LIBRARY_ENV}=${override} does not load (${
        probe.ok ? "" : probe.reason
      })`,
    };
  } else {
    const reasons: string[] = [];
    result = { ok: false, reason: "" };
    for (const path of STANDARD_BLAS_PATHS) {
      const probe = tryOpen(path);
      if (probe.ok) {
        result = probe;
        break;
      }
      reasons.push(probe.reason);
    }
    if (!result.ok) {
      // Missing files are the common case; anything else (permission, a broken file) is said.
      const other = reasons.filter((r) => !/No such file/i.test(r));
      result = {
        ok: false,
        reason: `no OpenBLAS found in ${STANDARD_BLAS_PATHS.join(", ")}${
          other.length > 0 ? ` (${other.join("; ")})` : ""
        }`,
      };
    }
  }
  cache.set(key, result);
  return result;
}

/** The error of backend "native" without a library: why, and how to get one. */
export function blasUnavailable(reason: string): ModelError {
  return new ModelError(
    `backend=native needs OpenBLAS: ${reason}. Install it with \`${BLAS_INSTALL_HINT}\`, ` +
      `point ${BLAS_LIBRARY_ENV} at a libopenblas.so, or use backend=wasm`,
  );
}

/** The loaded BLAS, or a {@linkcode ModelError} saying why there is none and how to get it. */
export function loadBlas(options: { path?: string } = {}): Blas {
  const probe = probeBlas(options);
  if (probe.ok) return probe.blas;
  throw blasUnavailable(probe.reason);
}
