/**
 * tfjs' wasm and cpu backends: what backends wasm and cpu train and evaluate on, and what a
 * native run evaluates and saves with (its training step is BLAS, models/native/).
 *
 * Also the evaluation entry of those backends (models/backends.ts).
 *
 * @module
 */
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import type { BackendName } from "./backends.ts";
import { activateTfjsBackend } from "./tfjs_backend.ts";

/** Starts tfjs' `name` backend. */
export async function startCpuBackend(name: "wasm" | "cpu"): Promise<void> {
  await activateTfjsBackend(name);
}

/** Evaluation entry: cpu evaluates on cpu; wasm and native evaluate on wasm. */
export async function startEvaluation(backend: BackendName): Promise<void> {
  await startCpuBackend(backend === "cpu" ? "cpu" : "wasm");
}
