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

Deno.test("writeFileAtomic writes a buffer larger than its write chunk whole, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 9 MiB + 3 bytes: two whole 4 MiB chunks and a ragged tail; a subarray of a bigger buffer.
    const backing = new Uint8Array((9 << 20) + 11);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 255;
    const bytes = backing.subarray(8, 8 + (9 << 20) + 3);
    await writeFileAtomic(`${dir}/big.bin`, bytes);
    const back = await Deno.readFile(`${dir}/big.bin`);
    assertEquals(back.length, bytes.length);
    let firstDiff = -1;
    for (let i = 0; i < back.length && firstDiff < 0; i++) {
      if (back[i] !== bytes[i]) firstDiff = i;
    }
    assertEquals(firstDiff, -1);
    await writeFileAtomic(`${dir}/empty.bin`, new Uint8Array(0));
    assertEquals((await Deno.stat(`${dir}/empty.bin`)).size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
