import { assertEquals } from "../assert.ts";
import { defaultJobs, resourcesOf } from "../../pipeline/resources.ts";
import type { Plan } from "../../pipeline/plan/mod.ts";
import type { AnyStage } from "../../pipeline/types.ts";

const stage = (
  name: string,
  resources?: (p: { threads: number }) => { cpus?: number },
) =>
  ({ name, outputs: [], code: "", run() {}, resources }) as unknown as AnyStage<
    unknown
  >;

function plan(stages: AnyStage<unknown>[], threads: number): Plan {
  // Only what defaultJobs reads: each instance's stage, and the params.
  return {
    root: "/",
    params: { threads },
    mermaid: "",
    instances: stages.map((s) => ({ name: s.name, stage: s })),
  } as unknown as Plan;
}

Deno.test("resources come from the params; default --jobs is cores / the most cpus one instance needs", () => {
  const cores = navigator.hardwareConcurrency;
  const train = stage("train", (p) => ({ cpus: p.threads }));
  const light = stage("light");
  assertEquals(resourcesOf(train, { threads: 3 }), { cpus: 3 });
  assertEquals(resourcesOf(light, { threads: 3 }), {});
  assertEquals(defaultJobs(plan([light], 1)), cores);
  assertEquals(defaultJobs(plan([light, train], 1)), cores);
  assertEquals(
    defaultJobs(plan([light, train], 2)),
    Math.max(1, Math.floor(cores / 2)),
  );
  // More threads than cores: still one at a time, never zero.
  assertEquals(defaultJobs(plan([train], cores * 4)), 1);
});
