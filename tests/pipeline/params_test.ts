import { join } from "node:path";
import { z } from "zod";
import { assertEquals, assertMatch, assertRejects } from "../assert.ts";
import {
  diffParams,
  flattenParams,
  loadParams,
  parseOverride,
  setPath,
} from "../../pipeline/plan/params.ts";
import { UserError } from "../../pipeline/errors.ts";

const schema = z.strictObject({
  seeds: z.array(z.number().int()).default([0]),
  train: z.strictObject({
    alpha: z.number().default(0.05),
    backend: z.string().default("cpu"),
  }).prefault({}),
});

Deno.test("parseOverride: JSON where it parses, else a string", () => {
  assertEquals(parseOverride("train.alpha=0.1"), {
    path: ["train", "alpha"],
    value: 0.1,
  });
  assertEquals(parseOverride("seeds=[1,2]"), {
    path: ["seeds"],
    value: [1, 2],
  });
  assertEquals(parseOverride("train.backend=wasm"), {
    path: ["train", "backend"],
    value: "wasm",
  });
  assertEquals(parseOverride("a=x=y"), { path: ["a"], value: "x=y" });
  assertEquals(parseOverride("flag=true"), { path: ["flag"], value: true });
});

Deno.test("parseOverride rejects a missing = or an empty key part", () => {
  for (const bad of ["alpha", "=1", "train..alpha=1"]) {
    let threw = false;
    try {
      parseOverride(bad);
    } catch (error) {
      threw = error instanceof UserError;
    }
    assertEquals(threw, true, bad);
  }
});

Deno.test("setPath creates nested objects and does not mutate its input", () => {
  const input = { train: { alpha: 1 } };
  assertEquals(setPath(input, { path: ["train", "epochs"], value: 3 }), {
    train: { alpha: 1, epochs: 3 },
  });
  assertEquals(setPath(input, { path: ["a", "b", "c"], value: 1 }), {
    train: { alpha: 1 },
    a: { b: { c: 1 } },
  });
  assertEquals(input, { train: { alpha: 1 } });
});

Deno.test("loadParams: missing file means all defaults; overrides apply; errors name the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "params.json");
    assertEquals(await loadParams(schema, file), {
      seeds: [0],
      train: { alpha: 0.05, backend: "cpu" },
    });
    await Deno.writeTextFile(file, JSON.stringify({ train: { alpha: 0.2 } }));
    const loaded = await loadParams(schema, file, {
      overrides: [parseOverride("seeds=[4]")],
    });
    assertEquals(loaded, { seeds: [4], train: { alpha: 0.2, backend: "cpu" } });
    await Deno.writeTextFile(file, JSON.stringify({ train: { alpah: 0.2 } }));
    const unknown = await assertRejects(
      () => loadParams(schema, file),
      UserError,
    );
    assertMatch(unknown.message, /unknown key train\.alpah/);
    await Deno.writeTextFile(file, JSON.stringify({ train: { alpha: "big" } }));
    const wrong = await assertRejects(
      () => loadParams(schema, file),
      UserError,
    );
    assertMatch(wrong.message, /train\.alpha: .*number/);
    await Deno.writeTextFile(file, "{ nope");
    const syntax = await assertRejects(
      () => loadParams(schema, file),
      UserError,
    );
    assertMatch(syntax.message, /params\.json: not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flattenParams uses dotted paths; arrays are leaves", () => {
  assertEquals(flattenParams({ a: { b: 1, c: { d: "x" } }, e: [1, 2] }), {
    "a.b": 1,
    "a.c.d": "x",
    e: [1, 2],
  });
});

Deno.test("diffParams names every changed key with old -> new", () => {
  assertEquals(
    diffParams({ alpha: 0.05, epochs: 10 }, { alpha: 0.1, epochs: 10 }),
    [
      "alpha 0.05 -> 0.1",
    ],
  );
  assertEquals(
    diffParams({ a: { b: 1 }, mode: "x", gone: 1 }, {
      a: { b: 2 },
      mode: "y",
      added: [1],
    }),
    [
      "a.b 1 -> 2",
      "added (unset) -> [1]",
      "gone 1 -> (unset)",
      'mode "x" -> "y"',
    ],
  );
  assertEquals(diffParams({ a: 1 }, { a: 1 }), []);
});

Deno.test("diffParams: an object emptied or filled is said by its members alone", () => {
  const sweep = { matrix: { train: { alpha: [0.01, 0.1] } }, seeds: [0] };
  const plain = { matrix: {}, seeds: [0] };
  assertEquals(diffParams(sweep, plain), [
    "matrix.train.alpha [0.01,0.1] -> (unset)",
  ]);
  assertEquals(diffParams(plain, sweep), [
    "matrix.train.alpha (unset) -> [0.01,0.1]",
  ]);
  // An empty object against nothing at all is still a change.
  assertEquals(diffParams({}, { matrix: {} }), ["matrix (unset) -> {}"]);
});
