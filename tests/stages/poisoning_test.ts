/**
 * Nothing unverified feeds a result, on the real pipeline under the `pipeline` task's own
 * permission flags (read from deno.json), with `--jobs 1` (stages in the coordinator) and
 * `--jobs 2` (worker processes): code edited while a run goes, a store object corrupted in place
 * (its mtime kept), and a manifest edited to name another valid object. Each either fails loudly
 * or recomputes; none is cached under a key that names other inputs.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { DEBIAN_DATASET_DIR } from "../../data/fashion_mnist.ts";
import { runTask, scratchProject } from "../project/_scratch.ts";
import { readTask, taskArgs } from "../../bench/deno_task.ts";

const TINY = [
  "--set",
  "preprocess.limit=1000",
  "--set",
  "train.epochs=2",
  "--set",
  "train.hidden=[64]",
];
const haveData = await Deno.stat(
  join(DEBIAN_DATASET_DIR, "train-images-idx3-ubyte.gz"),
).then(() => true, () => false);

/** One scratch project with a finished tiny run, copied for each scenario. */
let warmed: Promise<string> | undefined;
globalThis.addEventListener("unload", () => {
  warmed?.then((dir) => Deno.removeSync(dir, { recursive: true }));
});
function warmProject(): Promise<string> {
  warmed ??= (async () => {
    const dir = await scratchProject("rdrop_poison_");
    const run = await runTask(dir, "pipeline", [...TINY, "--jobs", "2"]);
    assertEquals(run.code, 0, run.out);
    return dir;
  })();
  return warmed;
}

async function copyOf(dir: string): Promise<string> {
  const copy = await Deno.makeTempDir({ prefix: "rdrop_poison_case_" });
  const cp = await new Deno.Command("cp", {
    args: ["-a", `${dir}/.`, copy],
  }).output();
  assert(cp.success, new TextDecoder().decode(cp.stderr));
  return copy;
}

const pipeline = (dir: string, args: string[]) =>
  runTask(dir, "pipeline", [...TINY, ...args]);

async function lockEntry(dir: string, instance: string) {
  const lock = JSON.parse(await Deno.readTextFile(join(dir, "pipeline.lock")));
  return lock.instances[instance] as {
    key: string;
    outputs: Record<string, { sha256: string }>;
  };
}

function objectPath(dir: string, sha256: string): string {
  return join(dir, ".pipeline/objects", sha256.slice(0, 2), sha256.slice(2));
}

