/**
 * The fused WebGPU training step: 8 dispatches and one queue submission per step for the
 * reference MLP, no GPU-to-CPU read per step (loss and accuracy are summed on the GPU and
 * read when the trainer asks), dropout masks hashed on the GPU (the CPU steps' masks), Adam
 * over one flat parameter buffer, and the training set uploaded once.
 *
 * It is raw WebGPU on the device tfjs uses rather than tfjs-webgpu custom programs: a tfjs
 * program always writes a fresh output tensor (no in-place Adam over one flat buffer),
 * makes a uniform buffer and a bind group per call and submits on its own schedule; here
 * pipelines and bind groups are built once and a step is one pre-planned command buffer.
 *
 * A step's commands are submitted when the next step (or a read) comes, so that a read's
 * copy rides in the same submission as the step before it.
 *
 * Structurally it is the trainer's `BatchStep` (models/step.ts), plus
 * `attachTrainingSet` and `Batch.source`, which let the trainer address batches in the
 * uploaded set instead of sending them.
 *
 * @module
 */
import { ModelError } from "../errors.ts";
import type { MlpConfig } from "../mlp.ts";
import { dropoutKey } from "./dropout.ts";
import { encodeImages } from "./dataset.ts";
import { DeviceGuard, type GpuContext } from "./device.ts";
import {
  activationLayout,
  adamKernel,
  adamWorkgroups,
  backwardKernel,
  backwardWorkgroups,
  encodeStepParams,
  forwardKernel,
  gatherKernel,
  gatherWorkgroups,
  headKernel,
  type KernelShape,
  stepParamsBytes,
} from "./kernels.ts";
import {
  packFlat,
  type ParamLayout,
  paramLayout,
  unpackFlat,
} from "./layout.ts";
import { ReadbackPool } from "./readback.ts";
import { type BufferRole, type KernelSource, TILE } from "./wgsl.ts";

/** Settings of the fused step (the trainer's StepConfig, plus Adam's constants). */
export interface FusedStepConfig {
  /** Layer sizes and dropout rate. */
  model: MlpConfig;
  /** Loss mode. */
  mode: "baseline" | "rdrop";
  /** KL weight (R-Drop). */
  alpha: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Seed of the dropout masks. */
  seed: number;
  /** KL reduction: "sum" (default, as the reference) or "batchmean". */
  reduction?: "sum" | "batchmean";
  /** Adam's constants (default PyTorch's). */
  adam?: { beta1: number; beta2: number; epsilon: number };
}

/** A batch: host rows, or (after attachTrainingSet) a window of the uploaded set. */
export interface FusedBatch {
  /** Row-major `[rows, features]` (read during run() only; unused with `source`). */
  x: Float32Array;
  /** Labels (unused with `source`). */
  y: Int32Array;
  /** Number of rows. */
  rows: number;
  /** Rows `order[start .. start + rows)` of the attached training set (order null: identity). */
  source?: { start: number; order: Int32Array | null };
}

/** The training split as uploaded once. */
export interface TrainingSet {
  /** Row-major `[count, features]`. */
  images: Float32Array;
  /** Class per row. */
  labels: Int32Array;
  /** Rows. */
  count: number;
  /** Features per row. */
  features: number;
}

/** Sums over the steps since the last read. */
export interface FusedMetrics {
  /** Steps. */
  steps: number;
  /** Sum of the steps' batch-mean losses. */
  lossSum: number;
  /** Rows whose arg-max was the label (R-Drop: both passes). */
  correct: number;
  /** Rows counted (R-Drop: 2B per step). */
  rows: number;
}

/** Adam's state, `m` and `v` in the order w0, b0, w1, b1, .... */
export interface FusedAdamState {
  /** Steps taken so far. */
  step: number;
  /** First moments. */
  m: Float32Array[];
  /** Second moments. */
  v: Float32Array[];
}

