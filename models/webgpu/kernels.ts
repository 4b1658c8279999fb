/**
 * The fused step's WGSL kernels, generated for one model shape. A training step is
 * `2 * layers + 2` dispatches (8 for 784-512-512-10):
 *
 * - `gather`: the batch's rows out of the uploaded training set (rows `order[offset + r]`,
 *   palette codes decoded) into a float32 batch buffer;
 * - `forward(l)` per hidden layer: matmul + bias + ReLU + dropout mask in one; for R-Drop,
 *   layer 0 computes the shared pre-activation once and writes both masked copies;
 * - `head`: the last layer's logits, log-softmax, NLL, both KL directions, d loss / d logits,
 *   the last bias gradient, and the loss added to an on-GPU accumulator (one workgroup);
 * - `backward(l)` per layer, last to first: the weight and bias gradients of layer l and the
 *   gated gradient of the layer below (for R-Drop, layer 0's weight gradient sums both
 *   copies' row gradients first: `x^T (g1 + g2)`);
 * - `adam`: PyTorch's Adam over every parameter of the one flat buffer.
 *
 * @module
 */
import { dropoutWgsl, reluGateWgsl } from "./dropout.ts";
import type { ParamLayout } from "./layout.ts";
import {
  declareBindings,
  f32,
  type KernelSource,
  TILE,
  TILE_WORKGROUP,
  tileFunction,
} from "./wgsl.ts";

/** What the kernels are generated for. */
export interface KernelShape {
  /** The flat parameter layout (also the gradient and moment buffers' layout). */
  layout: ParamLayout;
  /** "baseline": one pass; "rdrop": two passes over `[x; x]` with the R-Drop loss. */
  mode: "baseline" | "rdrop";
  /** Dropout rate after each hidden layer. */
  dropout: number;
  /** Images stored as palette codes, 4 per u32 (else float32). */
  imagesAsBytes: boolean;
  /** Largest batch (rows of x); buffers hold `rdrop ? 2 * maxBatch : maxBatch` rows. */
  maxBatch: number;
  /** Adam's constants. */
  adam: { beta1: number; beta2: number; epsilon: number };
}

/** Offsets (float32 elements) of each layer's activations and output gradients. */
export interface ActivationLayout {
  /** Rows held per layer (2B for R-Drop). */
  maxRows: number;
  /** Offset of hidden layer l's output `[rows, fanOut]` in the activation buffer. */
  acts: number[];
  /** Offset of layer l's output gradient `[rows, fanOut]` in the delta buffer. */
  deltas: number[];
  /** Sizes of the buffers (activations, output gradients, gathered batch). */
  actsSize: number;
  deltasSize: number;
  batchSize: number;
}

/** Where the activations and output gradients live for `shape`. */
export function activationLayout(shape: KernelShape): ActivationLayout {
  const maxRows = shape.mode === "rdrop" ? 2 * shape.maxBatch : shape.maxBatch;
  const acts: number[] = [];
  const deltas: number[] = [];
  let a = 0;
  let d = 0;
  shape.layout.layers.forEach((layer, l) => {
    if (l + 1 < shape.layout.layers.length) {
      acts.push(a);
      a += maxRows * layer.fanOut;
    }
    deltas.push(d);
    d += maxRows * layer.fanOut;
  });
  const batchSize = shape.maxBatch * shape.layout.layers[0].fanIn;
  return { maxRows, acts, deltas, actsSize: a, deltasSize: d, batchSize };
}

/** Number of hidden layers' keys packed in the step uniform (4 per vec4). */
function keyVectors(shape: KernelShape): number {
  return Math.max(1, Math.ceil((shape.layout.layers.length - 1) / 4));
}

/** Byte size of the per-step uniform block. */
export function stepParamsBytes(shape: KernelShape): number {
  return 32 + 16 * keyVectors(shape);
}

/** The per-step values the host writes before each step. */
export interface StepParams {
  /** Position in the order buffer of the batch's first row. */
  offset: number;
  /** Batch rows. */
  size: number;
  /** Adam's step size `lr / (1 - beta1^t)`. */
  stepSize: number;
  /** `1 / sqrt(1 - beta2^t)`. */
  invCorrection2: number;
  /** KL weight: `alpha / 2` (sum) or `alpha / 2 / size` (batchmean). */
  klScale: number;
  /** Dropout keys of the hidden layers. */
  keys: number[];
}

