/**
 * `defineStage` and `definePipeline`: identity functions that give declarations their types.
 * Validation (names, deps, cycles, foreach items) happens in the planner, before anything runs,
 * so the CLI can report it as a usage error.
 *
 * @module
 */
import type { z } from "zod";
import type { PipelineDeclaration, StageDeclaration } from "./types.ts";

/** Declares one stage; see {@link StageDeclaration}. */
export function defineStage<A, P = Record<string, never>>(
  declaration: StageDeclaration<A, P>,
): StageDeclaration<A, P> {
  return declaration;
}

/** Declares the pipeline; see {@link PipelineDeclaration}. */
export function definePipeline<S extends z.ZodType>(
  declaration: PipelineDeclaration<S>,
): PipelineDeclaration<S> {
  return declaration;
}
