/**
 * Where a fused step's time goes on a device: each kernel timed alone (repeated in one
 * compute pass, the queue drained before and after), and the host's cost of encoding and
 * submitting one step (the JS calls alone, not waiting for the GPU). A step is bound by
 * the larger of the kernels' sum and the encoding cost. (On wgpu's OpenGL backend, which
 * Deno uses for llvmpipe here, a submission executes its commands before it returns, so
 * there the host cost includes the GPU work; on Vulkan it does not.)
 *
 * @module
 */
import { DeviceGuard, type GpuContext } from "../models/webgpu/device.ts";
import {
  encodeStepParams,
  type KernelShape,
} from "../models/webgpu/kernel_shape.ts";
import { paramLayout } from "../models/webgpu/layout.ts";
import {
  allocator,
  asSource,
  buildProgram,
  encodeStep,
} from "../models/webgpu/program.ts";
import { DEFAULT_MLP_CONFIG, type MlpConfig } from "../models/mlp.ts";

/** What {@linkcode profileFusedStep} measured. */
export interface FusedProfile {
  mode: "baseline" | "rdrop";
  batchSize: number;
  /** Milliseconds per dispatch of each kernel, in step order. */
  kernels: { kernel: string; ms: number }[];
  /** Sum of the kernels' times: the GPU time of one step. */
  kernelsMs: number;
  /** Host milliseconds to encode and submit one step. */
  encodeMs: number;
}

/** Profiles the fused step's kernels on `context` (synthetic data; values do not matter). */
export async function profileFusedStep(
  context: GpuContext,
  options: {
    mode: "baseline" | "rdrop";
    batchSize: number;
    repeats: number;
    model?: MlpConfig;
  },
): Promise<FusedProfile> {
  const { device } = context;
  const guard = new DeviceGuard(context);
  const allocate = allocator(context, guard);
  const model = options.model ?? DEFAULT_MLP_CONFIG;
  const layout = paramLayout(model);
  const size = options.batchSize;
  const shape: KernelShape = {
    layout,
    mode: options.mode,
    dropout: model.dropout,
    imagesAsBytes: true,
    maxBatch: size,
    adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  };
  const rows = 4 * size;
  const made: GPUBuffer[] = [];
  const make = (what: string, bytes: number, usage?: number) => {
    const b = allocate(what, bytes, usage);
    made.push(b);
    return b;
  };
  const step = {
    params: make("parameters", layout.size * 4),
    grads: make("gradients", layout.size * 4),
    m: make("m", layout.size * 4),
    v: make("v", layout.size * 4),
    loss: make("metrics", 16),
    step: make("step", 64, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
  };
  const data = {
    kind: "palette" as const,
    rows,
    images: make("images", rows * model.inputSize),
    palette: make("palette", 1024),
    labels: make("labels", rows * 4),
    order: make("order", rows * 4),
  };
  const q = device.queue;
  q.writeBuffer(step.params, 0, new Float32Array(layout.size).fill(0.01));
  q.writeBuffer(data.order, 0, Uint32Array.from({ length: rows }, (_, i) => i));
  q.writeBuffer(
    data.palette,
    0,
    Float32Array.from({ length: 256 }, (_, i) => i / 255),
  );
  q.writeBuffer(
    step.step,
    0,
    encodeStepParams(shape, {
      offset: 0,
      size,
      stepSize: 1e-3,
      invCorrection2: 1,
      klScale: 0.025,
      keys: layout.layers.slice(1).map((_, i) => 17 + i),
    }),
  );
  const program = buildProgram({ device, guard, allocate }, shape, {
    step,
    data,
  });
  const maxWorkgroups = device.limits.maxComputeWorkgroupsPerDimension;
  const run = async (only: number | undefined, times: number) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let i = 0; i < times; i++) {
      encodeStep(pass, program, { size, maxWorkgroups, only });
    }
    pass.end();
    q.submit([encoder.finish()]);
    await q.onSubmittedWorkDone();
  };
  try {
    await run(undefined, 2);
    await guard.settled();
    const kernels: { kernel: string; ms: number }[] = [];
    for (let i = 0; i < program.passes.length; i++) {
      await run(i, 1);
      const t0 = performance.now();
      await run(i, options.repeats);
      kernels.push({
        kernel: program.passes[i].kernel,
        ms: (performance.now() - t0) / options.repeats,
      });
    }
    // Host cost: encode and submit steps as the step does, timing the calls alone.
    const uniforms = asSource(new Uint8Array(64));
    let encodeMs = 0;
    for (let i = 0; i < options.repeats; i++) {
      const t0 = performance.now();
      q.writeBuffer(step.step, 0, uniforms);
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      encodeStep(pass, program, { size, maxWorkgroups });
      pass.end();
      q.submit([encoder.finish()]);
      encodeMs += performance.now() - t0;
    }
    await q.onSubmittedWorkDone();
    return {
      mode: options.mode,
      batchSize: size,
      kernels,
      kernelsMs: kernels.reduce((s, k) => s + k.ms, 0),
      encodeMs: encodeMs / options.repeats,
    };
  } finally {
    for (const b of [...made, ...program.owned]) b.destroy();
  }
}

/** The profile as one line per kernel. */
export function formatProfile(p: FusedProfile): string {
  const parts = p.kernels.map((k) => `${k.kernel} ${k.ms.toFixed(3)}`);
  return `${p.mode}, batch ${p.batchSize}: kernels ${
    p.kernelsMs.toFixed(3)
  } ms/step ` +
    `(${parts.join(", ")}); host encode+submit ${
      p.encodeMs.toFixed(3)
    } ms/step`;
}