/** Encodes {@linkcode StepParams} as the uniform block's bytes. */
export function encodeStepParams(
  shape: KernelShape,
  p: StepParams,
): ArrayBuffer {
  const buffer = new ArrayBuffer(stepParamsBytes(shape));
  const u = new Uint32Array(buffer);
  const f = new Float32Array(buffer);
  u[0] = p.offset;
  u[1] = p.size;
  u[2] = shape.mode === "rdrop" ? 2 * p.size : p.size;
  f[4] = p.stepSize;
  f[5] = p.invCorrection2;
  f[6] = p.klScale;
  p.keys.forEach((key, i) => (u[8 + i] = key));
  return buffer;
}

function prelude(shape: KernelShape): string {
  return `
struct StepParams {
  offset: u32,
  size: u32,
  rows: u32,
  pad0: u32,
  stepSize: f32,
  invCorrection2: f32,
  klScale: f32,
  pad1: f32,
  keys: array<vec4<u32>, ${keyVectors(shape)}>,
}
${dropoutWgsl(shape.dropout)}
${reluGateWgsl(shape.dropout)}
fn layerKey(layer: u32) -> u32 { return step.keys[layer / 4u][layer % 4u]; }`;
}

function pixelWgsl(shape: KernelShape): string {
  const features = shape.layout.layers[0].fanIn;
  const read = shape.imagesAsBytes
    ? `let i = row * ${features}u + k;
  return palette[(images[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu];`
    : `return images[row * ${features}u + k];`;
  return `
// Feature k of the batch's row r (the training set row order[offset + r]).
fn pixel(r: u32, k: u32) -> f32 {
  let row = order[step.offset + r];
  ${read}
}`;
}

function module(
  name: string,
  shape: KernelShape,
  roles: KernelSource["roles"],
  written: KernelSource["roles"],
  body: string,
  options: { vec4?: boolean } = {},
): KernelSource {
  const code = [
    declareBindings(roles, {
      written,
      imagesAsBytes: shape.imagesAsBytes,
      vec4: options.vec4,
    }),
    prelude(shape),
    roles.includes("images") ? pixelWgsl(shape) : "",
    body,
  ].join("\n");
  return { name, code, roles };
}

/**
 * Copies the batch's rows out of the uploaded training set (palette codes or float32,
 * rows `order[offset + r]`) into the float32 batch buffer `[size, features]`, so the two
 * first-layer products read plain floats. Dispatch {@linkcode gatherWorkgroups}.
 */
export function gatherKernel(shape: KernelShape): KernelSource {
  const features = shape.layout.layers[0].fanIn;
  const roles: KernelSource["roles"] = shape.imagesAsBytes
    ? ["step", "batch", "images", "palette", "order"]
    : ["step", "batch", "images", "order"];
  return module(
    "gather",
    shape,
    roles,
    ["batch"],
    `
@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let i = (wg.y * groups.x + wg.x) * 256u + t;
  if (i >= step.size * ${features}u) { return; }
  batch[i] = pixel(i / ${features}u, i % ${features}u);
}`,
  );
}

/** Workgroup grid of the gather dispatch for a batch of `size` rows. */
export function gatherWorkgroups(
  shape: KernelShape,
  size: number,
  maxPerDimension: number,
): [number, number] {
  const groups = Math.ceil((size * shape.layout.layers[0].fanIn) / 256);
  const x = Math.min(groups, maxPerDimension);
  return [x, Math.ceil(groups / x)];
}

