/**
 * Small WGSL code generators shared by the fused kernels: exact float constants, buffer
 * declarations, and one tiled matrix product that each kernel specialises with its own
 * operand loads and epilogue (WGSL has no generics or function pointers, so kernels are
 * generated as text).
 *
 * @module
 */

/** Every buffer a fused kernel may bind, by role. */
export type BufferRole =
  | "params"
  | "grads"
  | "m"
  | "v"
  | "acts"
  | "deltas"
  | "images"
  | "palette"
  | "labels"
  | "order"
  | "loss"
  | "step"
  | "batch";

/** A kernel: its WGSL module and which buffer goes to each binding (binding i = roles[i]). */
export interface KernelSource {
  /** Name, for error messages. */
  name: string;
  /** WGSL source with one entry point, `main`. */
  code: string;
  /** Buffer role of binding 0, 1, ... of group 0. */
  roles: BufferRole[];
}

/**
 * A float32 constant exactly as JS' `Math.fround(value)`: a hexadecimal float literal
 * (integer mantissa times a power of two), because a decimal literal is only guaranteed to
 * round to a neighbouring float (and WGSL compilers reject bitcast in constants).
 */
export function f32(value: number): string {
  const bits = new Uint32Array(Float32Array.of(value).buffer)[0];
  const sign = bits >>> 31 ? "-" : "";
  const exponent = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7fffff;
  if (exponent === 0xff) {
    throw new Error(`WGSL constant must be finite, got ${value}`);
  }
  if (exponent === 0) return `${sign}0x${fraction.toString(16)}p-149f`;
  return `${sign}0x${(0x800000 | fraction).toString(16)}p${exponent - 150}f`;
}

/** Element type of each role's array in WGSL. */
function elementType(role: BufferRole, imagesAsBytes: boolean): string {
  switch (role) {
    case "images":
      return imagesAsBytes ? "u32" : "f32";
    case "labels":
    case "order":
      return "u32";
    default:
      return "f32";
  }
}

/**
 * Declarations of a kernel's bindings: `step` is the per-step uniform block, every other
 * role a storage array; `written` roles are read_write, the rest read-only; `vec4` makes
 * float arrays `array<vec4<f32>>` (buffers are allocated in multiples of 16 bytes).
 */
export function declareBindings(
  roles: BufferRole[],
  options: { written: BufferRole[]; imagesAsBytes: boolean; vec4?: boolean },
): string {
  return roles.map((role, i) => {
    if (role === "step") {
      return `@group(0) @binding(${i}) var<uniform> step: StepParams;`;
    }
    const access = options.written.includes(role) ? "read_write" : "read";
    const element = elementType(role, options.imagesAsBytes);
    const type = options.vec4 && element === "f32" ? "vec4<f32>" : element;
    return `@group(0) @binding(${i}) var<storage, ${access}> ${role}: array<${type}>;`;
  }).join("\n");
}

/** Output rows of one matmul tile (uniform across the workgroup: see {@linkcode tileFunction}). */
export const TILE_ROWS = 8;
/** Invocations of a tile's workgroup (one dimension, along the output's columns). */
export const TILE_INVOCATIONS = 32;
/** Columns each invocation computes (strided by {@linkcode TILE_INVOCATIONS}). */
const BLOCK_COLS = 8;
/** Output columns of one matmul tile. */
export const TILE_COLS = TILE_INVOCATIONS * BLOCK_COLS;

/** A matrix product `out[row, col] = sum_k A[row, k] * B[k, col]` over one output tile. */
export interface TileSpec {
  /** Name of the generated function. */
  fn: string;
  /** WGSL expressions (uniform values) for the output's rows and columns and the depth. */
  rows: string;
  cols: string;
  depth: string;
  /** WGSL expression of `A[row, k]` for in-range `row` and `k` (both u32). */
  a: (row: string, k: string) => string;
  /** WGSL expression of `B[k, col]` for in-range `k` and `col`. */
  b: (k: string, col: string) => string;
  /** WGSL statements consuming `acc` (f32) at in-range `row`, `col`. */
  store: (row: string, col: string, acc: string) => string;
}

