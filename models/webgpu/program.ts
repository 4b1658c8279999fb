/**
 * The GPU side of one fused step configuration: buffers allocated with clear limits,
 * the pipelines and bind groups of every kernel for one data binding and batch capacity
 * (built once), and the encoding of one step's 8 dispatches into a compute pass.
 *
 * @module
 */
import { ModelError } from "../errors.ts";
import type { DeviceGuard, GpuContext } from "./device.ts";
import { activationLayout, type KernelShape } from "./kernel_shape.ts";
import { headKernel } from "./head_kernel.ts";
import {
  adamKernel,
  adamWorkgroups,
  backwardKernel,
  backwardWorkgroups,
  forwardKernel,
  gatherKernel,
  gatherWorkgroups,
} from "./kernels.ts";
import {
  type BufferRole,
  type KernelSource,
  TILE_COLS,
  TILE_ROWS,
} from "./wgsl.ts";

/** A typed array as WebGPU's BufferSource (the typings exclude shared buffers). */
export const asSource = (view: ArrayBufferView): BufferSource =>
  view as unknown as BufferSource;

/** Bytes in KiB, MiB or GiB, for messages. */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Usage of the step's storage buffers. */
export const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST |
  GPUBufferUsage.COPY_SRC;

/** Allocates a buffer named `what` (for messages), 16-byte rounded. */
export type Allocate = (
  what: string,
  size: number,
  usage?: number,
) => GPUBuffer;

/**
 * An allocator that refuses, before allocating, a storage buffer beyond the adapter's
 * binding limit (naming both sizes and the fix), and catches out-of-memory through the
 * guard's error scopes.
 */
export function allocator(context: GpuContext, guard: DeviceGuard): Allocate {
  const { device } = context;
  const maxBinding = device.limits.maxStorageBufferBindingSize;
  return (what, size, usage = STORAGE) => {
    if (size > maxBinding && (usage & GPUBufferUsage.STORAGE)) {
      throw new ModelError(
        `the ${what} needs ${
          formatBytes(size)
        } in one binding but the WebGPU ` +
          `adapter "${context.adapter}" allows ${formatBytes(maxBinding)}; ` +
          `use a smaller model or dataset, or train with backend=wasm`,
      );
    }
    return guard.scoped(
      what,
      () =>
        device.createBuffer({
          size: Math.max(16, Math.ceil(size / 16) * 16),
          usage,
        }),
    );
  };
}

/** Data buffers the kernels read a batch from. */
export interface DataBuffers {
  /** How the images are stored. */
  kind: "palette" | "f32";
  images: GPUBuffer;
  palette: GPUBuffer;
  labels: GPUBuffer;
  order: GPUBuffer;
  /** Rows the buffers hold. */
  rows: number;
}

/** Pipelines and bind groups for one data binding and batch capacity. */
export interface Program {
  shape: KernelShape;
  data: DataBuffers;
  /** Buffers owned by the program (activations, their gradients, the gathered batch). */
  owned: GPUBuffer[];
  passes: {
    kernel: string;
    pipeline: GPUComputePipeline;
    bindGroup: GPUBindGroup;
  }[];
}

/** The step's long-lived buffers, by role. */
export type StepBuffers = Pick<
  Record<BufferRole, GPUBuffer>,
  "params" | "grads" | "m" | "v" | "loss" | "step"
>;

/** Builds every kernel's pipeline and bind group for `shape` over `data`. */
export function buildProgram(
  context: { device: GPUDevice; guard: DeviceGuard; allocate: Allocate },
  shape: KernelShape,
  buffers: { step: StepBuffers; data: DataBuffers },
): Program {
  const { device, guard, allocate } = context;
  const { data } = buffers;
  const sizes = activationLayout(shape);
  const acts = allocate("activations", sizes.actsSize * 4);
  const deltas = allocate("activation gradients", sizes.deltasSize * 4);
  const batch = allocate("batch", sizes.batchSize * 4);
  const roles: Record<BufferRole, GPUBuffer> = {
    ...buffers.step,
    acts,
    deltas,
    batch,
    images: data.images,
    palette: data.palette,
    labels: data.labels,
    order: data.order,
  };
  const hidden = shape.layout.layers.length - 1;
  const kernels: KernelSource[] = [gatherKernel(shape)];
  for (let l = 0; l < hidden; l++) kernels.push(forwardKernel(shape, l));
  kernels.push(headKernel(shape));
  for (let l = hidden; l >= 0; l--) kernels.push(backwardKernel(shape, l));
  kernels.push(adamKernel(shape));
  const passes = kernels.map((kernel) =>
    guard.scoped(`${kernel.name} kernel of the fused WebGPU step`, () => {
      const pipeline = device.createComputePipeline({
        layout: "auto",
        compute: {
          module: device.createShaderModule({ code: kernel.code }),
          entryPoint: "main",
        },
      });
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: kernel.roles.map((role, i) => ({
          binding: i,
          resource: { buffer: roles[role] },
        })),
      });
      return { kernel: kernel.name, pipeline, bindGroup };
    })
  );
  return { shape, data, owned: [acts, deltas, batch], passes };
}

/**
 * Records one step of `size` rows: the program's dispatches, in order, into `pass`
 * (`only`: just the dispatch of that index, for profiling one kernel).
 */
export function encodeStep(
  pass: GPUComputePassEncoder,
  program: Program,
  options: { size: number; maxWorkgroups: number; only?: number },
): void {
  const { shape, passes } = program;
  const { size, maxWorkgroups, only } = options;
  const layers = shape.layout.layers;
  const hidden = layers.length - 1;
  const rows = shape.mode === "rdrop" ? 2 * size : size;
  let p = 0;
  const dispatch = (x: number, y = 1) => {
    if (only !== undefined && p !== only) {
      p++;
      return;
    }
    const { pipeline, bindGroup } = passes[p++];
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
  };
  dispatch(
    ...gatherWorkgroups(shape, { size, maxPerDimension: maxWorkgroups }),
  );
  for (let l = 0; l < hidden; l++) {
    dispatch(
      Math.ceil(layers[l].fanOut / TILE_COLS),
      Math.ceil((l === 0 ? size : rows) / TILE_ROWS),
    );
  }
  dispatch(size);
  for (let l = hidden; l >= 0; l--) {
    dispatch(backwardWorkgroups(shape, l, { size }));
  }
  dispatch(...adamWorkgroups(shape, maxWorkgroups));
}
