/**
 * A cache the user cannot write, and a full disk: `run`, `gc`, `exp remove` give one line
 * naming the path and the fix (no stack), and `exp show` still lists. A read-only `.pipeline/`
 * is a read-only bind mount where the test may mount (root), else `chmod a-w` (which root
 * ignores); the full disk is a 64 KiB tmpfs over `.pipeline/`. Without either, skipped.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { runCli } from "../../pipeline/mod.ts";
import { demoPipeline, makeRig, type Rig } from "./helpers.ts";

async function sh(command: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, {
      args,
      stdout: "null",
      stderr: "null",
    }).output()).success;
  } catch {
    return false;
  }
}

// `id -u`: the test task grants no --allow-sys=uid.
const isRoot = new TextDecoder().decode(
  (await new Deno.Command("id", { args: ["-u"] }).output()).stdout,
).trim() === "0";
/** Whether this test may mount (root, and a kernel that lets it). */
const canMount = isRoot && await (async () => {
  const dir = await Deno.makeTempDir();
  const ok = await sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
  if (ok) await sh("umount", [dir]);
  await Deno.remove(dir);
  return ok;
})();

async function cli(rig: Rig, args: string[]) {
  const { pipeline } = demoPipeline(rig);
  let stdout = "";
  let stderr = "";
  const code = await runCli(pipeline, args, {
    root: rig.root,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    tty: false,
    signal: new AbortController().signal,
    stdinTty: false,
  });
  return { code, stdout, stderr };
}

/** Makes `dir` read-only for this process; returns how to undo it. */
async function readOnly(dir: string): Promise<() => Promise<void>> {
  if (canMount) {
    assert(await sh("mount", ["--bind", dir, dir]), "bind mount");
    assert(
      await sh("mount", ["-o", "remount,ro,bind", dir]),
      "read-only remount",
    );
    return async () => void await sh("umount", [dir]);
  }
  assert(await sh("chmod", ["-R", "a-w", dir]));
  return async () => void await sh("chmod", ["-R", "u+w", dir]);
}

function oneLine(out: string, path: string): void {
  const lines = out.trimEnd().split("\n");
  assertEquals(lines.length, 1, out);
  assert(lines[0].startsWith("error: "), out);
  assert(lines[0].includes(path), `names ${path}: ${out}`);
  assertMatch(lines[0], /chmod -R u\+w \.pipeline/);
}

Deno.test({
  name:
    "a read-only .pipeline: run, gc and exp remove say which path and the fix; exp show lists",
  ignore: !canMount && isRoot,
  fn: async () => {
    await using rig = await makeRig();
    assertEquals((await cli(rig, [])).code, 0);
    const store = join(rig.root, ".pipeline");
    const undo = await readOnly(store);
    try {
      for (
        const args of [
          ["--set", "train.alpha=0.3"],
          ["gc", "--yes"],
          ["exp", "remove", "deadbeef"],
        ]
      ) {
        const ran = await cli(rig, args);
        assertEquals(ran.code, 2, `${args.join(" ")}: ${ran.stderr}`);
        oneLine(ran.stderr, store);
      }
      const shown = await cli(rig, ["exp", "show"]);
      assertEquals(shown.code, 0, shown.stderr);
      assertEquals(shown.stderr, "");
    } finally {
      await undo();
    }
  },
});

Deno.test({
  name:
    "a full disk under .pipeline: the run says no space left, names the path, keeps no half",
  ignore: !canMount,
  fn: async () => {
    await using rig = await makeRig();
    const store = join(rig.root, ".pipeline");
    await Deno.mkdir(store);
    assert(
      await sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", store]),
    );
    try {
      // Full at once (the run lock cannot be written), then with room for a page or two (a
      // stage's outputs or the cache entry cannot): 4 KiB pages on a 64 KiB tmpfs.
      for (
        const [kib, named] of [[60, "run.lock"], [52, ".pipeline/"]] as const
      ) {
        await sh("dd", [
          "if=/dev/zero",
          `of=${join(store, "filler")}`,
          "bs=1k",
          `count=${kib}`,
        ]);
        const ran = await cli(rig, ["--set", `train.alpha=${kib}`]);
        const out = ran.stdout + ran.stderr;
        assertEquals(ran.code, 1, out);
        assertMatch(out, /no space left on the device while writing \/\S+/);
        assert(out.includes(named), `names ${named}:\n${out}`);
        assert(!/^\s+at /m.test(out), `a stack trace:\n${out}`);
      }
    } finally {
      await sh("umount", [store]);
    }
  },
});
