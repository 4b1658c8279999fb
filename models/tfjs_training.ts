/**
 * Training entry of backends wasm and cpu (models/backends.ts): the optimised tfjs step on
 * tfjs' wasm or cpu backend.
 *
 * @module
 */
import type {
  BackendName,
  TrainingBackend,
  TrainingBackendOptions,
} from "./backends.ts";
import { startCpuBackend } from "./cpu_backends.ts";
import { ModelError } from "./errors.ts";
import { tfjsStepFactory } from "./tfjs_step.ts";

/** Starts tfjs' `backend` ("wasm" or "cpu") with the optimised tfjs step. */
export async function startTraining(
  backend: BackendName,
  _options: TrainingBackendOptions,
): Promise<TrainingBackend> {
  if (backend !== "wasm" && backend !== "cpu") {
    throw new ModelError(`the tfjs training entry cannot start ${backend}`);
  }
  await startCpuBackend(backend);
  return { backend, adapter: null, createStep: tfjsStepFactory() };
}
