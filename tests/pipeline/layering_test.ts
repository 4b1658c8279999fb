import { fileURLToPath } from "node:url";
import { assertEquals } from "../assert.ts";
import { scanImports, stripComments } from "../../pipeline/code_hash.ts";

const ENGINE = new URL("../../pipeline/", import.meta.url);

async function engineFiles(): Promise<{ name: string; source: string }[]> {
  const out = [];
  for await (const entry of Deno.readDir(ENGINE)) {
    if (entry.isFile && entry.name.endsWith(".ts")) {
      out.push({
        name: entry.name,
        source: await Deno.readTextFile(new URL(entry.name, ENGINE)),
      });
    }
  }
  return out;
}

Deno.test("the engine imports only itself, zod and node: built-ins (no tfjs, no experiment)", async () => {
  const bad: string[] = [];
  for (const { name, source } of await engineFiles()) {
    for (const spec of scanImports(source)) {
      const local = spec.startsWith("./") &&
        fileURLToPath(new URL(spec, new URL(name, ENGINE))).startsWith(
          fileURLToPath(ENGINE),
        );
      if (!local && spec !== "zod" && !spec.startsWith("node:")) {
        bad.push(`${name}: ${spec}`);
      }
    }
  }
  assertEquals(bad, []);
});

Deno.test("the engine never prints: only cli.ts touches stdout/stderr, through the renderer", async () => {
  const printing: string[] = [];
  for (const { name, source } of await engineFiles()) {
    const code = stripComments(source);
    if (/\bconsole\./.test(code)) printing.push(`${name}: console`);
    if (name !== "cli.ts" && /\bDeno\.std(out|err)\b/.test(code)) {
      printing.push(`${name}: Deno.std*`);
    }
  }
  assertEquals(printing, []);
});