/** The fused step (the trainer's BatchStep, plus the training-set hook). */
export interface FusedStep {
  /** "webgpu". */
  readonly kind: string;
  /** The adapter's description. */
  readonly adapter: string;
  /** Uploads the training split once; batches with `source` then address it. */
  attachTrainingSet(train: TrainingSet): void;
  /** Queues one Adam step; never waits for the GPU. */
  run(batch: FusedBatch): void;
  /** Loss and accuracy sums since the last call (then reset): the only read of a window. */
  takeMetrics(): Promise<FusedMetrics>;
  /** Copies of the parameters (w0, b0, w1, b1, ...). */
  getValues(): Promise<Float32Array[]>;
  /** Copies of Adam's state. */
  getState(): Promise<FusedAdamState>;
  /** Replaces parameters and Adam's state (resume); masks continue from `state.step`. */
  restore(values: Float32Array[], state: FusedAdamState): void;
  /** Frees every GPU buffer of the step. */
  dispose(): void;
}

/** A typed array as WebGPU's BufferSource (the typings exclude shared buffers). */
const source = (view: ArrayBufferView): BufferSource =>
  view as unknown as BufferSource;

/** Bytes in KiB, MiB or GiB, for messages. */
function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

const PYTORCH_ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST |
  GPUBufferUsage.COPY_SRC;

/** Data buffers the kernels read a batch from. */
interface DataBuffers {
  kind: "palette" | "f32";
  images: GPUBuffer;
  palette: GPUBuffer;
  labels: GPUBuffer;
  order: GPUBuffer;
  rows: number;
}

/** Pipelines and bind groups for one data binding and batch capacity. */
interface Program {
  shape: KernelShape;
  data: DataBuffers;
  acts: GPUBuffer;
  deltas: GPUBuffer;
  batch: GPUBuffer;
  passes: {
    pipeline: GPUComputePipeline;
    bindGroup: GPUBindGroup;
    kernel: string;
  }[];
}

