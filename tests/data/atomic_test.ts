import { assertEquals, assertRejects } from "../assert.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../../data/atomic.ts";

Deno.test("writeFileAtomic replaces the target and leaves only the target behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTextFileAtomic(`${dir}/a.json`, "old");
    await writeFileAtomic(`${dir}/a.json`, new TextEncoder().encode("new"));
    assertEquals(await Deno.readTextFile(`${dir}/a.json`), "new");
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["a.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic fails cleanly when the target cannot be replaced", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Renaming a file over a non-empty directory fails after the temp file was written.
    await Deno.mkdir(`${dir}/target/inner`, { recursive: true });
    await assertRejects(() => writeTextFileAtomic(`${dir}/target`, "x"), Error);
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["target"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
