/**
 * What `backend: auto` means on this machine, decided once per CLI call because it is part
 * of the training stages' keys.
 *
 * @module
 */
import { probeAdapter } from "../models/adapter.ts";
import { probeBlas } from "../models/native/blas.ts";
import type { ResolvedBackend } from "./train_params.ts";

/**
 * `webgpu` when the WebGPU adapter is a hardware GPU, else `native` when OpenBLAS loads,
 * else `wasm`.
 */
export async function detectAutoBackend(): Promise<ResolvedBackend> {
  const adapter = probeAdapter();
  // Loading OpenBLAS (~20 ms) overlaps the adapter request instead of following it.
  const blas = probeBlas();
  const probe = await adapter;
  if (probe && !probe.software) return "webgpu";
  return blas.ok ? "native" : "wasm";
}
