/**
 * Choosing and starting the tfjs backend: WebGPU on a hardware GPU, wasm otherwise.
 *
 * Two known pitfalls of tfjs-backend-webgpu on Deno are worked around by registering our
 * own WebGPU factory instead of the package's:
 * - the package asks for optional device features in a form Deno rejects ("'requiredFeatures'
 *   ... can not be converted to a enum", denoland/webgpu-examples#22); we ask for none, and
 *   retry without limits if the device request still fails;
 * - an adapter that already produced a device cannot produce another (tensorflow/tfjs#8518),
 *   so probing and the backend each request a fresh adapter.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { ModelError } from "./errors.ts";
import { defaultGpu, type GpuLike, probeAdapter } from "./adapter.ts";
import {
  type Blas,
  BLAS_INSTALL_HINT,
  type BlasProbe,
  blasUnavailable,
  probeBlas,
} from "./native/blas.ts";

export {
  type AdapterInfoLike,
  type AdapterProbe,
  describeAdapter,
  type GpuLike,
  isSoftwareAdapter,
  probeAdapter,
} from "./adapter.ts";

/** The backend param: a backend name, or "auto". */
export type BackendRequest = "auto" | "native" | "webgpu" | "wasm" | "cpu";
/**
 * A backend that actually runs. "native" trains on the system's OpenBLAS (models/native/)
 * and uses tfjs' wasm backend for everything else (evaluation, saving).
 */
export type BackendName = "native" | "webgpu" | "wasm" | "cpu";

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

/** Limits worth raising for big matrices; the defaults are too small for 784x512 dispatches. */
const RAISED_LIMITS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupSizeX",
  "maxComputeInvocationsPerWorkgroup",
] as const;

async function createWebGpuBackend(): Promise<WebGPUBackend> {
  const gpu = defaultGpu();
  if (!gpu) {
    throw new ModelError(
      "WebGPU is not available in this runtime (no navigator.gpu)",
    );
  }
  // A fresh adapter: the one used for probing must not be reused (tensorflow/tfjs#8518).
  const adapter = await gpu.requestAdapter({
    powerPreference: "high-performance",
  });
  if (!adapter) {
    throw new ModelError("no WebGPU adapter found; use backend=wasm or cpu");
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  let device: GPUDevice;
  try {
    // No requiredFeatures: the optional ones tfjs asks for break device creation on Deno.
    device = await adapter.requestDevice({ requiredLimits });
  } catch (first) {
    const retry = await gpu.requestAdapter({
      powerPreference: "high-performance",
    });
    if (!retry) throw first;
    device = await retry.requestDevice();
  }
  return new WebGPUBackend(device, adapter.info);
}

// Replace the package's factory (and its priority 3, which would make tfjs start WebGPU on
// the first op when no backend was set) with ours at the lowest priority.
tf.removeBackend("webgpu");
tf.registerBackend("webgpu", createWebGpuBackend, 0);

let lastAdapter: string | null = null;

/**
 * The cpu backend prints a multi-line "install tfjs-node" banner on its first tensor write
 * when it thinks it runs in Node (Deno's npm compatibility says so). It would land in the
 * middle of progress output, and tfjs-node is not an option here; mark it as shown.
 */
function silenceNodeBanner(): void {
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
}

async function activate(name: "webgpu" | "wasm" | "cpu"): Promise<void> {
  silenceNodeBanner();
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    throw new ModelError(
      `could not start the ${name} backend: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (!ok || tf.getBackend() !== name) {
    throw new ModelError(
      `could not start the ${name} backend (tfjs reported failure); choose another with backend=`,
    );
  }
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
    await activate(requested);
    lastAdapter = null;
    return { backend: requested, adapter: null };
  }
  if (requested === "native") {
    const probe = findBlas();
    if (!probe.ok) throw blasUnavailable(probe.reason);
    const blas = probe.blas;
    await activate("wasm");
    lastAdapter = null;
    return { backend: "native", adapter: null, blas };
  }
  const probe = await probeAdapter(gpu);
  if (requested === "webgpu") {
    if (!probe) {
      throw new ModelError(
        "backend=webgpu was requested but there is no WebGPU adapter; use backend=auto or wasm",
      );
    }
    await activate("webgpu");
    lastAdapter = probe.description;
    return { backend: "webgpu", adapter: probe.description };
  }
  if (probe && !probe.software) {
    await activate("webgpu");
    lastAdapter = probe.description;
    return { backend: "webgpu", adapter: probe.description };
  }
  await activate("wasm");
  lastAdapter = null;
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

/** Versions and the active backend, for run records. */
export interface EnvironmentDescription {
  /** Deno version, e.g. "2.9.6". */
  deno: string;
  /** tfjs-core version, e.g. "4.22.0". */
  tfjs: string;
  /** The active tfjs backend. */
  backend: string;
  /** The WebGPU adapter's description when the backend is WebGPU, else null. */
  adapter: string | null;
}

/** Deno and tfjs versions, the active backend and (when it is WebGPU) its adapter. */
export function describeEnvironment(): EnvironmentDescription {
  const backend = tf.getBackend();
  return {
    deno: Deno.version.deno,
    tfjs: tf.version_core,
    backend,
    adapter: backend === "webgpu" ? lastAdapter : null,
  };
}
