/**
 * Runs the PyTorch reference (`shared/bench/torch_reference.py`) as a subprocess and reads
 * its JSON summary, so that our figures and PyTorch's come from the same run.
 *
 * @module
 */
import { z } from "zod";

/** The part of the reference's `--json` summary the bench reads. */
export const TorchSummary = z.object({
  train_s: z.number().nonnegative(),
  samples_per_s: z.number().nonnegative(),
  final_test_acc: z.number().min(0).max(1),
  torch: z.string(),
  epochs: z.array(z.object({
    epoch: z.number().int(),
    epoch_train_s: z.number(),
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
  | { ok: true; summary: TorchSummary }
  | { ok: false; reason: string };

/** Where the reference script lives by default: `<repo>/../shared/bench/torch_reference.py`. */
export function defaultTorchScript(repoRoot: URL): string {
  return new URL("../shared/bench/torch_reference.py", repoRoot).pathname;
}

/** Runs the reference once; never throws for a missing python, torch or script. */
export async function runTorch(options: TorchRunOptions): Promise<TorchResult> {
  try {
    await Deno.stat(options.script);
  } catch {
    return {
      ok: false,
      reason:
        `reference script not found at ${options.script} (--torch-script)`,
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "rdrop_bench_" });
  const json = `${dir}/torch.json`;
  try {
    const command = new Deno.Command(options.python, {
      args: [
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
      stdout: "piped",
      stderr: "piped",
    });
    let output: Deno.CommandOutput;
    try {
      output = await command.output();
    } catch (error) {
      return {
        ok: false,
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
        reason: `unexpected JSON from the reference: ${parsed.error.message}`,
      };
    }
    return { ok: true, summary: parsed.data };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
