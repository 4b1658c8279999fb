/**
 * Engine benchmark: for a generated DAG of ~100 stages (each with its own code module, shared
 * model modules and a 1 MiB output), measures the time to decide staleness (`status`), the
 * engine time of a no-op rerun, and for contrast a full re-hash (`verify`).
 *
 *     deno run -A bench/engine_bench.ts [--stages 100] [--mib 1] [--repeat 5]
 *
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";
import {
  type AnyStage,
  definePipeline,
  defineStage,
  pipelineStatus,
  runPipeline,
  verifyPipeline,
} from "../pipeline/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    stages: { type: "string", default: "100" },
    mib: { type: "string", default: "1" },
    repeat: { type: "string", default: "5" },
  },
});
const STAGES = Number(values.stages);
const MIB = Number(values.mib);
const REPEAT = Number(values.repeat);

const schema = z.strictObject({
  scale: z.number().default(1),
  tweak: z.record(z.string(), z.number()).default({}),
});
type Params = z.output<typeof schema>;

function stageName(i: number): string {
  return `s${String(i).padStart(3, "0")}`;
}

async function generate(root: string): Promise<AnyStage<Params>[]> {
  await Deno.writeTextFile(
    join(root, "deno.json"),
    JSON.stringify({ imports: { zod: "npm:zod@4.6.7" } }),
  );
  await Deno.mkdir(join(root, "models"), { recursive: true });
  await Deno.mkdir(join(root, "stages"), { recursive: true });
  for (let m = 0; m < 10; m++) {
    await Deno.writeTextFile(
      join(root, "models", `m${m}.ts`),
      `import { z } from "zod";\nexport const m${m} = z.number();\n` +
        "// padding to make the module a realistic size\n".repeat(100),
    );
  }
  const payload = new Uint8Array(MIB * 1024 * 1024).map((_, i) => i % 251);
  const stages: AnyStage<Params>[] = [];
  for (let i = 0; i < STAGES; i++) {
    const name = stageName(i);
    await Deno.writeTextFile(
      join(root, "stages", `${name}.ts`),
      `import { m${i % 10} } from "../models/m${
        i % 10
      }.ts";\nexport const x = m${i % 10};\n`,
    );
    const deps = i === 0
      ? []
      : [...new Set([stageName(i - 1), stageName(Math.floor(i / 2))])];
    stages.push(defineStage({
      name,
      deps,
      params: (p: Params) => ({ scale: p.scale, tweak: p.tweak[name] ?? 0 }),
      outputs: ["data.bin", "meta.json"],
      code: pathToFileURL(join(root, "stages", `${name}.ts`)).href,
      run: async (ctx) => {
        await Deno.writeFile(join(ctx.outDir, "data.bin"), payload);
        await Deno.writeTextFile(
          join(ctx.outDir, "meta.json"),
          JSON.stringify({ name: ctx.name, tweak: ctx.params.tweak }),
        );
      },
    }));
  }
  return stages;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < REPEAT; i++) samples.push(await time(fn));
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const root = await Deno.makeTempDir({ prefix: "engine-bench-" });
try {
  const pipeline = definePipeline({
    params: schema,
    paramsFile: "params.json",
    stages: await generate(root),
  });
  const options = { root };
  const firstRun = await time(() => runPipeline(pipeline, options));
  const planSamples: number[] = [];
  const decideSamples: number[] = [];
  const noop = await median(async () => {
    const result = await runPipeline(pipeline, options);
    if (result.ran.length !== 0) throw new Error("no-op rerun ran stages");
    planSamples.push(result.timings.planMs);
    decideSamples.push(result.timings.decideMs);
  });
  const mid = (xs: number[]) =>
    xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const status = await median(async () => {
    const entries = await pipelineStatus(pipeline, options);
    if (entries.some((e) => e.state !== "fresh")) throw new Error("not fresh");
  });
  await Deno.writeTextFile(
    join(root, "params.json"),
    JSON.stringify({ tweak: { [stageName(Math.floor(STAGES / 2))]: 1 } }),
  );
  let stale = 0;
  const statusChanged = await median(async () => {
    const entries = await pipelineStatus(pipeline, options);
    stale = entries.filter((e) => e.state === "stale").length;
  });
  await Deno.remove(join(root, "params.json"));
  const verify = await time(() => verifyPipeline(pipeline, options));
  const report = {
    stages: STAGES,
    outputMiB: STAGES * MIB,
    firstRunMs: Math.round(firstRun),
    noopRerunMs: Math.round(noop),
    noopKeysMs: Math.round(mid(planSamples)),
    noopStalenessMs: Math.round(mid(decideSamples)),
    statusAllFreshMs: Math.round(status),
    statusOneParamChangedMs: Math.round(statusChanged),
    staleAfterChange: stale,
    verifyFullRehashMs: Math.round(verify),
    repeat: REPEAT,
  };
  console.log(
    [
      `engine bench: ${STAGES} stages, ${
        STAGES * MIB
      } MiB of outputs (median of ${REPEAT})`,
      `  first run (writes + hashes everything)  ${report.firstRunMs} ms`,
      `  no-op rerun (engine time)               ${report.noopRerunMs} ms`,
      `    of which params + keys + code hashes  ${report.noopKeysMs} ms`,
      `    of which lock file + output stats     ${report.noopStalenessMs} ms`,
      `  status, all fresh                       ${report.statusAllFreshMs} ms`,
      `  status, one param changed (${stale} stale)   ${report.statusOneParamChangedMs} ms`,
      `  verify (full re-hash, for contrast)     ${report.verifyFullRehashMs} ms`,
    ].join("\n"),
  );
  console.log(JSON.stringify(report));
} finally {
  for await (const entry of Deno.readDir(root)) {
    await Deno.remove(join(root, entry.name), { recursive: true });
  }
  await Deno.remove(root, { recursive: true });
}
