/**
 * Probing the WebGPU adapter without loading TensorFlow.js, so that a command line can decide
 * what `backend: auto` means in milliseconds.
 *
 * @module
 */

/** What matters of a `GPUAdapterInfo` for choosing a backend. */
export interface AdapterInfoLike {
  /** Vendor name or PCI id. */
  vendor?: string;
  /** GPU architecture, when known. */
  architecture?: string;
  /** Device name or id. */
  device?: string;
  /** Driver's human-readable description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  description?: string;
  /** True when the browser/runtime itself flags the adapter as a software fallback. */
  isFallbackAdapter?: boolean;
}

/** What {@linkcode probeAdapter} learnt about the default WebGPU adapter. */
export interface AdapterProbe {
  /** One-line human description. */
  description: string;
  /** True for software renderers (llvmpipe, lavapipe, SwiftShader, fallback adapters). */
  software: boolean;
}

const SOFTWARE_RENDERERS =
  /llvmpipe|lavapipe|swiftshader|softpipe|software|microsoft basic render/i;

/** True when the adapter is a software renderer rather than a hardware GPU. */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter) return true;
  const text = [info.description, info.vendor, info.architecture, info.device]
    .join(" ");
  return SOFTWARE_RENDERERS.test(text);
}

/** A one-line description of an adapter, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) [fallback]". */
export function describeAdapter(info: AdapterInfoLike): string {
  const name = info.description || [info.vendor, info.architecture, info.device]
    .filter((s) => s && s.length > 0).join(" ") ||
    "unnamed adapter";
  return info.isFallbackAdapter ? `${name} [fallback]` : name;
}

/** Minimal view of `navigator.gpu`, so tests can pass a fake. */
export interface GpuLike {
  /** As `navigator.gpu.requestAdapter`. */
  requestAdapter(
    options?: GPURequestAdapterOptions,
  ): Promise<GPUAdapter | null>;
}

/** `navigator.gpu`, or null where WebGPU is unavailable. */
export function defaultGpu(): GpuLike | null {
  return (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu ?? null;
}

/** Requests an adapter (a fresh one on every call) and describes it; null if there is none. */
export async function probeAdapter(gpu: GpuLike | null = defaultGpu()): Promise<
  AdapterProbe | null
> {
  if (!gpu) return null;
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
  if (!adapter) return null;
  // GPUAdapterInfo's fields are prototype getters: a spread would copy none of them.
  const raw = (adapter.info ?? {}) as AdapterInfoLike;
  const info: AdapterInfoLike = {
    vendor: raw.vendor,
    architecture: raw.architecture,
    device: raw.device,
    description: raw.description,
    isFallbackAdapter: raw.isFallbackAdapter ??
      (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  };
  return {
    description: describeAdapter(info),
    software: isSoftwareAdapter(info),
  };
}
