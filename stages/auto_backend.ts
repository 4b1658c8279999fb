/**
 * What `backend: auto` means on this machine, decided once per CLI call because it is part
 * of the training stages' keys.
 *
 * @module
 */
import { probeAdapter } from "../models/adapter.ts";
import type { ResolvedBackend } from "./train_params.ts";

/** `webgpu` when the WebGPU adapter is a hardware GPU, else `wasm` (software or no adapter). */
export async function detectAutoBackend(): Promise<ResolvedBackend> {
  const probe = await probeAdapter();
  return probe && !probe.software ? "webgpu" : "wasm";
}
