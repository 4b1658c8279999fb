import { fileURLToPath } from "node:url";
import { assertEquals } from "../assert.ts";
import { scanImports, stripComments } from "../../pipeline/plan/code_hash.ts";

const ENGINE = new URL("../../pipeline/", import.meta.url);

async function engineFiles(
  dir = "",
): Promise<{ name: string; source: string }[]> {
  const out = [];
  for await (const entry of Deno.readDir(new URL(dir, ENGINE))) {
    const name = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...await engineFiles(`${name}/`));
    else if (entry.isFile && /\.(ts|js)$/.test(entry.name)) {
      out.push({
        name,
        source: await Deno.readTextFile(new URL(name, ENGINE)),
      });
    }
  }
  return out;
}

/** The npm packages the engine may use besides zod, each in the one module that may import it. */
const PACKAGES: Record<string, string> = {
  "@aws-sdk/client-s3": "store/s3.ts",
  "esbuild-wasm/esm/browser.js": "plan/normalise.ts",
};

Deno.test("the engine imports only itself, zod, node: built-ins, the S3 client (store/s3.ts) and esbuild (plan/normalise.ts)", async () => {
  const bad: string[] = [];
  for (const { name, source } of await engineFiles()) {
    for (const spec of scanImports(source)) {
      const local = spec.startsWith(".") &&
        fileURLToPath(new URL(spec, new URL(name, ENGINE))).startsWith(
          fileURLToPath(ENGINE),
        );
      const allowed = PACKAGES[spec] === name;
      if (!local && !allowed && spec !== "zod" && !spec.startsWith("node:")) {
        bad.push(`${name}: ${spec}`);
      }
    }
  }
  assertEquals(bad, []);
});

Deno.test("the engine never prints: only the CLI (cli/mod.ts) touches stdout/stderr, through the renderer", async () => {
  const printing: string[] = [];
  for (const { name, source } of await engineFiles()) {
    const code = stripComments(source);
    if (/\bconsole\./.test(code)) printing.push(`${name}: console`);
    if (name !== "cli/mod.ts" && /\bDeno\.std(out|err)\b/.test(code)) {
      printing.push(`${name}: Deno.std*`);
    }
  }
  assertEquals(printing, []);
});