/**
 * A function `fn(tileRow: u32, tileCol: u32, lane: u32)` computing the output tile whose
 * first row and column are `tileRow`, `tileCol` with a workgroup of
 * {@linkcode TILE_INVOCATIONS} invocations (`lane` = local invocation index): invocation
 * `lane` accumulates in registers a block of the tile's {@linkcode TILE_ROWS} rows by its
 * columns `tileCol + lane + j * TILE_INVOCATIONS`. Per step of `k` it loads
 * `TILE_ROWS + BLOCK_COLS` operands for `TILE_ROWS * BLOCK_COLS` fmas: what bounds a
 * product on llvmpipe, which loads a storage buffer inside a loop lane by lane (8 scalar
 * loads, each behind an exec-mask and bounds branch, per vector load), so 8x8 blocks beat
 * the 4x4 ones before them by 1.3-1.5x there (4x8, 8x4, 16x4 and 16x8 measured no better
 * than 8x8). 32 invocations per workgroup measured as fast as 16 or 64 (128
 * slower) and give twice the workgroups of 64: more even shares for llvmpipe's
 * threads on a shared machine, and one warp on NVIDIA GPUs. On a GPU the rows are workgroup-uniform
 * (broadcast loads) and `B[k, col]` is read by neighbouring invocations at neighbouring
 * addresses (coalesced). No workgroup memory and no barriers (on a software adapter every
 * barrier is a switch between invocations). Each output still sums `k = 0, 1, ...` in
 * order with one fma per term, as before.
 */
export function tileFunction(spec: TileSpec): string {
  const rowsOf = [...Array(TILE_ROWS).keys()];
  const colsOf = [...Array(BLOCK_COLS).keys()];
  const pairs = rowsOf.flatMap((i) => colsOf.map((j) => [i, j]));
  const lines = (items: string[], indent: string) => items.join(`\n${indent}`);
  const stores = pairs.map(([i, j]) =>
    storeAt(
      `tileRow + ${i}u`,
      `tileCol + lane + ${j * TILE_INVOCATIONS}u`,
      `acc${i}_${j}`,
      spec,
    )
  );
  return `
fn ${spec.fn}(tileRow: u32, tileCol: u32, lane: u32) {
  let rows = ${spec.rows};
  let cols = ${spec.cols};
  let depth = ${spec.depth};
  ${lines(pairs.map(([i, j]) => `var acc${i}_${j} = 0.0;`), "  ")}
  // Out-of-range rows and columns compute a clamped duplicate that is never stored.
  ${
    lines(
      rowsOf.map((i) => `let row${i} = min(tileRow + ${i}u, rows - 1u);`),
      "  ",
    )
  }
  ${
    lines(
      colsOf.map((j) =>
        `let col${j} = min(tileCol + lane + ${
          j * TILE_INVOCATIONS
        }u, cols - 1u);`
      ),
      "  ",
    )
  }
  for (var k = 0u; k < depth; k++) {
    ${
    lines(colsOf.map((j) => `let b${j} = ${spec.b("k", `col${j}`)};`), "    ")
  }
    ${
    lines(
      rowsOf.map((i) =>
        `let a${i} = ${spec.a(`row${i}`, "k")};\n    ${
          colsOf.map((j) => `acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`)
            .join(" ")
        }`
      ),
      "    ",
    )
  }
  }
  ${lines(stores, "  ")}
}`;
}
function storeAt(
  row: string,
  col: string,
  acc: string,
  spec: TileSpec,
): string {
  return `{
    let row = ${row};
    let col = ${col};
    if (row < rows && col < cols) {
      ${spec.store("row", "col", acc)}
    }
  }`;
}
