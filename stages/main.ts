/**
 * `deno task pipeline`: the experiment's command line.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { runCli } from "../pipeline/mod.ts";
import { createPipeline } from "./pipeline.ts";
import { detectAutoBackend } from "./auto_backend.ts";

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const pipeline = createPipeline({ detectAutoBackend });
  // The stage modules were imported as this process started: code edited after that may not be
  // what runs, so no result computed then is cached under the hashed code's key.
  Deno.exit(
    await runCli(pipeline, Deno.args, {
      root,
      codeLoadedSince: performance.timeOrigin,
    }),
  );
}
