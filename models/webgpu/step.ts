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
 * Its interface (step_types.ts) is structurally the trainer's `BatchStep`, plus the
 * training-set hook.
 *
 * @module
 */
import { ModelError } from "../errors.ts";
import { dropoutKey } from "./dropout.ts";
import { encodeImages } from "./dataset.ts";
import { DeviceGuard, type GpuContext } from "./device.ts";
import {
  encodeStepParams,
  type KernelShape,
  stepParamsBytes,
} from "./kernel_shape.ts";
import {
  packFlat,
  type ParamLayout,
  paramLayout,
  unpackFlat,
} from "./layout.ts";
import {
  allocator,
  asSource as source,
  buildProgram,
  type DataBuffers,
  encodeStep,
  type Program,
} from "./program.ts";
import { ReadbackPool } from "./readback.ts";
import type { FusedBatch, FusedStep, FusedStepConfig } from "./step_types.ts";

export type {
  FusedAdamState,
  FusedBatch,
  FusedMetrics,
  FusedStep,
  FusedStepConfig,
  TrainingSet,
} from "./step_types.ts";

const PYTORCH_ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

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
  const readback = new ReadbackPool(device, guard);
  const buffer = allocator(context, guard);
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
    return buildProgram({ device, guard, allocate: buffer }, shape, {
      step: { params, grads, m, v, loss: metrics, step: uniforms },
      data,
    });
  }

  function programFor(data: DataBuffers, rows: number): Program {
    if (program && program.data === data && program.shape.maxBatch >= rows) {
      return program;
    }
    const capacity = Math.max(rows, program?.shape.maxBatch ?? 0);
    for (const b of program?.owned ?? []) b.destroy();
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
      // Submit the previous step first: a rebuilt program destroys buffers it uses.
      flush();
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
        keys.push(dropoutKey(config.seed, { step: stepIndex, layer: l }));
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
      encodeStep(pass, prog, { size, maxWorkgroups: maxGroups });
      pass.end();
      pending = { encoder, writes };
      stepIndex++;
      window.steps++;
      window.rows += rdrop ? 2 * size : size;
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
      for (const b of prog?.owned ?? []) b.destroy();
      for (const b of owned) b.destroy();
      readback.destroy();
    },
  };
}