/** Runs the pipeline and, when `line` appears in its output, calls `onLine` once. */
async function runUntil(
  dir: string,
  args: string[],
  options: { line: RegExp; onLine: () => Promise<void> },
): Promise<{ code: number; out: string }> {
  const task = await readTask("pipeline");
  const child = new Deno.Command(Deno.execPath(), {
    args: taskArgs(task, [...TINY, ...args]),
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let out = "";
  let fired = false;
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    out += chunk;
    if (!fired && options.line.test(out)) {
      fired = true;
      await options.onLine();
    }
  }
  const { code } = await child.status;
  return { code, out: out + await stderr };
}

for (const jobs of ["1", "2"]) {
  Deno.test({
    name:
      `--jobs ${jobs}: code edited while a training runs is not cached under the old code's key`,
    ignore: !haveData,
    async fn() {
      const dir = await copyOf(await warmProject());
      try {
        const file = join(dir, "stages/evaluate_run.ts");
        const original = await Deno.readTextFile(file);
        const poisoned = original.replace(
          "testAccuracy: result.accuracy,",
          "testAccuracy: 0.999,",
        );
        assert(poisoned !== original, "the edit applies");
        // A behaviour change in training makes the run train again; meanwhile the evaluation's
        // run code is edited (and the edit reverted after the run).
        const loss = join(dir, "models/loss_head.ts");
        await Deno.writeTextFile(
          loss,
          (await Deno.readTextFile(loss)).replace(
            "options.alpha * 0.5",
            "options.alpha * 0.25",
          ),
        );
        const first = await runUntil(dir, ["--jobs", jobs], {
          line: /running train_rdrop@0/,
          onLine: () => Deno.writeTextFile(file, poisoned),
        });
        assertEquals(first.code, 1, first.out);
        assertMatch(
          first.out,
          /evaluate_(baseline|rdrop)@0.*(code changed while this run was going: stages\/evaluate_run\.ts|refusing evaluate_(baseline|rdrop)@0.*code changed \(stages\/evaluate_run\.ts\))/s,
        );
        await Deno.writeTextFile(file, original);
        const second = await pipeline(dir, ["--jobs", jobs]);
        assertEquals(second.code, 0, second.out);
        const evaluation = JSON.parse(
          await Deno.readTextFile(
            join(dir, ".pipeline/out/evaluate_rdrop@0/evaluation.json"),
          ),
        );
        assert(evaluation.testAccuracy !== 0.999, "the edited code's result");
        const verify = await pipeline(dir, ["verify"]);
        assertEquals(verify.code, 0, verify.out);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });

  Deno.test({
    name:
      `--jobs ${jobs}: a store object corrupted in place (mtime kept) is never evaluated; the next run recomputes it`,
    ignore: !haveData,
    async fn() {
      const dir = await copyOf(await warmProject());
      try {
        const train = await lockEntry(dir, "train_rdrop@0");
        const before = JSON.parse(
          await Deno.readTextFile(
            join(dir, ".pipeline/out/evaluate_rdrop@0/evaluation.json"),
          ),
        );
        const object = objectPath(dir, train.outputs["weights.bin"].sha256);
        const { mtime } = await Deno.stat(object);
        await Deno.chmod(object, 0o644);
        const bytes = await Deno.readFile(object);
        bytes[bytes.length - 3] ^= 0x40; // one bit of a weight
        await Deno.writeFile(object, bytes);
        await Deno.utime(object, mtime as Date, mtime as Date);
        const forced = await pipeline(dir, [
          "--force",
          "evaluate_rdrop@0",
          "--jobs",
          jobs,
        ]);
        assertEquals(forced.code, 1, forced.out);
        assertMatch(
          forced.out,
          /train_rdrop@0.*(weights\.bin is corrupt in the cache|cached result corrupt \(weights\.bin\))/,
        );
        const rerun = await pipeline(dir, ["--jobs", jobs]);
        assertEquals(rerun.code, 0, rerun.out);
        assertMatch(rerun.out, /ran +train_rdrop@0/);
        const after = JSON.parse(
          await Deno.readTextFile(
            join(dir, ".pipeline/out/evaluate_rdrop@0/evaluation.json"),
          ),
        );
        // Training is deterministic: the recomputed weights evaluate as the original ones did.
        assertEquals(after.testLoss, before.testLoss);
        const verify = await pipeline(dir, ["verify"]);
        assertEquals(verify.code, 0, verify.out);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });

  Deno.test({
    name:
      `--jobs ${jobs}: a manifest edited to name another valid object is not restored`,
    ignore: !haveData,
    async fn() {
      const dir = await copyOf(await warmProject());
      try {
        const rdrop = await lockEntry(dir, "train_rdrop@0");
        const baseline = await lockEntry(dir, "train_baseline@0");
        const path = join(dir, ".pipeline/runs", `${rdrop.key}.json`);
        const manifest = JSON.parse(await Deno.readTextFile(path));
        manifest.outputs["weights.bin"] = JSON.parse(
          await Deno.readTextFile(
            join(dir, ".pipeline/runs", `${baseline.key}.json`),
          ),
        ).outputs["weights.bin"];
        await Deno.chmod(path, 0o644).catch(() => {});
        await Deno.writeTextFile(path, JSON.stringify(manifest, null, 2));
        const verify = await pipeline(dir, ["verify"]);
        assertEquals(verify.code, 1, verify.out);
        assertMatch(verify.out, /train_rdrop@0/);
        // Lose the checkout, so that the run must restore train_rdrop@0 from its manifest.
        await Deno.remove(join(dir, ".pipeline/out/train_rdrop@0"), {
          recursive: true,
        });
        const run = await pipeline(dir, ["--jobs", jobs]);
        assertEquals(run.code, 0, run.out);
        assertMatch(run.out, /ran +train_rdrop@0/);
        const weights = await Deno.readFile(
          join(dir, ".pipeline/out/train_rdrop@0/weights.bin"),
        );
        const base = await Deno.readFile(
          join(dir, ".pipeline/out/train_baseline@0/weights.bin"),
        );
        assert(
          weights.length !== base.length ||
            weights.some((byte, i) => byte !== base[i]),
          "train_rdrop@0 must not end up with the baseline's weights",
        );
        assertEquals(
          (await lockEntry(dir, "train_rdrop@0")).outputs["weights.bin"].sha256,
          rdrop.outputs["weights.bin"].sha256,
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
