/**
 * Starting a tfjs backend that its entry has registered, and describing the one that runs.
 *
 * Backend-neutral: each backend's entry (models/backends.ts) imports only its own tfjs
 * package (wasm and cpu in cpu_backends.ts, webgpu in webgpu/tfjs_backend.ts), so that a
 * run loads, and its key holds, the backend it uses and no other.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ModelError } from "./errors.ts";

/** The tfjs backends the project starts. */
export type TfjsBackendName = "webgpu" | "wasm" | "cpu";

let activeAdapter: string | null = null;

/**
 * The cpu backend prints a multi-line "install tfjs-node" banner on its first tensor write
 * when it thinks it runs in Node (Deno's npm compatibility says so). It would land in the
 * middle of progress output, and tfjs-node is not an option here; mark it as shown.
 */
function silenceNodeBanner(): void {
  const cpu = tf.findBackend("cpu") as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
}

/**
 * Makes `name` tfjs' active backend (a {@linkcode ModelError} naming the fix when it does
 * not start); `adapter` describes the WebGPU adapter it runs on, for run records.
 */
export async function activateTfjsBackend(
  name: TfjsBackendName,
  options: { adapter?: string | null } = {},
): Promise<void> {
  silenceNodeBanner();
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    throw new ModelError(
      `could not start the ${name} backend: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (!ok || tf.getBackend() !== name) {
    throw new ModelError(
      `could not start the ${name} backend (tfjs reported failure); choose another with backend=`,
    );
  }
  activeAdapter = name === "webgpu" ? options.adapter ?? null : null;
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
    adapter: backend === "webgpu" ? activeAdapter : null,
  };
}
