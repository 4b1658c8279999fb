/**
 * The loss head kernel, one workgroup per sample (both of its rows for R-Drop): the last
 * layer's logits (the 64 invocations split the dot products, then add the slices), then
 * log-softmax, NLL, both KL directions, d loss / d logits and the arg-max hit. Each sample
 * writes its loss share and hit count to the stats region; the last layer's backward
 * dispatch sums them into the on-GPU metrics and takes the last bias gradient.
 *
 * @module
 */
import {
  activationLayout,
  kernelModule,
  type KernelShape,
} from "./kernel_shape.ts";
import type { KernelSource } from "./wgsl.ts";

const THREADS = 64;

/** The loss head; dispatch one workgroup per sample of the batch. */
export function headKernel(shape: KernelShape): KernelSource {
  const layers = shape.layout.layers;
  const last = layers.length - 1;
  const layer = layers[last];
  const K = layer.fanIn;
  const C = layer.fanOut;
  const { acts, deltas, stats } = activationLayout(shape);
  const G = deltas[last];
  const A = acts[last - 1];
  const rdrop = shape.mode === "rdrop";
  const R = rdrop ? 2 : 1;
  const outputs = R * C;
  // Invocations per output: the dot products over K are split into this many slices.
  const slices = Math.max(1, Math.floor(THREADS / outputs));
  const rowOf = (o: string) => rdrop ? `(r + (${o} / ${C}u) * size)` : "r";
  const logSoftmax = (dst: string, first: number) => `
    var ${dst}: array<f32, ${C}>;
    {
      var mx = logits[${first * C}u];
      for (var c = 1u; c < ${C}u; c++) { mx = max(mx, logits[${
    first * C
  }u + c]); }
      var s = 0.0;
      for (var c = 0u; c < ${C}u; c++) { s += exp(logits[${
    first * C
  }u + c] - mx); }
      let lse = mx + log(s);
      for (var c = 0u; c < ${C}u; c++) { ${dst}[c] = logits[${
    first * C
  }u + c] - lse; }
    }`;
  const lossAndGradient = rdrop
    ? `
    ${logSoftmax("lp1", 0)}
    ${logSoftmax("lp2", 1)}
    var r1 = 0.0;
    var r2 = 0.0;
    var kl = 0.0;
    for (var c = 0u; c < ${C}u; c++) {
      let d = lp1[c] - lp2[c];
      r1 += exp(lp1[c]) * d;
      r2 += exp(lp2[c]) * d;
      kl += (exp(lp1[c]) - exp(lp2[c])) * d;
    }
    loss = -(lp1[label] + lp2[label]) / f32(rows) + step.klScale * kl;
    hits = hit(lp1, label) + hit(lp2, label);
    for (var c = 0u; c < ${C}u; c++) {
      let p1 = exp(lp1[c]);
      let p2 = exp(lp2[c]);
      let d = lp1[c] - lp2[c];
      let hot = select(0.0, 1.0, c == label);
      deltas[${G}u + r * ${C}u + c] = (p1 - hot) / f32(rows) + step.klScale * (p1 * (d - r1) + (p1 - p2));
      deltas[${G}u + (r + size) * ${C}u + c] = (p2 - hot) / f32(rows) + step.klScale * (p2 * (r2 - d) - (p1 - p2));
    }`
    : `
    ${logSoftmax("lp", 0)}
    loss = -lp[label] / f32(rows);
    hits = hit(lp, label);
    for (var c = 0u; c < ${C}u; c++) {
      deltas[${G}u + r * ${C}u + c] = (exp(lp[c]) - select(0.0, 1.0, c == label)) / f32(rows);
    }`;
  return kernelModule(shape, {
    name: "head",
    roles: ["step", "params", "acts", "deltas", "labels", "order"],
    written: ["deltas"],
    body: `
var<workgroup> partialDots: array<f32, ${outputs * slices}>;
var<workgroup> logits: array<f32, ${outputs}>;
// 1 when the first largest log-probability is the label's (tfjs' argMax), else 0.
fn hit(lp: array<f32, ${C}>, label: u32) -> f32 {
  var best = 0u;
  for (var c = 1u; c < ${C}u; c++) { if (lp[c] > lp[best]) { best = c; } }
  return select(0.0, 1.0, best == label);
}
@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let r = wg.x;
  let size = step.size;
  let rows = step.rows;
  // Output o = (pass, class); slice s sums k = s, s + ${slices}, ....
  for (var j = t; j < ${outputs * slices}u; j += ${THREADS}u) {
    let o = j % ${outputs}u;
    let row = ${rowOf("o")};
    let c = o % ${C}u;
    var acc = 0.0;
    for (var k = j / ${outputs}u; k < ${K}u; k += ${slices}u) {
      acc = fma(acts[${A}u + row * ${K}u + k], params[${layer.weight}u + k * ${C}u + c], acc);
    }
    partialDots[j] = acc;
  }
  workgroupBarrier();
  for (var o = t; o < ${outputs}u; o += ${THREADS}u) {
    var z = params[${layer.bias}u + o % ${C}u];
    for (var s = 0u; s < ${slices}u; s++) { z += partialDots[s * ${outputs}u + o]; }
    logits[o] = z;
  }
  workgroupBarrier();
  if (t == 0u) {
    let label = labels[order[step.offset + r]];
    var loss = 0.0;
    var hits = 0.0;
    ${lossAndGradient}
    deltas[${stats}u + 2u * r] = loss;
    deltas[${stats}u + 2u * r + 1u] = hits;
  }
}`,
  });
}
