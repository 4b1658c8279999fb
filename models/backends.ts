/**
 * Each backend's runtime is its own module graph: the entry module a backend trains with, and
 * the one it evaluates with, by backend name. The entries are loaded by a computed specifier,
 * so a program loads only the backend it runs, and a stage names the same entry in its
 * declaration's `codeFor`, so that its key holds exactly that graph: a native training's key
 * has no WebGPU kernel, a WebGPU or wasm one no BLAS binding.
 *
 * This module imports nothing at run time; the train and evaluate declarations import it.
 *
 * @module
 */
import type { GpuLike } from "./adapter.ts";
import type { Blas, BlasProbe } from "./native/blas.ts";
import type { BatchStepFactory } from "./step.ts";

/** The backend param: a backend name, or "auto". */
export type BackendRequest = "auto" | "native" | "webgpu" | "wasm" | "cpu";
/**
 * A backend that actually runs. "native" trains on the system's OpenBLAS (models/native/)
 * and uses tfjs' wasm backend for everything else (evaluation, saving).
 */
export type BackendName = "native" | "webgpu" | "wasm" | "cpu";

/** A backend started for training: its tfjs backend is active, its step ready to create. */
export interface TrainingBackend {
  /** The backend that runs. */
  backend: BackendName;
  /** Description of the WebGPU adapter used (null when the backend is not WebGPU). */
  adapter: string | null;
  /** The loaded BLAS (backend "native" only). */
  blas?: Blas;
  /** The trainer's step factory on this backend. */
  createStep: BatchStepFactory;
}

/** Options of a training entry's `startTraining`. */
export interface TrainingBackendOptions {
  /** OpenBLAS threads of a native step (ignored by the other backends). */
  blasThreads: number;
  /** Replaces `navigator.gpu` (tests). */
  gpu?: GpuLike | null;
  /** Replaces the BLAS library lookup (tests). */
  blas?: () => BlasProbe;
}

/** What a backend's training entry exports. */
export interface TrainingEntry {
  /** Starts `backend` for training (a ModelError naming the fix when it cannot start). */
  startTraining(
    backend: BackendName,
    options: TrainingBackendOptions,
  ): Promise<TrainingBackend>;
}

/** What a backend's evaluation entry exports. */
export interface EvaluationEntry {
  /** Starts the tfjs backend that `backend`'s models are evaluated on. */
  startEvaluation(backend: BackendName): Promise<void>;
}

const TFJS_TRAINING = new URL("./tfjs_training.ts", import.meta.url);
const CPU_BACKENDS = new URL("./cpu_backends.ts", import.meta.url);

const TRAINING_ENTRIES: Readonly<Record<BackendName, URL>> = {
  native: new URL("./native/training.ts", import.meta.url),
  webgpu: new URL("./webgpu/training.ts", import.meta.url),
  wasm: TFJS_TRAINING,
  cpu: TFJS_TRAINING,
};

const EVALUATION_ENTRIES: Readonly<Record<BackendName, URL>> = {
  // A native model is evaluated (and was saved) by tfjs' wasm backend: no BLAS needed.
  native: CPU_BACKENDS,
  webgpu: new URL("./webgpu/tfjs_backend.ts", import.meta.url),
  wasm: CPU_BACKENDS,
  cpu: CPU_BACKENDS,
};

/** The module `backend` trains with (for a declaration's `codeFor`). */
export function trainingEntry(backend: BackendName): URL {
  return TRAINING_ENTRIES[backend];
}

/** The module `backend`'s models are evaluated with (for a declaration's `codeFor`). */
export function evaluationEntry(backend: BackendName): URL {
  return EVALUATION_ENTRIES[backend];
}

/** Loads `backend`'s training entry and starts it. */
export async function startTrainingBackend(
  backend: BackendName,
  options: TrainingBackendOptions,
): Promise<TrainingBackend> {
  // A computed specifier: Deno loads a literal one's graph before the program starts.
  const entry: TrainingEntry = await import(trainingEntry(backend).href);
  return await entry.startTraining(backend, options);
}

/** Loads `backend`'s evaluation entry and starts the tfjs backend it evaluates on. */
export async function startEvaluationBackend(
  backend: BackendName,
): Promise<void> {
  const entry: EvaluationEntry = await import(evaluationEntry(backend).href);
  await entry.startEvaluation(backend);
}
