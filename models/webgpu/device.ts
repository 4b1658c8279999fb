/**
 * The GPUDevice the fused step runs on, and what becomes of its failures: a lost device,
 * an allocation the GPU cannot satisfy and a missing adapter end in a {@linkcode ModelError}
 * that names the adapter and the fix (never a bare WebGPU exception).
 *
 * The step normally runs on tfjs' own device (the active webgpu backend), so that tfjs can
 * evaluate the same model on the same GPU; {@linkcode requestGpuDevice} makes a separate
 * one for tools and tests. Like webgpu/tfjs_backend.ts it asks for no optional features (Deno
 * rejects tfjs' feature list) and requests a fresh adapter for every device (an adapter that
 * produced a device cannot produce another: tensorflow/tfjs#8518).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "../errors.ts";
import {
  defaultGpu,
  describeAdapter,
  type GpuLike,
  isSoftwareAdapter,
} from "../adapter.ts";

/** A device and the adapter it came from, as the fused step uses them. */
export interface GpuContext {
  /** The device. */
  device: GPUDevice;
  /** One-line description of its adapter (for messages and run records). */
  adapter: string;
  /** True when the adapter is a software renderer (llvmpipe and the like). */
  software: boolean;
}

/** The fix to name when WebGPU itself is missing or unusable. */
export const NO_ADAPTER_FIX =
  "install the GPU's Vulkan driver (NVIDIA: the driver's Vulkan ICD, with libvulkan1; " +
  "AMD/Intel: mesa-vulkan-drivers), or train with backend=wasm";

/** Limits raised to the adapter's values, so that the training set fits one binding. */
const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupsPerDimension",
] as const;

function adapterDescription(
  adapter: GPUAdapter,
): { text: string; software: boolean } {
  const raw = (adapter.info ?? {}) as GPUAdapterInfo & {
    isFallbackAdapter?: boolean;
  };
  const info = {
    vendor: raw.vendor,
    architecture: raw.architecture,
    device: raw.device,
    description: raw.description,
    isFallbackAdapter: raw.isFallbackAdapter,
  };
  return { text: describeAdapter(info), software: isSoftwareAdapter(info) };
}

/** A fresh adapter and device of their own (tools and tests; training uses tfjs' device). */
export async function requestGpuDevice(
  options: { gpu?: GpuLike | null } = {},
): Promise<GpuContext> {
  const gpu = options.gpu === undefined ? defaultGpu() : options.gpu;
  if (!gpu) {
    throw new ModelError(
      `WebGPU is not available in this runtime (no navigator.gpu); ${NO_ADAPTER_FIX}`,
    );
  }
  const request = () =>
    gpu.requestAdapter({ powerPreference: "high-performance" });
  const adapter = await request();
  if (!adapter) {
    throw new ModelError(`no WebGPU adapter found; ${NO_ADAPTER_FIX}`);
  }
  const { text, software } = adapterDescription(adapter);
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  try {
    return {
      device: await adapter.requestDevice({ requiredLimits }),
      adapter: text,
      software,
    };
  } catch {
    // Some drivers refuse raised limits; default limits still run small models.
    const retry = await request();
    if (!retry) {
      throw new ModelError(`no WebGPU adapter found; ${NO_ADAPTER_FIX}`);
    }
    try {
      return { device: await retry.requestDevice(), adapter: text, software };
    } catch (error) {
      throw new ModelError(
        `the WebGPU adapter "${text}" could not create a device (${
          (error as Error).message
        }); update the GPU driver, or train with backend=wasm`,
        { cause: error },
      );
    }
  }
}

/**
 * tfjs' own device, when the active tfjs backend is webgpu (a ModelError otherwise), with
 * the adapter description `webgpu/tfjs_backend.ts` recorded.
 */
