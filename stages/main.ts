/**
 * `deno task pipeline`: the experiment's command line.
 *
 * @module
 */
import { runCli } from "../pipeline/mod.ts";
import { createPipeline } from "./pipeline.ts";
import { detectAutoBackend } from "./auto_backend.ts";

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  const pipeline = createPipeline({ autoBackend: await detectAutoBackend() });
  Deno.exit(await runCli(pipeline, Deno.args, { root }));
}
