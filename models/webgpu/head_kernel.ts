/**
 * The loss head kernel: the last layer's logits, log-softmax, NLL, both KL directions,
 * d loss / d logits, the last bias gradient, accuracy, and the step's loss added to the
 * on-GPU metrics; one workgroup.
 *
 * @module
 */
import { activationLayout, type KernelShape, module } from "./kernel_shape.ts";
import type { KernelSource } from "./wgsl.ts";

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
