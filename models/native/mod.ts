/**
 * The native backend: the training step on the system's OpenBLAS (Deno FFI).
 *
 * @module
 */
import type { BatchStepFactory } from "../step.ts";
import { checkStepConfig } from "../step.ts";
import type { Blas } from "./blas.ts";
import { createNativeStep } from "./step.ts";

export {
  BLAS_INSTALL_HINT,
  BLAS_LIBRARY_ENV,
  type BlasInfo,
  type BlasProbe,
  CORETYPE_ENV,
  loadBlas,
  probeBlas,
  STANDARD_BLAS_PATHS,
} from "./blas.ts";
export type { Blas } from "./blas.ts";
export { createNativeStep, type NativeStepOptions } from "./step.ts";

/** A {@linkcode BatchStepFactory} of native steps on `blas` with `threads` BLAS threads. */
export function nativeStepFactory(
  blas: Blas,
  options: { threads: number },
): BatchStepFactory {
  return (values, config) => {
    checkStepConfig(config);
    return createNativeStep(values, config, { blas, threads: options.threads });
  };
}
