/**
 * Which step implementation trains on a selected backend: the native BLAS step for
 * "native", the fused WebGPU step for "webgpu", the optimised tfjs step on the active tfjs
 * backend otherwise. The pipeline's
 * train stage and `deno task bench` both go through here, so the bench times what users run.
 *
 * @module
 */
import type { BackendSelection } from "./backend.ts";
import { nativeStepFactory } from "./native/mod.ts";
import type { BatchStepFactory } from "./step.ts";
import { tfjsStepFactory } from "./tfjs_step.ts";
import { createWebGpuStep } from "./webgpu/mod.ts";

/** The step factory for `selection` (`blasThreads`: OpenBLAS threads of a native step). */
export function stepFactoryFor(
  selection: BackendSelection,
  options: { blasThreads: number },
): BatchStepFactory {
  if (selection.backend === "native") {
    if (!selection.blas) {
      throw new Error("backend native was selected without a BLAS library");
    }
    return nativeStepFactory(selection.blas, { threads: options.blasThreads });
  }
  // The fused WGSL step, on tfjs' own device (the per-epoch evaluation runs there too).
  if (selection.backend === "webgpu") return createWebGpuStep;
  return tfjsStepFactory();
}
