/**
 * Runs the PyTorch reference (`bench/torch_reference.py`) as a subprocess and reads its
 * JSON summary, so that our figures and PyTorch's come from the same run. `threads` sets
 * torch's intra-op threads and, through OPENBLAS_NUM_THREADS, those of the OpenBLAS under
 * Debian's torch (which otherwise starts one per core whatever torch is told).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** The part of the reference's `--json` summary the bench reads. */
export const TorchSummary = z.object({
  args: z.object({
    mode: z.enum(["baseline", "rdrop"]),
    threads: z.number().int(),
  }),
  train_s: z.number().nonnegative(),
  train_cpu_s: z.number().nonnegative(),
  eval_s: z.number().nonnegative(),
  samples_per_s: z.number().nonnegative(),
  final_test_acc: z.number().min(0).max(1),
  torch: z.string(),
  epochs: z.array(z.object({
    epoch: z.number().int(),
    epoch_train_s: z.number(),
    test_acc: z.number().min(0).max(1),
    samples_per_s: z.number(),
  })),
});
/** The reference's JSON summary (fields the bench uses). */
export type TorchSummary = z.infer<typeof TorchSummary>;

/** Settings of one reference run. */
export interface TorchRunOptions {
  /** Path of `torch_reference.py`. */
  script: string;
  /** Interpreter with torch (Debian's `/usr/bin/python3`). */
  python: string;
  mode: "baseline" | "rdrop";
  epochs: number;
  threads: number;
  batchSize: number;
  learningRate: number;
  alpha: number;
  seed: number;
}

/** Outcome of {@linkcode runTorch}: the summary, or why there is none. */
export type TorchResult =
  | {
    ok: true;
    summary: TorchSummary;
    cpuSeconds: number | null;
    threads: number;
  }
  | { ok: false; reason: string; threads: number };

// Runs the reference script unchanged as __main__ and then prints the interpreter's CPU
// time (user + system, all threads), so that runs on a loaded machine can be compared by
// CPU time as well as wall time.
const RUSAGE_WRAPPER = [
  "import resource, runpy, sys",
  "script = sys.argv[1]",
  "sys.argv = sys.argv[1:]",
  "runpy.run_path(script, run_name='__main__')",
  "r = resource.getrusage(resource.RUSAGE_SELF)",
  "print('BENCH_RUSAGE %.6f' % (r.ru_utime + r.ru_stime), flush=True)",
].join("\n");

/** The CPU seconds printed by the wrapper, or null. */
export function parseRusage(stdout: string): number | null {
  const match = /^BENCH_RUSAGE ([0-9.]+)$/m.exec(stdout);
  return match ? Number(match[1]) : null;
}

/** Where the reference script lives by default: `<repo>/bench/torch_reference.py`. */
export function defaultTorchScript(repoRoot: URL): string {
  return fileURLToPath(new URL("bench/torch_reference.py", repoRoot));
}

/** Runs the reference once; never throws for a missing python, torch or script. */
export async function runTorch(options: TorchRunOptions): Promise<TorchResult> {
  try {
    await Deno.stat(options.script);
  } catch {
    return {
      ok: false,
      threads: options.threads,
      reason:
        `reference script not found at ${options.script} (--torch-script)`,
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "rdrop_bench_" });
  const json = `${dir}/torch.json`;
  try {
    const command = new Deno.Command(options.python, {
      args: [
        "-c",
        RUSAGE_WRAPPER,
        options.script,
        "--mode",
        options.mode,
        "--epochs",
        String(options.epochs),
        "--threads",
        String(options.threads),
        "--batch-size",
        String(options.batchSize),
        "--lr",
        String(options.learningRate),
        "--alpha",
        String(options.alpha),
        "--seed",
        String(options.seed),
        "--json",
        json,
      ],
      env: { OPENBLAS_NUM_THREADS: String(options.threads) },
      stdout: "piped",
      stderr: "piped",
    });
    let output: Deno.CommandOutput;
    try {
      output = await command.output();
    } catch (error) {
      return {
        ok: false,
        threads: options.threads,
        reason: `could not start ${options.python}: ${
          (error as Error).message
        }`,
      };
    }
    if (!output.success) {
      const err = new TextDecoder().decode(output.stderr).trim().split("\n")
        .slice(-3)
        .join(" | ");
      return {
        ok: false,
        threads: options.threads,
        reason:
          `${options.python} ${options.script} failed (exit ${output.code}): ${err}` +
          (err.includes("No module named 'torch'")
            ? " (apt-get install python3-torch)"
            : ""),
      };
    }
    const parsed = TorchSummary.safeParse(
      JSON.parse(await Deno.readTextFile(json)),
    );
    if (!parsed.success) {
      return {
        ok: false,
        threads: options.threads,
        reason: `unexpected JSON from the reference: ${parsed.error.message}`,
      };
    }
    return {
      ok: true,
      summary: parsed.data,
      cpuSeconds: parseRusage(new TextDecoder().decode(output.stdout)),
      threads: options.threads,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs the reference's two trainings (baseline and R-Drop) as two 1-thread processes at once:
 * PyTorch's best use of two cores for the default job, as the pipeline runs ours.
 */
export async function runTorchTogether(
  options: Omit<TorchRunOptions, "mode" | "threads">,
): Promise<TorchResult[]> {
  return await Promise.all(
    (["baseline", "rdrop"] as const).map((mode) =>
      runTorch({ ...options, mode, threads: 1 })
    ),
  );
}
