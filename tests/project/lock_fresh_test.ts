/**
 * The committed example is what the committed code produces: in HEAD as git has it (not the work
 * tree, which `deno task pipeline` rewrites: its `results/` and `pipeline.lock` are tracked),
 * `pipeline.lock` must record the code hashes of HEAD's code and the example's params (the alpha
 * sweep, `--params sweeps/alpha.json`), and `results/` must be the outputs it records. Otherwise
 * a fresh clone's first run says `code changed (...)` and README's example is not what the code
 * makes. Testing HEAD keeps README's `deno task pipeline` and `deno task test` passing in either
 * order. Fix: regenerate both with `deno task pipeline --params sweeps/alpha.json` in a fresh
 * clone and commit them.
 */
import { assert, assertEquals } from "../assert.ts";
import { z } from "zod";
import { formatReason, StaleReason } from "../../pipeline/plan/reasons.ts";
import { committedProject, runTask } from "./_scratch.ts";

/** The params of the committed example (README's headline table). */
const EXAMPLE_ARGS = ["--params", "sweeps/alpha.json"];

/** What this test reads of `status --json`: the typed reasons. */
const StatusJson = z.array(z.object({
  stage: z.string(),
  why: z.array(StaleReason),
}));

Deno.test("the committed pipeline.lock and results/ match the code and the example's params", async () => {
  // HEAD as committed (code, lock and results), not as a local run may have left them.
  const dir = await committedProject("lock_fresh_");
  try {
    const ran = await runTask(dir, "pipeline", [
      "status",
      "--json",
      ...EXAMPLE_ARGS,
    ]);
    assertEquals(ran.code, 0, ran.out);
    const entries = StatusJson.parse(JSON.parse(ran.out));
    assert(entries.length >= 7, ran.out);
    // Without the cache (.pipeline/ is not committed) nothing is in the cache and outputs are
    // missing; nothing else may be stale: no code, params or upstream change, and the report's
    // own files (results/) are the recorded ones.
    const problems = entries.flatMap((entry) =>
      entry.why
        .filter((reason) =>
          // A team remote in the environment may hold the results: in-remote, not in cache here.
          reason.kind !== "not-in-cache" && reason.kind !== "in-remote" &&
          // Recorded by the lock, outputs not checked out here (only results/ is committed).
          (reason.kind !== "not-run-yet" || entry.stage === "report") &&
          (reason.kind !== "output" || entry.stage === "report")
        )
        .map((reason) => `${entry.stage}: ${formatReason(reason)}`)
    );
    assertEquals(
      problems,
      [],
      "pipeline.lock/results/ are not from this code; regenerate them with " +
        "`deno task pipeline --params sweeps/alpha.json` in a fresh clone and commit both",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
