/**
 * What in a code file reaches a key, on the real pipeline's training graph (in a scratch copy):
 * a behaviour change in any module of it changes the training's key; a comment, a reformatting
 * (`deno fmt` at another line width) or a type-only change changes no key at all.
 */
import { join, relative } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { scratchProject } from "../project/_scratch.ts";
import { planPipeline } from "../../pipeline/engine.ts";
import { keyOf } from "../../pipeline/plan/key_record.ts";
import type { PipelineDeclaration } from "../../pipeline/types.ts";

const dir = await scratchProject("rdrop_code_key_");
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
const { createPipeline } = await import(join(dir, "stages/pipeline.ts"));
const pipeline: PipelineDeclaration = createPipeline({ autoBackend: "native" });

/** Every instance's key but for its upstream outputs (nothing has run here). */
async function keys(): Promise<Map<string, string>> {
  const plan = await planPipeline(pipeline, { root: dir });
  return new Map(
    plan.instances.map((i) => [i.name, keyOf({ ...i.input, inputs: {} })]),
  );
}

async function trainingFiles(): Promise<string[]> {
  const plan = await planPipeline(pipeline, { root: dir });
  const train = plan.instances.find((i) => i.name === "train_rdrop@0");
  assert(train !== undefined);
  return Object.keys(train.input.code.files).filter((f) => f.endsWith(".ts"));
}

async function edited(
  file: string,
  edit: (text: string) => string | Promise<string>,
  check: (before: Map<string, string>, after: Map<string, string>) => void,
): Promise<void> {
  const path = join(dir, file);
  const original = await Deno.readTextFile(path);
  const before = await keys();
  await Deno.writeTextFile(path, await edit(original));
  try {
    check(before, await keys());
  } finally {
    await Deno.writeTextFile(path, original);
  }
}

async function reformatted(file: string, text: string): Promise<string> {
  const copy = join(
    await Deno.makeTempDir(),
    relative(dir, join(dir, file)).replaceAll("/", "_"),
  );
  await Deno.writeTextFile(copy, text);
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: [
      "fmt",
      "--line-width",
      "60",
      "--indent-width",
      "4",
      "--single-quote",
      copy,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert(fmt.success, new TextDecoder().decode(fmt.stderr));
  return await Deno.readTextFile(copy);
}

Deno.test("a behaviour change in any module of a training's graph changes its key", async () => {
  const files = await trainingFiles();
  assert(files.length > 10, files.join(", "));
  for (const file of files) {
    await edited(
      file,
      (text) => `${text}\nexport const keyProbe = 1;\n`,
      (before, after) => {
        assert(
          before.get("train_rdrop@0") !== after.get("train_rdrop@0"),
          `${file}: a new constant left the training's key as it was`,
        );
      },
    );
  }
});

Deno.test("a comment, a reformatting or a type-only change in a training's module changes no key", async () => {
  for (const file of await trainingFiles()) {
    const same =
      (what: string) =>
      (before: Map<string, string>, after: Map<string, string>) =>
        assertEquals([...after], [...before], `${file}: ${what}`);
    await edited(
      file,
      (t) => `// a comment\n${t}\n/* and another */\n`,
      same("comment"),
    );
    await edited(file, (t) => reformatted(file, t), same("reformatting"));
    await edited(
      file,
      (t) => `${t}\nexport type KeyProbe = { readonly a: number };\n`,
      same("type-only"),
    );
  }
});
