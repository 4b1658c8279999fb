/**
 * What an instance of a stage needs to run (cores, memory, GPUs, time), from its declaration.
 *
 * @module
 */
import type { Plan } from "./plan/mod.ts";
import type { AnyStage, StageResources } from "./types.ts";

/** A stage's resources under `params` (none declared: nothing beyond one core). */
export function resourcesOf(
  stage: AnyStage<unknown>,
  params: unknown,
): StageResources {
  return stage.resources?.(params) ?? {};
}

/** Default `--jobs`: the cores divided by the most cpus one instance of the plan needs. */
export function defaultJobs(plan: Plan): number {
  const cpus = Math.max(
    1,
    ...plan.instances.map((i) => resourcesOf(i.stage, plan.params).cpus ?? 1),
  );
  return Math.max(1, Math.floor(navigator.hardwareConcurrency / cpus));
}
