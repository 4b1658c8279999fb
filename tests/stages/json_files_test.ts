import { z } from "zod";
import { assertEquals, assertRejects } from "../assert.ts";
import { ArtifactError, readJson, writeJson } from "../../stages/json_files.ts";

const Point = z.object({ x: z.number(), y: z.number() });

Deno.test("writeJson validates on write and readJson reads the same value back", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeJson(`${dir}/p.json`, Point, { x: 1, y: 2 });
    assertEquals(await readJson(`${dir}/p.json`, Point), { x: 1, y: 2 });
    await assertRejects(
      // deno-lint-ignore no-explicit-any
      () => writeJson(`${dir}/q.json`, Point, { x: 1 } as any),
      z.ZodError,
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["p.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readJson names the file and the fix for a missing, broken or off-schema file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/metrics.json`;
    await assertRejects(
      () => readJson(path, Point),
      ArtifactError,
      `cannot read ${path}`,
    );
    await Deno.writeTextFile(path, "{nope");
    await assertRejects(
      () => readJson(path, Point),
      ArtifactError,
      `${path} is not valid JSON`,
    );
    await Deno.writeTextFile(path, JSON.stringify({ x: 1, y: "high" }));
    const error = await assertRejects(
      () => readJson(path, Point),
      ArtifactError,
      "y:",
    );
    assertEquals(
      error.message.includes("rerun the stage that writes it"),
      true,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
