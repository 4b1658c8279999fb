/**
 * What `backend: auto` means on this machine, decided once per CLI call because it is part
 * of the training stages' keys.
 *
 * @module
 */
import { type BackendName, probeAdapter } from "../models/backend.ts";

/** `webgpu` when the WebGPU adapter is a hardware GPU, else `wasm` (software or no adapter). */
export async function detectAutoBackend(): Promise<BackendName> {
  const probe = await probeAdapter();
  return probe && !probe.software ? "webgpu" : "wasm";
}
