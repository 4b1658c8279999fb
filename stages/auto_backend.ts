/**
 * What `backend: auto` means on this machine, decided once per CLI call because it is part
 * of the training stages' keys.
 *
 * @module
 */
import { probeAdapter } from "../models/adapter.ts";
import { probeBlas } from "../models/native/blas.ts";
import type { Params } from "./params.ts";
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

/**
 * `params` with every `auto` training backend (`train.backend`, and the values of a
 * `train.backend` sweep axis) replaced by what `detect` says it means here. `detect` runs only
 * when some training asks for `auto`, so that an explicit backend does not pay for probing the
 * GPU adapter and OpenBLAS (~30 ms per command).
 */
export async function resolveAutoBackend(
  params: Params,
  detect: () => Promise<ResolvedBackend>,
): Promise<Params> {
  const sweep = params.matrix.train;
  const axis = typeof sweep === "object" && sweep !== null
    ? (sweep as Record<string, unknown>).backend
    : undefined;
  const swept = Array.isArray(axis) && axis.includes("auto");
  if (params.train.backend !== "auto" && !swept) return params;
  const resolved = await detect();
  const swap = <T>(value: T) => value === "auto" ? resolved : value;
  return {
    ...params,
    train: { ...params.train, backend: swap(params.train.backend) },
    matrix: swept
      ? {
        ...params.matrix,
        // `auto` and the backend it means are one computation: one instance, not two.
        train: { ...sweep as object, backend: [...new Set(axis.map(swap))] },
      }
      : params.matrix,
  };
}