/** Hidden layer `l`'s forward kernel; dispatch `[ceil(fanOut / 32), ceil(rows / 32)]`. */
export function forwardKernel(shape: KernelShape, l: number): KernelSource {
  const layer = shape.layout.layers[l];
  const acts = activationLayout(shape).acts;
  const M = layer.fanOut;
  const K = layer.fanIn;
  const rdrop = shape.mode === "rdrop";
  const store = (row: string, col: string, acc: string) => {
    const write = (r: string) =>
      `acts[${
        acts[l]
      }u + (${r}) * ${M}u + ${col}] = select(z * dropoutScale(key, ${r}, ${col}, ${M}u), 0.0, z <= 0.0);`;
    // ReLU as `z <= 0 ? 0 : z` so that a NaN survives (as in tfjs and PyTorch) and is seen.
    return `let z = ${acc} + params[${layer.bias}u + ${col}];
      let key = layerKey(${l}u);
      ${write(row)}
      ${l === 0 && rdrop ? write(`${row} + step.size`) : ""}`;
  };
  // Layer 0 of R-Drop computes the pre-activation of the B distinct rows once.
  const rows = l === 0 ? "step.size" : "step.rows";
  const a = l === 0
    ? (row: string, k: string) => `batch[${row} * ${K}u + ${k}]`
    : (row: string, k: string) =>
      `acts[${acts[l - 1]}u + ${row} * ${K}u + ${k}]`;
  const roles: KernelSource["roles"] = l === 0
    ? ["step", "params", "acts", "batch"]
    : ["step", "params", "acts"];
  return module(
    `forward${l}`,
    shape,
    roles,
    ["acts"],
    `
${
      tileFunction({
        fn: "product",
        rows,
        cols: `${M}u`,
        depth: `${K}u`,
        a,
        b: (k, col) => `params[${layer.weight}u + ${k} * ${M}u + ${col}]`,
        store,
      })
    }
@compute @workgroup_size(${TILE_WORKGROUP[0]}, ${TILE_WORKGROUP[1]})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  product(wg.y * ${TILE}u, wg.x * ${TILE}u, lid.xy);
}`,
  );
}

/** The loss head (one workgroup): logits, loss, d loss / d logits, last bias gradient. */
export function headKernel(shape: KernelShape): KernelSource {
  const layers = shape.layout.layers;
  const last = layers.length - 1;
  const layer = layers[last];
  const K = layer.fanIn;
  const C = layer.fanOut;
  const { acts, deltas } = activationLayout(shape);
  const G = deltas[last];
  const A = acts[last - 1];
  const rdrop = shape.mode === "rdrop";
  const logSoftmax = (dst: string, row: string) => `
    var ${dst}: array<f32, ${C}>;
    {
      var mx = deltas[${G}u + (${row}) * ${C}u];
      for (var c = 1u; c < ${C}u; c++) { mx = max(mx, deltas[${G}u + (${row}) * ${C}u + c]); }
      var s = 0.0;
      for (var c = 0u; c < ${C}u; c++) { s += exp(deltas[${G}u + (${row}) * ${C}u + c] - mx); }
      let lse = mx + log(s);
      for (var c = 0u; c < ${C}u; c++) { ${dst}[c] = deltas[${G}u + (${row}) * ${C}u + c] - lse; }
    }`;
  const perRow = rdrop
    ? `
  for (var r = t; r < size; r += 256u) {
    let label = labels[order[step.offset + r]];
    ${logSoftmax("lp1", "r")}
    ${logSoftmax("lp2", "r + size")}
    var r1 = 0.0;
    var r2 = 0.0;
    var kl = 0.0;
    for (var c = 0u; c < ${C}u; c++) {
      let d = lp1[c] - lp2[c];
      r1 += exp(lp1[c]) * d;
      r2 += exp(lp2[c]) * d;
      kl += (exp(lp1[c]) - exp(lp2[c])) * d;
    }
    part += vec2<f32>(
      -(lp1[label] + lp2[label]) / f32(rows) + step.klScale * kl,
      hit(lp1, label) + hit(lp2, label),
    );
    for (var c = 0u; c < ${C}u; c++) {
      let p1 = exp(lp1[c]);
      let p2 = exp(lp2[c]);
      let d = lp1[c] - lp2[c];
      let hot = select(0.0, 1.0, c == label);
      deltas[${G}u + r * ${C}u + c] = (p1 - hot) / f32(rows) + step.klScale * (p1 * (d - r1) + (p1 - p2));
      deltas[${G}u + (r + size) * ${C}u + c] = (p2 - hot) / f32(rows) + step.klScale * (p2 * (r2 - d) - (p1 - p2));
    }
  }`
    : `
  for (var r = t; r < size; r += 256u) {
    let label = labels[order[step.offset + r]];
    ${logSoftmax("lp", "r")}
    part += vec2<f32>(-lp[label] / f32(rows), hit(lp, label));
    for (var c = 0u; c < ${C}u; c++) {
      deltas[${G}u + r * ${C}u + c] = (exp(lp[c]) - select(0.0, 1.0, c == label)) / f32(rows);
    }
  }`;
  return module(
    "head",
    shape,
    ["step", "params", "acts", "deltas", "grads", "labels", "order", "loss"],
    ["deltas", "grads", "loss"],
    `
var<workgroup> partial: array<vec2<f32>, 256>;
// 1 when the first largest log-probability is the label's (tfjs' argMax), else 0.
fn hit(lp: array<f32, ${C}>, label: u32) -> f32 {
  var best = 0u;
  for (var c = 1u; c < ${C}u; c++) { if (lp[c] > lp[best]) { best = c; } }
  return select(0.0, 1.0, best == label);
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
  let rows = step.rows;
  let size = step.size;
  for (var o = t; o < rows * ${C}u; o += 256u) {
    let n = o / ${C}u;
    let c = o % ${C}u;
    var acc = 0.0;
    for (var k = 0u; k < ${K}u; k++) {
      acc = fma(acts[${A}u + n * ${K}u + k], params[${layer.weight}u + k * ${C}u + c], acc);
    }
    deltas[${G}u + o] = acc + params[${layer.bias}u + c];
  }
  storageBarrier();
  workgroupBarrier();
  var part = vec2<f32>(0.0, 0.0);
  ${perRow}
  partial[t] = part;
  storageBarrier();
  workgroupBarrier();
  for (var width = 128u; width > 0u; width >>= 1u) {
    if (t < width) { partial[t] += partial[t + width]; }
    workgroupBarrier();
  }
  // The metrics window's sums: loss[0] = sum of batch losses, loss[1] = correct rows.
  if (t == 0u) {
    loss[0] += partial[0].x;
    loss[1] += partial[0].y;
  }
  for (var c = t; c < ${C}u; c += 256u) {
    var s = 0.0;
    for (var n = 0u; n < rows; n++) { s += deltas[${G}u + n * ${C}u + c]; }
    grads[${layer.bias}u + c] = s;
  }
}`,
  );
}

