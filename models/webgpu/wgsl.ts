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

/** Edge of a matmul output tile; a workgroup of 16x16 invocations computes 2x2 each. */
export const TILE = 32;
/** Depth of the operand tiles staged in workgroup memory per iteration. */
const CHUNK = 16;

/** Workgroup memory shared by every tile function of a module (declare once). */
export const TILE_MEMORY = `
var<workgroup> tileA: array<f32, ${CHUNK * TILE}>;
var<workgroup> tileB: array<f32, ${CHUNK * TILE}>;`;

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
 * whose first row and column are `tileRow`, `tileCol`. Operands are staged through
 * workgroup memory in chunks of 16 along the depth; it must be called in uniform control
 * flow (it has barriers), by all 256 invocations.
 */
export function tileFunction(spec: TileSpec): string {
  const half = TILE / 2;
  return `
fn ${spec.fn}(tileRow: u32, tileCol: u32, lid: vec2<u32>) {
  let rows = ${spec.rows};
  let cols = ${spec.cols};
  let depth = ${spec.depth};
  let t = lid.y * 16u + lid.x;
  var acc00 = 0.0;
  var acc01 = 0.0;
  var acc10 = 0.0;
  var acc11 = 0.0;
  for (var k0 = 0u; k0 < depth; k0 += ${CHUNK}u) {
    for (var i = 0u; i < ${(CHUNK * TILE) / 256}u; i++) {
      let e = t + i * 256u;
      // A: consecutive invocations read consecutive k of a row.
      let ar = e / ${CHUNK}u;
      let ak = e % ${CHUNK}u;
      var av = 0.0;
      if (tileRow + ar < rows && k0 + ak < depth) {
        let row = tileRow + ar;
        let k = k0 + ak;
        av = ${spec.a("row", "k")};
      }
      tileA[ak * ${TILE}u + ar] = av;
      // B: consecutive invocations read consecutive columns of a k.
      let bk = e / ${TILE}u;
      let bc = e % ${TILE}u;
      var bv = 0.0;
      if (k0 + bk < depth && tileCol + bc < cols) {
        let k = k0 + bk;
        let col = tileCol + bc;
        bv = ${spec.b("k", "col")};
      }
      tileB[bk * ${TILE}u + bc] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${CHUNK}u; kk++) {
      let a0 = tileA[kk * ${TILE}u + lid.y];
      let a1 = tileA[kk * ${TILE}u + lid.y + ${half}u];
      let b0 = tileB[kk * ${TILE}u + lid.x];
      let b1 = tileB[kk * ${TILE}u + lid.x + ${half}u];
      acc00 = fma(a0, b0, acc00);
      acc01 = fma(a0, b1, acc01);
      acc10 = fma(a1, b0, acc10);
      acc11 = fma(a1, b1, acc11);
    }
    workgroupBarrier();
  }
  ${storeAt("tileRow + lid.y", "tileCol + lid.x", "acc00", spec)}
  ${storeAt("tileRow + lid.y", `tileCol + lid.x + ${half}u`, "acc01", spec)}
  ${storeAt(`tileRow + lid.y + ${half}u`, "tileCol + lid.x", "acc10", spec)}
  ${
    storeAt(
      `tileRow + lid.y + ${half}u`,
      `tileCol + lid.x + ${half}u`,
      "acc11",
      spec,
    )
  }
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
