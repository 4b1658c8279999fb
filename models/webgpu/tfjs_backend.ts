/**
 * tfjs' webgpu backend, started on a device we request ourselves, and the evaluation entry
 * of backend webgpu (models/backends.ts): evaluation needs this, not the fused kernels.
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
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { ModelError } from "../errors.ts";
import {
  type AdapterProbe,
  defaultGpu,
  type GpuLike,
  probeAdapter,
} from "../adapter.ts";
import type { BackendName } from "../backends.ts";
import { activateTfjsBackend } from "../tfjs_backend.ts";

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

/**
 * Starts tfjs' webgpu backend on whatever adapter there is, software ones included (`probe`:
 * an adapter already probed by the caller; `gpu` replaces `navigator.gpu`, tests).
 */
export async function startWebGpuBackend(
  options: { gpu?: GpuLike | null; probe?: AdapterProbe | null } = {},
): Promise<AdapterProbe> {
  const probe = options.probe !== undefined
    ? options.probe
    : await probeAdapter(
      options.gpu === undefined ? defaultGpu() : options.gpu,
    );
  if (!probe) {
    throw new ModelError(
      "backend=webgpu was requested but there is no WebGPU adapter; use backend=auto or wasm",
    );
  }
  await activateTfjsBackend("webgpu", { adapter: probe.description });
  return probe;
}

/** Evaluation entry of backend webgpu. */
export async function startEvaluation(_backend: BackendName): Promise<void> {
  await startWebGpuBackend();
}
