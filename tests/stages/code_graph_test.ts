/**
 * The code in a key is the code that runs: for every stage instance of the real pipeline (each
 * training backend included), the files its key holds are exactly the project modules of Deno's
 * own module graph (`deno info --json`) of its entries, following the imports that run (not
 * `import type`), without the engine's folder.
 */
import { fileURLToPath } from "node:url";
import { relative } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { planPipeline } from "../../pipeline/engine.ts";
import { parseOverride } from "../../pipeline/plan/params.ts";
import { createPipeline } from "../../stages/pipeline.ts";
import type { ResolvedBackend } from "../../stages/train_params.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier: string };
  }[];
}

const infos = new Map<string, Promise<Map<string, InfoModule>>>();

/** `deno info --json` of one entry: its modules by specifier. */
function denoInfo(entry: string): Promise<Map<string, InfoModule>> {
  let found = infos.get(entry);
  if (found === undefined) {
    found = (async () => {
      const { success, stdout, stderr } = await new Deno.Command(
        Deno.execPath(),
        {
          args: ["info", "--json", entry],
          cwd: ROOT,
          stdout: "piped",
          stderr: "piped",
        },
      ).output();
      if (!success) throw new Error(new TextDecoder().decode(stderr));
      const json = JSON.parse(new TextDecoder().decode(stdout));
      return new Map(
        (json.modules as InfoModule[]).map((m) => [m.specifier, m]),
      );
    })();
    infos.set(entry, found);
  }
  return found;
}

/** Project files (root-relative, outside pipeline/) reached from `entries` by imports that run. */
async function runtimeGraph(entries: readonly string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const entry of entries) {
    const modules = await denoInfo(entry);
    const queue = [new URL(entry).href];
    const seen = new Set<string>();
    while (queue.length > 0) {
      const specifier = queue.pop() as string;
      if (seen.has(specifier)) continue;
      seen.add(specifier);
      if (!specifier.startsWith("file:")) continue;
      const rel = relative(ROOT, fileURLToPath(specifier));
      if (rel.startsWith("..") || rel.startsWith("pipeline/")) continue;
      files.add(rel);
      for (const dep of modules.get(specifier)?.dependencies ?? []) {
        if (dep.code !== undefined) queue.push(dep.code.specifier);
      }
    }
  }
  return [...files].sort();
}

for (
  const backend of ["native", "webgpu", "wasm", "cpu"] as ResolvedBackend[]
) {
  Deno.test(`every stage's key holds exactly Deno's runtime module graph of its code (${backend})`, async () => {
    const pipeline = createPipeline({ autoBackend: backend });
    const plan = await planPipeline(pipeline, {
      root: ROOT,
      overrides: [parseOverride("seeds=[0]")],
    });
    for (const instance of plan.instances) {
      const entries = [
        instance.stage.code,
        ...(instance.stage.codeFor?.(instance.params) ?? []).map(String),
      ];
      const expected = await runtimeGraph(entries);
      assertEquals(
        Object.keys(instance.input.code.files).sort(),
        expected,
        `${instance.name} (${backend})`,
      );
    }
  });
}

/** Folders of one backend's runtime that no other backend's training or evaluation runs. */
const BACKEND_FOLDERS: Readonly<Record<ResolvedBackend, readonly string[]>> = {
  native: ["models/native/"],
  webgpu: ["models/webgpu/"],
  wasm: [],
  cpu: [],
};

Deno.test("a training's or evaluation's key holds its own backend's runtime and no other's", async () => {
  for (
    const backend of ["native", "webgpu", "wasm", "cpu"] as ResolvedBackend[]
  ) {
    const plan = await planPipeline(createPipeline({ autoBackend: backend }), {
      root: ROOT,
      overrides: [parseOverride("seeds=[0]")],
    });
    const others = Object.entries(BACKEND_FOLDERS)
      .filter(([name]) => name !== backend)
      .flatMap(([, folders]) => folders);
    for (const instance of plan.instances) {
      if (!/^(train|evaluate)_/.test(instance.name)) continue;
      const files = Object.keys(instance.input.code.files);
      const foreign = files.filter((f) => others.some((o) => f.startsWith(o)));
      assertEquals(foreign, [], `${instance.name} (${backend})`);
      if (instance.name.startsWith("train_")) {
        // The backend's own training entry is there: the key is not merely smaller.
        for (const folder of BACKEND_FOLDERS[backend]) {
          assert(
            files.some((f) => f.startsWith(folder)),
            `${instance.name} (${backend}) holds nothing of ${folder}`,
          );
        }
      }
    }
  }
});
