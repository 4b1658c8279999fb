import { fileURLToPath } from "node:url";
import { assertEquals } from "../assert.ts";
import { scanImports, stripComments } from "../../pipeline/code_hash.ts";

const ENGINE = new URL("../../pipeline/", import.meta.url);

async function engineFiles(
  dir = "",
): Promise<{ name: string; source: string }[]> {
  const out = [];
  for await (const entry of Deno.readDir(new URL(dir, ENGINE))) {
    const name = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...await engineFiles(`${name}/`));
    else if (entry.isFile && entry.name.endsWith(".ts")) {
      out.push({
        name,
        source: await Deno.readTextFile(new URL(name, ENGINE)),
      });
    }
  }
  return out;
}

/** The one npm package the engine may use besides zod, and the one module that may import it. */
const S3_CLIENT = { spec: "@aws-sdk/client-s3", module: "store/s3.ts" };

Deno.test("the engine imports only itself, zod, node: built-ins and (in store/s3.ts only) the S3 client", async () => {
  const bad: string[] = [];
  for (const { name, source } of await engineFiles()) {
    for (const spec of scanImports(source)) {
      const local = spec.startsWith(".") &&
        fileURLToPath(new URL(spec, new URL(name, ENGINE))).startsWith(
          fileURLToPath(ENGINE),
        );
      const s3 = spec === S3_CLIENT.spec && name === S3_CLIENT.module;
      if (!local && !s3 && spec !== "zod" && !spec.startsWith("node:")) {
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