export function tfjsGpuContext(adapter: string | null): GpuContext {
  const backend = tf.getBackend() === "webgpu"
    ? tf.backend() as unknown as { device?: GPUDevice }
    : null;
  if (!backend?.device) {
    throw new ModelError(
      `the fused WebGPU step needs the webgpu backend to be active (it is ${tf.getBackend()}); ` +
        `select it first (backend=webgpu)`,
    );
  }
  const name = adapter ?? "unnamed adapter";
  return {
    device: backend.device,
    adapter: name,
    software: isSoftwareAdapter({ description: name }),
  };
}

/**
 * Watches a device for loss and uncaptured errors, and turns WebGPU failures into
 * messages naming the adapter and the fix.
 */
export class DeviceGuard {
  #lost: GPUDeviceLostInfo | null = null;
  #uncaptured: GPUError | null = null;
  readonly #context: GpuContext;

  /** Starts watching `context.device`. */
  constructor(context: GpuContext) {
    this.#context = context;
    context.device.lost.then((info) => (this.#lost = info));
    context.device.addEventListener?.("uncapturederror", (event) => {
      this.#uncaptured ??= (event as GPUUncapturedErrorEvent).error;
    });
  }

  /** The adapter's description. */
  get adapter(): string {
    return this.#context.adapter;
  }

  /** Throws the pending failure, if any (a lost device, an uncaptured error). */
  check(): void {
    if (this.#failure) throw this.#failure;
    if (this.#lost) throw this.lostError(this.#lost);
    if (this.#uncaptured) {
      throw this.fromGpuError(this.#uncaptured, "training step");
    }
  }

  /** The message for a lost device. */
  lostError(info: { reason?: string; message?: string }): ModelError {
    return new ModelError(
      `the WebGPU device of adapter "${this.adapter}" was lost (${
        info.reason ?? "unknown"
      }: ` +
        `${
          info.message || "no message"
        }) during training; rerun to resume from the last ` +
        `checkpoint, and if it happens again update the GPU driver or train with backend=wasm`,
    );
  }

  /** The message for a failed allocation or a rejected command. */
  fromGpuError(error: GPUError, what: string): ModelError {
    const kind =
      (error as { constructor?: { name?: string } }).constructor?.name ?? "";
    if (/OutOfMemory/i.test(kind) || /out of memory/i.test(error.message)) {
      return new ModelError(
        `the WebGPU adapter "${this.adapter}" ran out of memory for the ${what} ` +
          `(${error.message}); use a smaller batch size or model, close other GPU programs, ` +
          `or train with backend=wasm`,
      );
    }
    return new ModelError(
      `the WebGPU adapter "${this.adapter}" rejected the ${what} (${error.message}); ` +
        `this is a bug of the fused WebGPU step: train with backend=wasm and report it`,
    );
  }

  /** A rejected map or submit turned into a message (lost device first). */
  async explain(error: unknown, what: string): Promise<ModelError> {
    if (error instanceof ModelError) return error;
    // device.lost resolves shortly after the failure it explains.
    const lost = this.#lost ?? await Promise.race([
      this.#context.device.lost,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 50)),
    ]);
    if (lost) return this.lostError(lost);
    return new ModelError(
      `the WebGPU adapter "${this.adapter}" failed the ${what} (${
        (error as Error).message
      }); rerun, and if it happens again train with backend=wasm`,
      { cause: error },
    );
  }

  /**
   * Runs `create` (buffer and pipeline creation) inside out-of-memory and validation error
   * scopes; a failure they catch is raised by the next {@linkcode check} after
   * {@linkcode settled}.
   */
  scoped<T>(what: string, create: () => T): T {
    const device = this.#context.device;
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let value: T;
    try {
      value = create();
    } finally {
      // Scopes must be popped even when create() threw.
      const validation = device.popErrorScope();
      const memory = device.popErrorScope();
      this.#pending.push(
        Promise.all([memory, validation]).then(([oom, invalid]) => {
          const error = oom ?? invalid;
          if (error) this.#failure ??= this.fromGpuError(error, what);
        }),
      );
    }
    return value;
  }

  /** Waits for the scopes opened so far, then {@linkcode check}s. */
  async settled(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    await Promise.all(pending);
    this.check();
  }

  #pending: Promise<void>[] = [];
  #failure: ModelError | null = null;
}
