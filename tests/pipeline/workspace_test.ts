import { join } from "node:path";
import { assertEquals } from "../assert.ts";
import { sha256File } from "../../pipeline/plan/hash.ts";
import { changedOutputs } from "../../pipeline/workspace.ts";

async function recordOf(path: string) {
  const { sha256, size } = await sha256File(path);
  const mtime = (await Deno.stat(path)).mtime?.getTime() ?? 0;
  return { sha256, size, mtime };
}

Deno.test("changedOutputs: a copy with a new mtime but the recorded content is unchanged; other content of the same size, a missing file or another size is changed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "workspace_" });
  try {
    const names = ["same.txt", "edited.txt", "gone.txt", "grown.txt"];
    for (const name of names) {
      await Deno.writeTextFile(join(dir, name), "result 1\n");
    }
    const recorded = Object.fromEntries(
      await Promise.all(
        names.map(async (n) => [n, await recordOf(join(dir, n))] as const),
      ),
    );
    assertEquals(
      await changedOutputs(dir, { recorded, declared: names }),
      [],
    );
    const later = new Date(Date.now() + 60_000);
    // Rewritten with the same bytes (as a fresh clone does): only the mtime moves.
    await Deno.writeTextFile(join(dir, "same.txt"), "result 1\n");
    await Deno.utime(join(dir, "same.txt"), later, later);
    await Deno.writeTextFile(join(dir, "edited.txt"), "result 2\n");
    await Deno.utime(join(dir, "edited.txt"), later, later);
    await Deno.remove(join(dir, "gone.txt"));
    await Deno.writeTextFile(join(dir, "grown.txt"), "result 10\n");
    assertEquals(
      await changedOutputs(dir, {
        recorded,
        declared: [...names, "undeclared-before.txt"],
      }),
      ["edited.txt", "gone.txt", "grown.txt", "undeclared-before.txt"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
