/**
 * One Ctrl-C in a real terminal is one Ctrl-C. The terminal sends SIGINT to the whole
 * foreground process group (`deno task`, the coordinator, its workers) and `deno task` forwards
 * it to its child again; counted as two, the coordinator printed `second Ctrl-C: exiting now`
 * and skipped the graceful stop. Driven through a pseudo-terminal (util-linux `script`) running
 * `deno task pipeline --jobs 2` with the task's own flags and a fixture as the entry point.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { writeFixtureRoot } from "./fixtures/fixture_settings.ts";
import { readPipelineTask, writeFixtureTask } from "./task_command.ts";
import { denoCommand } from "./helpers.ts";
import { SAME_CTRL_C_MS } from "../../pipeline/cli/mod.ts";

const FIXTURE = fileURLToPath(
  new URL("./fixtures/parallel_pipeline.ts", import.meta.url),
);

const scriptMissing = await new Deno.Command("script", { args: ["--version"] })
  .output().then((out) => !out.success, () => true);

/** Tries per run: the double count was a race (6 of 9 tries in the issue). */
const TRIES = 3;

/** Types Ctrl-C `presses` times, `gapMs` apart, once both workers have started. */
async function ctrlC(
  root: string,
  presses: number,
  gapMs = 0,
): Promise<{ code: number; out: string }> {
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
  const child = new Deno.Command("script", {
    // -q quiet, -f flush, -e the child's exit code, -c the command; no typescript file.
    args: [
      "-qfec",
      `${quote(denoCommand())} task pipeline --jobs 2`,
      "/dev/null",
    ],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const until = Date.now() + 60_000;
  const started = () =>
    Array.fromAsync(Deno.readDir(join(root, "started"))).catch(() => []);
  while ((await started()).length < 2 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const writer = child.stdin.getWriter();
  for (let press = 0; press < presses; press++) {
    if (press > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    // Ctrl-C typed at the terminal: its line discipline signals the foreground process group.
    await writer.write(new Uint8Array([0x03]));
  }
  const result = await output.finally(() => writer.close().catch(() => {}));
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: result.code,
    out: decode(result.stdout) + decode(result.stderr),
  };
}

/** A root for the fixture; its work instances take `stopMs` to stop after Ctrl-C. */
async function fixtureRoot(stopMs = 0): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "pipeline-ctrl-c-" });
  await writeFixtureRoot(root, {});
  await Deno.writeTextFile(
    join(root, "fixture.json"),
    JSON.stringify({
      items: ["a", "b"],
      stepMs: 0,
      mode: "hang",
      stopMs,
      workerFlags: (await readPipelineTask()).flags,
    }),
  );
  await writeFixtureTask(root, FIXTURE);
  return root;
}

Deno.test({
  name:
    "one Ctrl-C at a terminal under deno task with --jobs 2 stops gracefully",
  ignore: scriptMissing,
  fn: async () => {
    for (let attempt = 0; attempt < TRIES; attempt++) {
      const root = await fixtureRoot();
      try {
        const { code, out } = await ctrlC(root, 1);
        assert(!out.includes("second Ctrl-C"), `try ${attempt + 1}:\n${out}`);
        assertMatch(out, /Ctrl-C: stopping the running stages/);
        assertMatch(out, /interrupted: work@a was stopped/);
        assertMatch(out, /interrupted: work@b was stopped/);
        assertEquals(code, 130, out);
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    }
  },
});

Deno.test({
  name: "a second Ctrl-C, a moment after the first, still exits at once",
  ignore: scriptMissing,
  fn: async () => {
    // The graceful stop takes longer than the gap: the second press comes while it runs.
    const root = await fixtureRoot(60_000);
    try {
      const { code, out } = await ctrlC(root, 2, SAME_CTRL_C_MS + 500);
      assertMatch(out, /second Ctrl-C: exiting now/);
      assertEquals(code, 130, out);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
