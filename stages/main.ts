/**
 * `deno task pipeline`: the experiment's command line.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { runCli } from "../pipeline/mod.ts";
import config from "../deno.json" with { type: "json" };
import { createPipeline } from "./pipeline.ts";
import { detectAutoBackend } from "./auto_backend.ts";

if (import.meta.main) {
  // A path, not a URL's pathname: a space or an accent in the project path is %-encoded there.
  const root = fileURLToPath(new URL("..", import.meta.url));
  const { version } = z.object({ version: z.string() }).parse(config);
  const pipeline = createPipeline({ detectAutoBackend });
  // The stage modules were imported as this process started: code edited after that may not be
  // what runs, so no result computed then is cached under the hashed code's key.
  Deno.exit(
    await runCli(pipeline, Deno.args, {
      root,
      version: `rdrop-pipeline ${version}`,
      codeLoadedSince: performance.timeOrigin,
    }),
  );
}
