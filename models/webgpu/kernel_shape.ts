/**
 * What the fused kernels are generated for (model layout, mode, data encoding, batch
 * capacity), where their activations live, the per-step uniform block, and the WGSL
 * preamble every kernel module shares.
 *
 * @module
 */
import { dropoutWgsl, reluGateWgsl } from "./dropout.ts";
import type { ParamLayout } from "./layout.ts";
import { declareBindings, type KernelSource } from "./wgsl.ts";

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
  /** Offset in the delta buffer of the per-sample [loss, correct] pairs the head writes. */
  stats: number;
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
  const stats = d;
  d += 2 * shape.maxBatch;
  return {
    maxRows,
    acts,
    deltas,
    stats,
    actsSize: a,
    deltasSize: d,
    batchSize,
  };
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

/** A kernel module: bindings, shared preamble (and `pixel` when it reads images), body. */
export function kernelModule(
  shape: KernelShape,
  spec: {
    /** Name, for error messages. */
    name: string;
    /** Buffer role of each binding. */
    roles: KernelSource["roles"];
    /** Roles the kernel writes (read_write); the others are read-only. */
    written: KernelSource["roles"];
    /** Entry point `main` and what it needs. */
    body: string;
    /** Float arrays as `array<vec4<f32>>`. */
    vec4?: boolean;
  },
): KernelSource {
  const { name, roles, written, body } = spec;
  const code = [
    declareBindings(roles, {
      written,
      imagesAsBytes: shape.imagesAsBytes,
      vec4: spec.vec4,
    }),
    prelude(shape),
    roles.includes("images") ? pixelWgsl(shape) : "",
    body,
  ].join("\n");
  return { name, code, roles };
}
