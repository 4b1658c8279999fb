/**
 * The experiment end to end on a tiny slice of the real data: a report comes out, a rerun runs
 * nothing, and a param change reruns exactly the stages it concerns.
 *
 * Runs the real CLI in a scratch copy of the project so the repo's cache and results stay as
 * they are.
 */
import { fileURLToPath } from "node:url";
import { deepStrictEqual, ok } from "node:assert/strict";
import { join } from "node:path";
import { DEBIAN_DATASET_DIR } from "../../data/fashion_mnist.ts";
import { pipelineProcess } from "../pipeline/task_command.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const COPIED = [
  "deno.json",
  "deno.lock",
  "params.json",
  "pipeline",
  "stages",
  "models",
  "data",
];
const TINY = [
  "--set",
  "preprocess.limit=256",
  "--set",
  "train.epochs=1",
  "--set",
  "train.backend=wasm",
  "--set",
  "train.hidden=[32]",
];
const haveData = await Deno.stat(
  join(DEBIAN_DATASET_DIR, "train-images-idx3-ubyte.gz"),
)
  .then(() => true, () => false);

async function scratchProject(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rdrop_e2e_" });
  const cp = new Deno.Command("cp", {
    args: ["-r", ...COPIED.map((p) => join(ROOT, p)), dir],
  });
  ok((await cp.output()).success, "copying the project failed");
  // node_modules is created inside the copy from Deno's cache: the task may read only there.
  return dir;
}

async function cli(
  dir: string,
  args: string[],
): Promise<{ code: number; out: string }> {
  // The permissions of deno.json's pipeline task, read from deno.json.
  const command = await pipelineProcess(args, { root: dir });
  const { code, stdout, stderr } = await command.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, out: decode(stdout) + decode(stderr) };
}

/** Commits everything in `dir` (a new repository on the first call); returns the commit id. */
async function commitAll(dir: string, message: string): Promise<string> {
  const git = async (...args: string[]) => {
    const { success, stdout, stderr } = await new Deno.Command("git", {
      args: ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(success ? stdout : stderr);
    ok(success, `git ${args.join(" ")}: ${text}`);
    return text.trim();
  };
  await Deno.writeTextFile(
    join(dir, ".gitignore"),
    "node_modules\n.pipeline\n",
  );
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "-m", message);
  return await git("rev-parse", "HEAD");
}

function ranStages(out: string): string[] {
  // Sorted: with --jobs, independent instances finish in any order.
  return out.split("\n").filter((l) => /^ran\s/.test(l)).map((l) =>
    l.split(/\s+/)[1]
  ).sort();
}

Deno.test({
  name:
    "tiny end-to-end run: report, no-op rerun, and a param change reruns only its stages",
  ignore: !haveData,
  async fn() {
    const dir = await scratchProject();
    try {
      const commit = await commitAll(dir, "the project");
      const first = await cli(dir, TINY);
      deepStrictEqual(first.code, 0, first.out);
      deepStrictEqual(
        ranStages(first.out),
        [
          "download",
          "preprocess",
          "train_baseline@0",
          "train_rdrop@0",
          "evaluate_baseline@0",
          "evaluate_rdrop@0",
          "report",
        ].sort(),
      );
      const report = await Deno.readTextFile(join(dir, "results/report.md"));
      ok(
        report.includes("| Baseline |") && report.includes("| R-Drop (α="),
        report,
      );
      ok(first.out.includes("Report: results/report.md"), first.out);
      // The report says how it was made...
      ok(
        report.includes(
          `| Commit | \`${
            commit.slice(0, 12)
          }\` (main), clean: every tracked file`,
        ),
        report,
      );
      ok(
        report.includes(
          "| Command | `deno task pipeline --set preprocess.limit=256",
        ),
        report,
      );
      ok(report.includes("https://github.com/mathfirst/R-Dropout"), report);
      // ...but none of it is in a key: a new commit that changes no stage's code reruns nothing.
      await Deno.writeTextFile(join(dir, "NOTES.md"), "a new commit\n");
      await commitAll(dir, "notes");
      const afterCommit = await cli(dir, ["status", "--json", ...TINY]);
      deepStrictEqual(
        (JSON.parse(afterCommit.out) as { state: string }[])
          .filter((s) => s.state !== "fresh"),
        [],
      );

      const again = await cli(dir, TINY);
      deepStrictEqual(again.code, 0, again.out);
      deepStrictEqual(ranStages(again.out), []);

      // alpha only concerns R-Drop: the baseline and the data stages stay cached.
      const alpha = [...TINY, "--set", "train.alpha=0.5"];
      const status = await cli(dir, ["status", "--json", ...alpha]);
      deepStrictEqual(status.code, 0, status.out);
      const states = JSON.parse(status.out) as {
        stage: string;
        state: string;
      }[];
      const inState = (state: string) =>
        states.filter((s) => s.state === state).map((s) => s.stage);
      // The report prints every param; the evaluation's key holds train_rdrop@0's outputs,
      // known once it has run again.
      deepStrictEqual(inState("stale"), ["train_rdrop@0", "report"]);
      deepStrictEqual(inState("pending"), ["evaluate_rdrop@0"]);
      const changed = await cli(dir, alpha);
      deepStrictEqual(changed.code, 0, changed.out);
      deepStrictEqual(
        ranStages(changed.out),
        ["train_rdrop@0", "evaluate_rdrop@0", "report"].sort(),
      );

      // Back to the first value: every result comes from the run-cache.
      const back = await cli(dir, TINY);
      deepStrictEqual(back.code, 0, back.out);
      deepStrictEqual(ranStages(back.out), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a bad --set names the key and runs nothing",
  async fn() {
    const dir = await scratchProject();
    try {
      const result = await cli(dir, ["--set", "train.alpah=0.1"]);
      deepStrictEqual(result.code, 2, result.out);
      ok(
        result.out.includes(
          "unknown key train.alpah; did you mean train.alpha? keys of train: ",
        ),
        result.out,
      );
      deepStrictEqual(ranStages(result.out), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