/** Creates the fused step on `context`'s device, starting from `values`. */
export function createFusedStep(
  context: GpuContext,
  values: Float32Array[],
  config: FusedStepConfig,
): FusedStep {
  const { device } = context;
  const guard = new DeviceGuard(context);
  const layout: ParamLayout = paramLayout(config.model);
  const adam = config.adam ?? PYTORCH_ADAM;
  const rdrop = config.mode === "rdrop";
  const hidden = layout.layers.length - 1;
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const maxBinding = device.limits.maxStorageBufferBindingSize;
  const readback = new ReadbackPool(device, guard);

  const buffer = (what: string, size: number, usage = STORAGE): GPUBuffer => {
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
  const owned: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (owned.push(b), b);

  const flat = packFlat(layout, values);
  const params = keep(buffer("parameters", flat.byteLength));
  const grads = keep(buffer("gradients", flat.byteLength));
  const m = keep(buffer("Adam moments", flat.byteLength));
  const v = keep(buffer("Adam moments", flat.byteLength));
  const metrics = keep(buffer("metrics", 16));
  const uniforms = keep(buffer(
    "step parameters",
    stepParamsBytes({ layout } as KernelShape),
    GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  ));
  device.queue.writeBuffer(params, 0, source(flat));
  device.queue.writeBuffer(m, 0, new Float32Array(layout.size));
  device.queue.writeBuffer(v, 0, new Float32Array(layout.size));
  device.queue.writeBuffer(metrics, 0, new Float32Array(4));

  let attached: DataBuffers | null = null;
  let attachedOrder: Int32Array | null | undefined = undefined;
  let hostData: DataBuffers | null = null;
  let program: Program | null = null;
  let stepIndex = 0;
  let window = { steps: 0, rows: 0 };
  let pending: {
    encoder: GPUCommandEncoder;
    writes: [GPUBuffer, BufferSource][];
  } | null = null;
  let disposed = false;

  const dataBuffers = (
    what: string,
    kind: "palette" | "f32",
    rows: number,
    imageBytes: number,
  ): DataBuffers => ({
    kind,
    rows,
    images: keep(buffer(`${what} images`, imageBytes)),
    palette: keep(buffer(`${what} palette`, 256 * 4)),
    labels: keep(buffer(`${what} labels`, rows * 4)),
    order: keep(buffer(`${what} row order`, rows * 4)),
  });

  function build(data: DataBuffers, capacity: number): Program {
    const shape: KernelShape = {
      layout,
      mode: config.mode,
      dropout: config.model.dropout,
      imagesAsBytes: data.kind === "palette",
      maxBatch: capacity,
      adam,
    };
    const sizes = activationLayout(shape);
    const acts = buffer("activations", sizes.actsSize * 4);
    const deltas = buffer("activation gradients", sizes.deltasSize * 4);
    const batch = buffer("batch", sizes.batchSize * 4);
    const roles: Record<BufferRole, GPUBuffer> = {
      params,
      grads,
      m,
      v,
      acts,
      deltas,
      images: data.images,
      palette: data.palette,
      labels: data.labels,
      order: data.order,
      loss: metrics,
      step: uniforms,
      batch,
    };
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
        return { pipeline, bindGroup, kernel: kernel.name };
      })
    );
    return { shape, data, acts, deltas, batch, passes };
  }

  function programFor(data: DataBuffers, rows: number): Program {
    if (program && program.data === data && program.shape.maxBatch >= rows) {
      return program;
    }
    const capacity = Math.max(rows, program?.shape.maxBatch ?? 0);
    for (const b of [program?.acts, program?.deltas, program?.batch]) {
      b?.destroy();
    }
    program = build(data, capacity);
    return program;
  }

  function flush(): void {
    if (!pending) return;
    for (const [target, bytes] of pending.writes) {
      device.queue.writeBuffer(target, 0, bytes);
    }
    device.queue.submit([pending.encoder.finish()]);
    pending = null;
  }

  function usable(): void {
    if (disposed) {
      throw new ModelError("the fused WebGPU step was used after dispose()");
    }
    guard.check();
  }

  function hostBatch(batch: FusedBatch): DataBuffers {
    const features = layout.layers[0].fanIn;
    if (batch.x.length < batch.rows * features || batch.y.length < batch.rows) {
      throw new ModelError(
        `a batch of ${batch.rows} rows needs ${
          batch.rows * features
        } features and ` +
          `${batch.rows} labels; got ${batch.x.length} and ${batch.y.length}`,
      );
    }
    if (!hostData || hostData.rows < batch.rows) {
      hostData = dataBuffers(
        "batch",
        "f32",
        batch.rows,
        batch.rows * features * 4,
      );
      const identity = Uint32Array.from({ length: batch.rows }, (_, i) => i);
      device.queue.writeBuffer(hostData.order, 0, source(identity));
    }
    return hostData;
  }

  return {
    kind: "webgpu",
    adapter: context.adapter,

    attachTrainingSet(train) {
      usable();
      const encoded = encodeImages(
        train.images.subarray(0, train.count * train.features),
      );
      if (train.features !== layout.layers[0].fanIn) {
        throw new ModelError(
          `the training set has ${train.features} features but the model expects ${
            layout.layers[0].fanIn
          }`,
        );
      }
      flush();
      attached = dataBuffers(
        "training set",
        encoded.kind,
        train.count,
        encoded.data.byteLength,
      );
      device.queue.writeBuffer(attached.images, 0, source(encoded.data));
      device.queue.writeBuffer(attached.palette, 0, source(encoded.palette));
      device.queue.writeBuffer(
        attached.labels,
        0,
        source(train.labels.subarray(0, train.count)),
      );
      attachedOrder = undefined;
    },

    run(batch) {
      usable();
      const size = batch.rows;
      if (!(Number.isInteger(size) && size > 0)) {
        throw new ModelError(`a batch must have at least one row, got ${size}`);
      }
      const writes: [GPUBuffer, BufferSource][] = [];
      let data: DataBuffers;
      let offset = 0;
      if (attached && batch.source) {
        data = attached;
        offset = batch.source.start;
        if (offset < 0 || offset + size > attached.rows) {
          throw new ModelError(
            `batch rows ${offset}..${
              offset + size - 1
            } are outside the ${attached.rows}-row training set`,
          );
        }
        if (batch.source.order !== attachedOrder) {
          const order = batch.source.order;
          const rows = order
            ? Uint32Array.from(order)
            : Uint32Array.from({ length: attached.rows }, (_, i) => i);
          writes.push([attached.order, source(rows)]);
          attachedOrder = order;
        }
      } else {
        data = hostBatch(batch);
        const features = layout.layers[0].fanIn;
        writes.push([data.images, source(batch.x.slice(0, size * features))]);
        writes.push([data.labels, source(batch.y.slice(0, size))]);
      }
      const prog = programFor(data, size);
      const t = stepIndex + 1;
      const keys: number[] = [];
      for (let l = 0; l < hidden; l++) {
        keys.push(dropoutKey(config.seed, stepIndex, l));
      }
      writes.push([
        uniforms,
        encodeStepParams(prog.shape, {
          offset,
          size,
          stepSize: config.learningRate / (1 - adam.beta1 ** t),
          invCorrection2: 1 / Math.sqrt(1 - adam.beta2 ** t),
          klScale: config.alpha * 0.5 /
            (config.reduction === "batchmean" ? size : 1),
          keys,
        }),
      ]);
      flush();
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      const rows = rdrop ? 2 * size : size;
      let p = 0;
      const dispatch = (x: number, y = 1) => {
        const { pipeline, bindGroup } = prog.passes[p++];
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(x, y);
      };
      dispatch(...gatherWorkgroups(prog.shape, size, maxGroups));
      for (let l = 0; l < hidden; l++) {
        dispatch(
          Math.ceil(layout.layers[l].fanOut / TILE),
          Math.ceil((l === 0 ? size : rows) / TILE),
        );
      }
      dispatch(1);
      for (let l = hidden; l >= 0; l--) {
        dispatch(backwardWorkgroups(prog.shape, l, size));
      }
      dispatch(...adamWorkgroups(prog.shape, maxGroups));
      pass.end();
      pending = { encoder, writes };
      stepIndex++;
      window.steps++;
      window.rows += rows;
    },

    async takeMetrics() {
      usable();
      const encoder = pending?.encoder ?? device.createCommandEncoder();
      const read = readback.record(encoder, metrics, { byteSize: 8 });
      encoder.clearBuffer(metrics);
      pending = { encoder, writes: pending?.writes ?? [] };
      flush();
      const counted = window;
      window = { steps: 0, rows: 0 };
      const [lossSum, correct] = await read.start();
      await guard.settled();
      return { steps: counted.steps, lossSum, correct, rows: counted.rows };
    },

    async getValues() {
      usable();
      const encoder = pending?.encoder ?? device.createCommandEncoder();
      const read = readback.record(encoder, params, {
        byteSize: layout.size * 4,
      });
      pending = { encoder, writes: pending?.writes ?? [] };
      flush();
      const flatValues = await read.start();
      await guard.settled();
      return unpackFlat(layout, flatValues);
    },

    async getState() {
      usable();
      const encoder = pending?.encoder ?? device.createCommandEncoder();
      const readM = readback.record(encoder, m, { byteSize: layout.size * 4 });
      const readV = readback.record(encoder, v, { byteSize: layout.size * 4 });
      pending = { encoder, writes: pending?.writes ?? [] };
      flush();
      const [mf, vf] = await Promise.all([readM.start(), readV.start()]);
      await guard.settled();
      return {
        step: stepIndex,
        m: unpackFlat(layout, mf),
        v: unpackFlat(layout, vf),
      };
    },

    restore(values, state) {
      usable();
      if (!Number.isInteger(state.step) || state.step < 0) {
        throw new ModelError(
          `Adam state has an invalid step count ${state.step}`,
        );
      }
      const next = [
        packFlat(layout, values),
        packFlat(layout, state.m),
        packFlat(layout, state.v),
      ];
      flush();
      device.queue.writeBuffer(params, 0, source(next[0]));
      device.queue.writeBuffer(m, 0, source(next[1]));
      device.queue.writeBuffer(v, 0, source(next[2]));
      stepIndex = state.step;
    },

    dispose() {
      if (disposed) return;
      disposed = true;
      pending = null;
      const prog = program as Program | null;
      for (const b of [prog?.acts, prog?.deltas, prog?.batch]) b?.destroy();
      for (const b of owned) b.destroy();
      readback.destroy();
    },
  };
}