/**
 * Layer `l`'s backward kernel: weight gradient tiles, then (l > 0) tiles of the gated
 * gradient of layer l-1's output, then (l < last) the bias gradient. 1-D dispatch of
 * {@linkcode backwardWorkgroups} workgroups.
 */
export function backwardKernel(shape: KernelShape, l: number): KernelSource {
  const layers = shape.layout.layers;
  const last = layers.length - 1;
  const layer = layers[l];
  const K = layer.fanIn;
  const M = layer.fanOut;
  const { acts, deltas } = activationLayout(shape);
  const G = deltas[l];
  const rdrop = shape.mode === "rdrop";
  const weightTiles = Math.ceil(K / TILE) * Math.ceil(M / TILE);
  const functions: string[] = [];
  // dW[k, m] = sum_n in[n, k] * g[n, m].
  functions.push(tileFunction({
    fn: "weightGradient",
    rows: `${K}u`,
    cols: `${M}u`,
    depth: l === 0 ? "step.size" : "step.rows",
    a: l === 0
      ? (k, n) => `batch[${n} * ${K}u + ${k}]`
      : (k, n) => `acts[${acts[l - 1]}u + ${n} * ${K}u + ${k}]`,
    b: l === 0 && rdrop
      ? (n, m) =>
        `deltas[${G}u + ${n} * ${M}u + ${m}] + deltas[${G}u + (${n} + step.size) * ${M}u + ${m}]`
      : (n, m) => `deltas[${G}u + ${n} * ${M}u + ${m}]`,
    store: (k, m, acc) =>
      `grads[${layer.weight}u + ${k} * ${M}u + ${m}] = ${acc};`,
  }));
  if (l > 0) {
    // g_{l-1}[n, k] = (sum_m g[n, m] * W[k, m]) * gate(h_{l-1}[n, k]).
    functions.push(tileFunction({
      fn: "inputGradient",
      rows: "step.rows",
      cols: `${K}u`,
      depth: `${M}u`,
      a: (n, m) => `deltas[${G}u + ${n} * ${M}u + ${m}]`,
      b: (m, k) => `params[${layer.weight}u + ${k} * ${M}u + ${m}]`,
      store: (n, k, acc) =>
        `deltas[${
          deltas[l - 1]
        }u + ${n} * ${K}u + ${k}] = ${acc} * reluGate(acts[${
          acts[l - 1]
        }u + ${n} * ${K}u + ${k}]);`,
    }));
  }
  const biasPart = l < last
    ? `
  } else {
    let m = (w - ${weightTiles}u - inputTiles) * ${
      TILE_WORKGROUP[0] * TILE_WORKGROUP[1]
    }u + lid.y * ${TILE_WORKGROUP[0]}u + lid.x;
    if (m < ${M}u) {
      var s = 0.0;
      for (var n = 0u; n < step.rows; n++) { s += deltas[${G}u + n * ${M}u + m]; }
      grads[${layer.bias}u + m] = s;
    }`
    : "";
  const inputPart = l > 0
    ? `
  } else if (w < ${weightTiles}u + inputTiles) {
    let i = w - ${weightTiles}u;
    inputGradient((i / ${Math.ceil(K / TILE)}u) * ${TILE}u, (i % ${
      Math.ceil(K / TILE)
    }u) * ${TILE}u, lid.xy);`
    : "";
  const roles: KernelSource["roles"] = l === 0
    ? ["step", "deltas", "grads", "batch"]
    : ["step", "params", "acts", "deltas", "grads"];
  const written: KernelSource["roles"] = l > 0
    ? ["deltas", "grads"]
    : ["grads"];
  return module(
    `backward${l}`,
    shape,
    roles,
    written,
    `
${functions.join("\n")}
@compute @workgroup_size(${TILE_WORKGROUP[0]}, ${TILE_WORKGROUP[1]})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let w = wg.x;
  let inputTiles = ${
      l > 0
        ? `((step.rows + ${TILE - 1}u) / ${TILE}u) * ${Math.ceil(K / TILE)}u`
        : "0u"
    };
  if (w < ${weightTiles}u) {
    weightGradient((w / ${Math.ceil(M / TILE)}u) * ${TILE}u, (w % ${
      Math.ceil(M / TILE)
    }u) * ${TILE}u, lid.xy);${inputPart}${biasPart}
  }
}`,
  );
}

