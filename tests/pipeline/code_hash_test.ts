import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { assertEquals } from "../assert.ts";
import {
  CodeHasher,
  resolveSpecifier,
  scanImports,
} from "../../pipeline/plan/code_hash.ts";

Deno.test("scanImports finds static, re-export, side-effect and dynamic imports", () => {
  const source = `
import { a } from "./a.ts";
import type { T } from './types.ts';
import {
  b,
  c,
} from "../models/b.ts";
import * as ns from "zod";
import "./side.ts";
export { x } from "./x.ts";
export * from "./all.ts";
const lazy = await import("./lazy.ts");
const s = "import { fake } from './in_string.ts'";
// import { gone } from "./commented.ts";
/* import { also } from "./block.ts"; */
`;
  assertEquals(scanImports(source), [
    "./a.ts",
    "./types.ts",
    "../models/b.ts",
    "zod",
    "./side.ts",
    "./x.ts",
    "./all.ts",
    "./lazy.ts",
  ]);
});

Deno.test("resolveSpecifier: relative files, import map exact and prefix, npm subpaths, externals", () => {
  const base = new URL("file:///p/stages/s.ts");
  const mapBase = new URL("file:///p/deno.json");
  const opts = () => ({ referrer: base, importMap: map, mapBase });
  const map = {
    zod: "npm:zod@4.6.7",
    "@/": "./src/",
    "tf": "npm:@tensorflow/tfjs@4.22.0",
  };
  assertEquals(resolveSpecifier("../models/m.ts", opts()), {
    kind: "file",
    url: new URL("file:///p/models/m.ts"),
  });
  assertEquals(resolveSpecifier("zod", opts()), {
    kind: "package",
    name: "zod",
    target: "npm:zod@4.6.7",
  });
  assertEquals(resolveSpecifier("@/util.ts", opts()), {
    kind: "file",
    url: new URL("file:///p/src/util.ts"),
  });
  assertEquals(resolveSpecifier("tf/dist/x.js", opts()), {
    kind: "package",
    name: "tf",
    target: "npm:@tensorflow/tfjs@4.22.0",
  });
  assertEquals(resolveSpecifier("node:path", opts()), {
    kind: "external",
  });
  assertEquals(resolveSpecifier("npm:zod@4", opts()), {
    kind: "external",
  });
});

Deno.test("CodeHasher follows local imports, skips excluded and outside files, records packages", async () => {
  const root = await Deno.makeTempDir();
  const write = async (path: string, text: string) => {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, path), text);
  };
  try {
    await write(
      "stages/s.ts",
      'import "../models/m.ts";\nimport "./mod.ts";\nimport "zod";\n',
    );
    await write("models/m.ts", 'import "./n.ts";\nimport "../stages/s.ts";\n'); // cycle is fine
    await write("models/n.ts", "export const n = 1;\n");
    await write("pipeline/mod.ts", 'import "../models/engine_only.ts";\n');
    await write("models/engine_only.ts", "export const e = 1;\n");
    const entry = pathToFileURL(join(root, "stages/s.ts")).href;
    const hasher = new CodeHasher({
      root,
      importMap: { zod: "npm:zod@4.6.7" },
    });
    const first = await hasher.fingerprint(entry);
    assertEquals(Object.keys(first.files), [
      "models/m.ts",
      "models/n.ts",
      "stages/s.ts",
    ]);
    assertEquals(first.packages, { zod: "npm:zod@4.6.7" });
    await write("models/n.ts", "export const n = 2;\n");
    const second = await new CodeHasher({
      root,
      importMap: { zod: "npm:zod@4.6.7" },
    })
      .fingerprint(entry);
    const changed = Object.keys(first.files).filter((f) =>
      first.files[f] !== second.files[f]
    );
    assertEquals(changed, ["models/n.ts"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
