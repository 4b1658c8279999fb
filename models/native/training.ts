/**
 * Training entry of backend native (models/backends.ts): the BLAS step, with tfjs' wasm
 * backend for the per-epoch evaluation and saving.
 *
 * @module
 */
import type {
  BackendName,
  TrainingBackend,
  TrainingBackendOptions,
} from "../backends.ts";
import { startCpuBackend } from "../cpu_backends.ts";
import { ModelError } from "../errors.ts";
import { blasUnavailable, probeBlas } from "./blas.ts";
import { nativeStepFactory } from "./mod.ts";

/** Loads OpenBLAS (the install hint when it does not load) and starts tfjs' wasm backend. */
export async function startTraining(
  backend: BackendName,
  options: TrainingBackendOptions,
): Promise<TrainingBackend> {
  if (backend !== "native") {
    throw new ModelError(`the native training entry cannot start ${backend}`);
  }
  const probe = (options.blas ?? (() => probeBlas()))();
  if (!probe.ok) throw blasUnavailable(probe.reason);
  await startCpuBackend("wasm");
  return {
    backend,
    adapter: null,
    blas: probe.blas,
    createStep: nativeStepFactory(probe.blas, { threads: options.blasThreads }),
  };
}