/** Workgroups of layer `l`'s backward dispatch for a batch of `size` rows. */
export function backwardWorkgroups(
  shape: KernelShape,
  l: number,
  size: number,
): number {
  const layers = shape.layout.layers;
  const { fanIn: K, fanOut: M } = layers[l];
  const rows = shape.mode === "rdrop" ? 2 * size : size;
  const weight = Math.ceil(K / TILE) * Math.ceil(M / TILE);
  const input = l > 0 ? Math.ceil(rows / TILE) * Math.ceil(K / TILE) : 0;
  const bias = l < layers.length - 1
    ? Math.ceil(M / (TILE_WORKGROUP[0] * TILE_WORKGROUP[1]))
    : 0;
  return weight + input + bias;
}

/**
 * Adam over the flat buffers, four parameters per invocation (vec4; the buffers' padding
 * to 16 bytes holds zeros that stay zeros); dispatch {@linkcode adamWorkgroups}.
 */
export function adamKernel(shape: KernelShape): KernelSource {
  const { beta1, beta2, epsilon } = shape.adam;
  const body = `
@compute @workgroup_size(256)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) t: u32,
) {
  let i = (wg.y * groups.x + wg.x) * 256u + t;
  if (i >= ${Math.ceil(shape.layout.size / 4)}u) { return; }
  let g = grads[i];
  let mi = ${f32(beta1)} * m[i] + ${f32(1 - beta1)} * g;
  let vi = ${f32(beta2)} * v[i] + ${f32(1 - beta2)} * g * g;
  m[i] = mi;
  v[i] = vi;
  // PyTorch: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
  params[i] = params[i] - step.stepSize * mi / (sqrt(vi) * step.invCorrection2 + ${
    f32(epsilon)
  });
}`;
  return module(
    "adam",
    shape,
    ["step", "params", "grads", "m", "v"],
    [
      "params",
      "m",
      "v",
    ],
    body,
    { vec4: true },
  );
}

/** Workgroup grid of the Adam dispatch (2-D when one dimension's limit is exceeded). */
export function adamWorkgroups(
  shape: KernelShape,
  maxPerDimension: number,
): [number, number] {
  const groups = Math.ceil(shape.layout.size / 4 / 256);
  const x = Math.min(groups, maxPerDimension);
  return [x, Math.ceil(groups / x)];
}
