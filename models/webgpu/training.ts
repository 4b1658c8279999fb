/**
 * Training entry of backend webgpu (models/backends.ts): the fused WGSL step on tfjs' own
 * device, so that the per-epoch tfjs evaluation runs on the same GPU.
 *
 * @module
 */
import type {
  BackendName,
  TrainingBackend,
  TrainingBackendOptions,
} from "../backends.ts";
import { ModelError } from "../errors.ts";
import { tfjsGpuContext } from "./device.ts";
import { createFusedStep } from "./step.ts";
import { startWebGpuBackend } from "./tfjs_backend.ts";

/** Starts tfjs' webgpu backend (any adapter, software ones included) with the fused step. */
export async function startTraining(
  backend: BackendName,
  options: TrainingBackendOptions,
): Promise<TrainingBackend> {
  if (backend !== "webgpu") {
    throw new ModelError(`the webgpu training entry cannot start ${backend}`);
  }
  const probe = await startWebGpuBackend({ gpu: options.gpu });
  return {
    backend,
    adapter: probe.description,
    createStep: (values, config) =>
      createFusedStep(tfjsGpuContext(probe.description), values, config),
  };
}
