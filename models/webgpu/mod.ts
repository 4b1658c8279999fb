/**
 * The fused WebGPU training step: WGSL kernels for the whole step (8 dispatches and one
 * submission per step for the reference MLP), no per-step read back, dropout masks hashed
 * on the GPU identically to the CPU steps, Adam over one flat buffer, and the training set
 * uploaded once.
 *
 * {@linkcode createWebGpuStep} is the trainer's step factory for backend webgpu: it runs
 * on tfjs' own device, so the tfjs evaluation after each epoch uses the same GPU.
 *
 * @module
 */
import { describeEnvironment } from "../tfjs_backend.ts";
import { tfjsGpuContext } from "./device.ts";
import {
  createFusedStep,
  type FusedStep,
  type FusedStepConfig,
} from "./step.ts";

export {
  createFusedStep,
  type FusedAdamState,
  type FusedBatch,
  type FusedMetrics,
  type FusedStep,
  type FusedStepConfig,
  type TrainingSet,
} from "./step.ts";
export {
  DeviceGuard,
  type GpuContext,
  NO_ADAPTER_FIX,
  requestGpuDevice,
  tfjsGpuContext,
} from "./device.ts";
export {
  type GpuCallCounter,
  type GpuCallCounts,
  installGpuCallCounter,
} from "./counters.ts";
export { dropoutKey } from "./dropout.ts";

/**
 * The fused step on tfjs' active webgpu backend (a ModelError when another backend is
 * active). Its shape is the trainer's `BatchStepFactory` (models/step.ts).
 */
export function createWebGpuStep(
  values: Float32Array[],
  config: FusedStepConfig,
): FusedStep {
  return createFusedStep(
    tfjsGpuContext(describeEnvironment().adapter),
    values,
    config,
  );
}
