/**
 * The fused step's WGSL kernels, generated for one model shape. A training step is
 * `2 * layers + 2` dispatches (8 for 784-512-512-10):
 *
 * - `gather`: the batch's rows out of the uploaded training set (rows `order[offset + r]`,
 *   palette codes decoded) into a float32 batch buffer;
 * - `forward(l)` per hidden layer: matmul + bias + ReLU + dropout mask in one; for R-Drop,
 *   layer 0 computes the shared pre-activation once and writes both masked copies;
 * - `head` (head_kernel.ts): one workgroup per sample: the last layer's logits,
 *   log-softmax, NLL, both KL directions, d loss / d logits, per-sample loss and hit;
 * - `backward(l)` per layer, last to first: the weight and bias gradients of layer l and the
 *   gated gradient of the layer below (the last one also sums the head's per-sample loss
 *   and hits into the on-GPU metrics) (for R-Drop, layer 0's weight gradient sums both
 *   copies' row gradients first: `x^T (g1 + g2)`);
 * - `adam`: PyTorch's Adam over every parameter of the one flat buffer.
 *
 * The loss head is in head_kernel.ts; shapes and the shared preamble in kernel_shape.ts.
 *
 * @module
 */
import {
  activationLayout,
  kernelModule,
  type KernelShape,
} from "./kernel_shape.ts";
import {
  f32,
  type KernelSource,
  TILE_COLS,
  TILE_INVOCATIONS,
  TILE_ROWS,
  tileFunction,
} from "./wgsl.ts";

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
  return kernelModule(shape, {
    name: "gather",
    roles: roles,
    written: ["batch"],
    body: `
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
  });
}

/** Workgroup grid of the gather dispatch for a batch of `size` rows. */
export function gatherWorkgroups(
  shape: KernelShape,
  options: { size: number; maxPerDimension: number },
): [number, number] {
  const { size, maxPerDimension } = options;
  const groups = Math.ceil((size * shape.layout.layers[0].fanIn) / 256);
  const x = Math.min(groups, maxPerDimension);
  return [x, Math.ceil(groups / x)];
}

/**
 * Hidden layer `l`'s forward kernel; dispatch
 * `[ceil(fanOut / TILE_COLS), ceil(rows / TILE_ROWS)]`.
 */
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
  return kernelModule(shape, {
    name: `forward${l}`,
    roles: roles,
    written: ["acts"],
    body: `
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
@compute @workgroup_size(${TILE_INVOCATIONS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  product(wg.y * ${TILE_ROWS}u, wg.x * ${TILE_COLS}u, lane);
}`,
  });
}

/**
 * Layer `l`'s backward kernel: weight gradient tiles, then (l > 0) tiles of the gated
 * gradient of layer l-1's output, then the bias gradient, then (last layer) the sum of
 * the head's per-sample loss and hits into the metrics. 1-D dispatch of
 * {@linkcode backwardWorkgroups} workgroups.
 */
export function backwardKernel(shape: KernelShape, l: number): KernelSource {
  const layers = shape.layout.layers;
  const last = layers.length - 1;
  const layer = layers[l];
  const K = layer.fanIn;
  const M = layer.fanOut;
  const { acts, deltas, stats } = activationLayout(shape);
  const G = deltas[l];
  const rdrop = shape.mode === "rdrop";
  const weightGrid = weightGradientGrid(K, M);
  const inputColTiles = Math.ceil(K / TILE_COLS);
  const weightTiles = weightGrid.rowTiles * weightGrid.colTiles;
  const functions: string[] = [];
  // dW[k, m] = sum_n in[n, k] * g[n, m] (computed as dW^T when the layer is narrow).
  const input = l === 0
    ? (n: string, k: string) => `batch[${n} * ${K}u + ${k}]`
    : (n: string, k: string) => `acts[${acts[l - 1]}u + ${n} * ${K}u + ${k}]`;
  const gradient = l === 0 && rdrop
    ? (n: string, m: string) =>
      `deltas[${G}u + ${n} * ${M}u + ${m}] + deltas[${G}u + (${n} + step.size) * ${M}u + ${m}]`
    : (n: string, m: string) => `deltas[${G}u + ${n} * ${M}u + ${m}]`;
  const weightAt = (k: string, m: string, acc: string) =>
    `grads[${layer.weight}u + ${k} * ${M}u + ${m}] = ${acc};`;
  const depth = l === 0 ? "step.size" : "step.rows";
  functions.push(tileFunction(
    weightGrid.transposed
      ? {
        fn: "weightGradient",
        rows: `${M}u`,
        cols: `${K}u`,
        depth,
        a: (m, n) => gradient(n, m),
        b: (n, k) => input(n, k),
        store: (m, k, acc) => weightAt(k, m, acc),
      }
      : {
        fn: "weightGradient",
        rows: `${K}u`,
        cols: `${M}u`,
        depth,
        a: (k, n) => input(n, k),
        b: (n, m) => gradient(n, m),
        store: weightAt,
      },
  ));
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
  const invocations = TILE_INVOCATIONS;
  const biasGroups = Math.ceil(M / invocations);
  const biasPart = `
  } else if (w < ${weightTiles}u + inputTiles + ${biasGroups}u) {
    let m = (w - ${weightTiles}u - inputTiles) * ${invocations}u + lane;
    if (m < ${M}u) {
      var s = 0.0;
      for (var n = 0u; n < step.rows; n++) { s += deltas[${G}u + n * ${M}u + m]; }
      grads[${layer.bias}u + m] = s;
    }`;
  // The last layer also sums the head's per-sample [loss, hit] pairs into the metrics.
  const statsPart = l === last
    ? `
  } else if (lane == 0u) {
    var total = vec2<f32>(0.0, 0.0);
    for (var r = 0u; r < step.size; r++) {
      total += vec2<f32>(deltas[${stats}u + 2u * r], deltas[${stats}u + 2u * r + 1u]);
    }
    loss[0] += total.x;
    loss[1] += total.y;`
    : "";
  const inputPart = l > 0
    ? `
  } else if (w < ${weightTiles}u + inputTiles) {
    let i = w - ${weightTiles}u;
    inputGradient((i / ${inputColTiles}u) * ${TILE_ROWS}u, (i % ${inputColTiles}u) * ${TILE_COLS}u, lane);`
    : "";
  const roles: KernelSource["roles"] = l === 0
    ? ["step", "deltas", "grads", "batch"]
    : ["step", "params", "acts", "deltas", "grads"];
  const written: KernelSource["roles"] = l > 0
    ? ["deltas", "grads"]
    : ["grads"];
  if (l === last) {
    roles.push("loss");
    written.push("loss");
  }
  return kernelModule(shape, {
    name: `backward${l}`,
    roles: roles,
    written: written,
    body: `
${functions.join("\n")}
@compute @workgroup_size(${TILE_INVOCATIONS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let w = wg.x;
  let inputTiles = ${
      l > 0
        ? `((step.rows + ${
          TILE_ROWS - 1
        }u) / ${TILE_ROWS}u) * ${inputColTiles}u`
        : "0u"
    };
  if (w < ${weightTiles}u) {
    weightGradient((w / ${weightGrid.colTiles}u) * ${TILE_ROWS}u, (w % ${weightGrid.colTiles}u) * ${TILE_COLS}u, lane);${inputPart}${biasPart}${statsPart}
  }
}`,
  });
}

/**
 * Tiles of a `[fanIn, fanOut]` weight gradient: a layer narrower than a tile's columns
 * (the 10 classes) computes `dW^T` instead, so that its invocations are not mostly
 * clamped duplicates.
 */
function weightGradientGrid(
  fanIn: number,
  fanOut: number,
): { transposed: boolean; rowTiles: number; colTiles: number } {
  const transposed = fanOut < TILE_COLS && fanIn > fanOut;
  const [rows, cols] = transposed ? [fanOut, fanIn] : [fanIn, fanOut];
  return {
    transposed,
    rowTiles: Math.ceil(rows / TILE_ROWS),
    colTiles: Math.ceil(cols / TILE_COLS),
  };
}

/** Workgroups of layer `l`'s backward dispatch for a batch of `size` rows. */
export function backwardWorkgroups(
  shape: KernelShape,
  l: number,
  options: { size: number },
): number {
  const { size } = options;
  const layers = shape.layout.layers;
  const { fanIn: K, fanOut: M } = layers[l];
  const rows = shape.mode === "rdrop" ? 2 * size : size;
  const { rowTiles, colTiles } = weightGradientGrid(K, M);
  const weight = rowTiles * colTiles;
  const input = l > 0
    ? Math.ceil(rows / TILE_ROWS) * Math.ceil(K / TILE_COLS)
    : 0;
  const bias = Math.ceil(M / TILE_INVOCATIONS);
  const stats = l === layers.length - 1 ? 1 : 0;
  return weight + input + bias + stats;
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
  return kernelModule(shape, {
    name: "adam",
    roles: ["step", "params", "grads", "m", "v"],
    written: [
      "params",
      "m",
      "v",
    ],
    body: body,
    vec4: true,
  });
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
