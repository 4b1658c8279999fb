/**
 * Choosing and starting a backend at run time, `auto` included, with every backend loaded:
 * for tools, tests and the WebGPU bench. The pipeline and `deno task bench`'s training go
 * through models/backends.ts instead, which loads one backend's graph only (`auto` is
 * resolved once per CLI call, stages/auto_backend.ts, because it is part of a key).
 *
 * @module
 */
import { startCpuBackend } from "./cpu_backends.ts";
import { ModelError } from "./errors.ts";
import { defaultGpu, type GpuLike, probeAdapter } from "./adapter.ts";
import {
  type Blas,
  BLAS_INSTALL_HINT,
  type BlasProbe,
  blasUnavailable,
  probeBlas,
} from "./native/blas.ts";
import { startWebGpuBackend } from "./webgpu/tfjs_backend.ts";
import type { BackendName, BackendRequest } from "./backends.ts";

export {
  type AdapterInfoLike,
  type AdapterProbe,
  describeAdapter,
  type GpuLike,
  isSoftwareAdapter,
  probeAdapter,
} from "./adapter.ts";
export type { BackendName, BackendRequest } from "./backends.ts";
export {
  describeEnvironment,
  type EnvironmentDescription,
} from "./tfjs_backend.ts";

/** The outcome of {@linkcode selectBackend}. */
export interface BackendSelection {
  /** The backend now active in tfjs. */
  backend: BackendName;
  /** Description of the WebGPU adapter used (null when the backend is not WebGPU). */
  adapter: string | null;
  /** One line explaining a choice the user did not make explicitly (e.g. auto -> wasm). */
  note?: string;
  /** The loaded BLAS (backend "native" only). */
  blas?: Blas;
}

/**
 * Activates the requested backend. "auto" picks WebGPU when the adapter is a hardware GPU,
 * else "native" when OpenBLAS loads, else wasm, with a one-line note saying why. A forced
 * "webgpu" runs on whatever adapter there is, software ones included; a forced "native"
 * fails with the install hint when OpenBLAS does not load. `blas` replaces the library
 * lookup (tests).
 */
export async function selectBackend(
  requested: BackendRequest,
  options: { gpu?: GpuLike | null; blas?: () => BlasProbe } = {},
): Promise<BackendSelection> {
  const gpu = options.gpu === undefined ? defaultGpu() : options.gpu;
  const findBlas = options.blas ?? (() => probeBlas());
  if (requested === "cpu" || requested === "wasm") {
    await startCpuBackend(requested);
    return { backend: requested, adapter: null };
  }
  if (requested === "native") {
    const probe = findBlas();
    if (!probe.ok) throw blasUnavailable(probe.reason);
    await startCpuBackend("wasm");
    return { backend: "native", adapter: null, blas: probe.blas };
  }
  const probe = await probeAdapter(gpu);
  if (requested === "webgpu" || (probe && !probe.software)) {
    if (!probe) {
      throw new ModelError(
        "backend=webgpu was requested but there is no WebGPU adapter; use backend=auto or wasm",
      );
    }
    await startWebGpuBackend({ probe });
    return { backend: "webgpu", adapter: probe.description };
  }
  await startCpuBackend("wasm");
  const noGpu = probe
    ? `the only WebGPU adapter is a software renderer (${probe.description})`
    : "no WebGPU adapter found";
  const blas = findBlas();
  if (blas.ok) {
    return {
      backend: "native",
      adapter: null,
      blas: blas.blas,
      note: `backend auto: ${noGpu}; using native (OpenBLAS ${
        blas.blas.info.version ?? ""
      } ${blas.blas.info.coreName} kernels, ${blas.blas.info.library})`,
    };
  }
  return {
    backend: "wasm",
    adapter: null,
    note: `backend auto: ${noGpu} and ${blas.reason}; using wasm ` +
      `(\`${BLAS_INSTALL_HINT}\` enables the faster native backend)`,
  };
}
