/**
 * Test rig: a temp project root with small stages that count their invocations.
 *
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import {
  type AnyStage,
  definePipeline,
  defineStage,
  formatReason,
  type PipelineEvent,
  type RunOptions,
  runPipeline,
  type StaleReason,
} from "../../pipeline/mod.ts";

/** A temp root with helpers to write files into it. */
export interface Rig {
  root: string;
  /** Writes a file relative to root, creating folders. */
  write(path: string, text: string): Promise<void>;
  /** File URL of a root-relative path. */
  url(path: string): string;
  /** Invocation count per instance name. */
  calls: Map<string, number>;
  /** Count of `name` (0 if never). */
  count(name: string): number;
  /** Removes the temp root. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a rig with `deno.json` (import map) and a `models/mlp.ts` + `stages/*.ts` code tree. */
export async function makeRig(): Promise<Rig> {
  const root = await Deno.makeTempDir({ prefix: "pipeline-test-" });
  const calls = new Map<string, number>();
  const rig: Rig = {
    root,
    write: async (path, text) => {
      await Deno.mkdir(join(root, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(root, path), text);
    },
    url: (path) => pathToFileURL(join(root, path)).href,
    calls,
    count: (name) => calls.get(name) ?? 0,
    [Symbol.asyncDispose]: async () => {
      await makeWritable(root);
      await Deno.remove(root, { recursive: true });
    },
  };
  await rig.write(
    "deno.json",
    JSON.stringify({ imports: { zod: "npm:zod@4.6.7" } }),
  );
  await rig.write("models/mlp.ts", "export const layers = 2;\n");
  await rig.write(
    "stages/source.ts",
    'import { z } from "zod";\nexport const s = z.string();\n',
  );
  await rig.write(
    "stages/train.ts",
    'import { layers } from "../models/mlp.ts";\nexport const t = layers;\n',
  );
  await rig.write(
    "stages/report.ts",
    "export const r = 1;\n",
  );
  return rig;
}

async function makeWritable(path: string): Promise<void> {
  // Store objects are read-only; make them removable on systems that honour that.
  for await (const entry of Deno.readDir(path)) {
    const child = join(path, entry.name);
    if (entry.isDirectory) await makeWritable(child);
    else if (entry.isFile) await Deno.chmod(child, 0o644).catch(() => {});
  }
}

/** The params schema of the demo pipeline. */
export const demoSchema = z.strictObject({
  seeds: z.array(z.number().int()).default([0]),
  source: z.strictObject({ size: z.number().int().default(3) }).prefault({}),
  train: z.strictObject({
    epochs: z.number().int().default(2),
    alpha: z.number().default(0.05),
    nested: z.strictObject({ depth: z.number().default(1) }).prefault({}),
  }).prefault({}),
});
/** Validated demo params. */
export type DemoParams = z.output<typeof demoSchema>;

/** Behaviour switches a test can flip between runs. */
export interface DemoSwitches {
  /** Instance names whose run() throws. */
  fail: Set<string>;
  /** Instance names whose run() skips writing outputs. */
  skipOutputs: Set<string>;
  /** Last ctx seen per instance (for asserting on its fields). */
  seen: Map<string, unknown>;
}

/**
 * source -> train (foreach seeds) -> report (all train instances).
 * Each run() counts itself and writes outputs derived from its inputs.
 */
export function demoPipeline(rig: Rig, switches?: Partial<DemoSwitches>) {
  const sw: DemoSwitches = {
    fail: switches?.fail ?? new Set(),
    skipOutputs: switches?.skipOutputs ?? new Set(),
    seen: switches?.seen ?? new Map(),
  };
  const bump = (name: string) => rig.calls.set(name, rig.count(name) + 1);
  const source = defineStage({
    name: "source",
    description: "make numbers",
    params: (p: DemoParams) => p.source,
    outputs: ["numbers.json"],
    code: rig.url("stages/source.ts"),
    run: async (ctx) => {
      bump(ctx.name);
      sw.seen.set(ctx.name, ctx);
      if (sw.fail.has(ctx.name)) throw new Error("source exploded");
      const numbers = Array.from({ length: ctx.params.size }, (_, i) => i + 1);
      await Deno.writeTextFile(
        join(ctx.outDir, "numbers.json"),
        JSON.stringify(numbers),
      );
    },
  });
  const train = defineStage({
    name: "train",
    deps: ["source"],
    params: (p: DemoParams) => p.train,
    foreach: (p: DemoParams) => p.seeds,
    outputs: ["model.json", "meta.json"],
    code: rig.url("stages/train.ts"),
    run: async (ctx) => {
      bump(ctx.name);
      sw.seen.set(ctx.name, ctx);
      if (sw.fail.has(ctx.name)) throw new Error(`${ctx.name} exploded`);
      if (sw.skipOutputs.has(ctx.name)) return;
      const numbers = JSON.parse(
        await Deno.readTextFile(join(ctx.inputs.source, "numbers.json")),
      ) as number[];
      const sum = numbers.reduce((a, b) => a + b, 0) * ctx.params.alpha +
        Number(ctx.item);
      await Deno.writeTextFile(
        join(ctx.outDir, "model.json"),
        JSON.stringify({ sum }),
      );
      await Deno.writeTextFile(
        join(ctx.outDir, "meta.json"),
        JSON.stringify({ seed: ctx.item }),
      );
    },
  });
  const report = defineStage({
    name: "report",
    deps: ["train"],
    outputs: ["report.md"],
    code: rig.url("stages/report.ts"),
    workspace: "results",
    run: async (ctx) => {
      bump(ctx.name);
      sw.seen.set(ctx.name, ctx);
      if (sw.fail.has(ctx.name)) throw new Error("report exploded");
      const lines = [];
      for (const [name, dir] of Object.entries(ctx.inputs).sort()) {
        lines.push(
          `${name}: ${await Deno.readTextFile(join(dir, "model.json"))}`,
        );
      }
      await Deno.writeTextFile(
        join(ctx.outDir, "report.md"),
        lines.join("\n") + "\n",
      );
    },
  });
  const stages: AnyStage<DemoParams>[] = [source, train, report];
  return {
    switches: sw,
    pipeline: definePipeline({
      params: demoSchema,
      paramsFile: "params.json",
      stages,
      summary: (outputs) => `report at ${outputs.report ?? "(not run)"}`,
    }),
  };
}

/** Runs the pipeline and collects its events. */
export async function runCollect(
  pipeline: Parameters<typeof runPipeline>[0],
  options: RunOptions,
) {
  const events: PipelineEvent[] = [];
  const result = await runPipeline(pipeline, {
    ...options,
    onEvent: (event) => events.push(event),
  });
  return { result, events };
}

/** Writes `params.json` at the rig root. */
export async function writeParams(rig: Rig, params: unknown): Promise<void> {
  await rig.write("params.json", JSON.stringify(params));
}

/**
 * The deno executable to spawn: the running one when allowed, else `deno` from PATH (what a
 * task's `--allow-run=deno` permits).
 */
export function denoCommand(): string {
  const state =
    Deno.permissions.querySync({ name: "run", command: Deno.execPath() }).state;
  return state === "granted" ? Deno.execPath() : "deno";
}

/**
 * Status or plan entries with their reasons in words, as `status` prints them: tests that pin
 * the exact text compare these.
 */
export function inWords<T extends { reasons: readonly StaleReason[] }>(
  entries: readonly T[],
): (Omit<T, "reasons"> & { reasons: string[] })[] {
  return entries.map((entry) => ({
    ...entry,
    reasons: entry.reasons.map(formatReason),
  }));
}
