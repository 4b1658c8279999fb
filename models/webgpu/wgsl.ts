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
  | "probe";

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
    case "probe":
      return "u32";
    default:
      return "f32";
  }
}

/**
 * Declarations of a kernel's bindings: `step` is the per-step uniform block, every other
 * role a storage array; `written` roles are read_write, the rest read-only.
 */
export function declareBindings(
  roles: BufferRole[],
  options: { written: BufferRole[]; imagesAsBytes: boolean },
): string {
  return roles.map((role, i) => {
    if (role === "step") {
      return `@group(0) @binding(${i}) var<uniform> step: StepParams;`;
    }
    const access = options.written.includes(role) ? "read_write" : "read";
    return `@group(0) @binding(${i}) var<storage, ${access}> ${role}: array<${
      elementType(role, options.imagesAsBytes)
    }>;`;
  }).join("\n");
}

/** Edge of a matmul output tile. */
export const TILE = 32;
/** Invocations per tile edge: an 8x8 workgroup, each invocation a 4x4 block of outputs. */
export const TILE_THREADS = 8;
const BLOCK = TILE / TILE_THREADS;

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
 * A function `fn(tileRow: u32, tileCol: u32, lid: vec2<u32>)` computing the output tile
 * whose first row and column are `tileRow`, `tileCol`: each of the 8x8 invocations
 * accumulates a 4x4 block in registers, reading its operands straight from the buffers
 * (no workgroup memory, no barriers: on a software adapter every barrier is a switch
 * between invocations, and at these sizes caches serve the re-reads on any GPU). The
 * block's rows and columns are strided by 8, so neighbouring invocations read neighbouring
 * addresses.
 */
export function tileFunction(spec: TileSpec): string {
  const idx = [...Array(BLOCK).keys()];
  const pairs = idx.flatMap((i) => idx.map((j) => [i, j]));
  const stores = pairs.map(([i, j]) =>
    storeAt(
      `tileRow + lid.y + ${i * TILE_THREADS}u`,
      `tileCol + lid.x + ${j * TILE_THREADS}u`,
      `acc${i}${j}`,
      spec,
    )
  );
  return `
fn ${spec.fn}(tileRow: u32, tileCol: u32, lid: vec2<u32>) {
  let rows = ${spec.rows};
  let cols = ${spec.cols};
  let depth = ${spec.depth};
  ${pairs.map(([i, j]) => `var acc${i}${j} = 0.0;`).join("\n  ")}
  // Out-of-range rows and columns compute a clamped duplicate that is never stored.
  ${
    idx.map((i) =>
      `let row${i} = min(tileRow + lid.y + ${i * TILE_THREADS}u, rows - 1u);`
    ).join("\n  ")
  }
  ${
    idx.map((j) =>
      `let col${j} = min(tileCol + lid.x + ${j * TILE_THREADS}u, cols - 1u);`
    ).join("\n  ")
  }
  for (var k = 0u; k < depth; k++) {
    ${idx.map((i) => `let a${i} = ${spec.a(`row${i}`, "k")};`).join("\n    ")}
    ${idx.map((j) => `let b${j} = ${spec.b("k", `col${j}`)};`).join("\n    ")}
    ${
    pairs.map(([i, j]) => `acc${i}${j} = fma(a${i}, b${j}, acc${i}${j});`).join(
      "\n    ",
    )
  }
  }
  ${stores.join("\n  ")}
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
