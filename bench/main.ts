/**
 * `deno task bench`: training samples/s of our step (models/train_step.ts) on each backend
 * that works here, side by side with the PyTorch reference run in the same invocation, and
 * the ratios (our time / PyTorch's time for the same work).
 *
 * Usage: `deno run --allow-read --allow-write --allow-run --allow-env --allow-sys bench/main.ts
 *   [--steps 300] [--synthetic] [--backends wasm,cpu] [--webgpu] [--modes baseline,rdrop]
 *   [--full] [--variants] [--repeat 1] [--no-torch] [--torch-script PATH] [--python /usr/bin/python3]
 *   [--torch-threads 2] [--torch-epochs 1] [--data-dir DIR] [--json OUT]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import os from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendName, selectBackend } from "../models/backend.ts";
import { fashionMnistPaths } from "../data/fashion_mnist.ts";
import { readIdxFile } from "../data/idx.ts";
import { scaleImages } from "../data/preprocess.ts";
import {
  type BenchData,
  type Measurement,
  type MeasureOptions,
  measureTraining,
  syntheticData,
} from "./measure.ts";
import { defaultTorchScript, runTorch, type TorchResult } from "./torch.ts";
import { benchWebGpu } from "./webgpu.ts";

/** A wrong command-line option. */
export class BenchUsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BenchUsageError";
  }
}

/** Parsed command line. */
export interface BenchArgs {
  steps: number;
  /** Steps on the (slow) cpu backend. */
  cpuSteps: number;
  /** Steps on WebGPU (software llvmpipe here: keep it tiny). */
  webgpuSteps: number;
  /** `--webgpu`: the WebGPU bench alone (bench/webgpu.ts: tfjs ops before, fused after). */
  webgpu: boolean;
  synthetic: boolean;
  backends: BackendName[];
  modes: ("baseline" | "rdrop")[];
  full: boolean;
  /** Also measure the reference step and our step with tfjs-op Adam/head (wasm). */
  variants: boolean;
  /** Measurements per (backend, mode); the median is reported. */
  repeat: number;
  torch: boolean;
  torchScript: string;
  python: string;
  /** Torch thread counts to run; the first one is the peer of the ratio column. */
  torchThreads: number[];
  torchEpochs: number;
  dataDir: string;
  json: string | null;
}

const DEFAULTS = {
  batchSize: 32,
  alpha: 0.05,
  dropout: 0.5,
  learningRate: 1e-3,
  seed: 0,
  epochs: 10,
};

function positiveInt(
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new BenchUsageError(
      `--${name} must be a positive integer, got "${value}"`,
    );
  }
  return n;
}

/** Parses the bench's command line (see the module doc). */
export function parseBenchArgs(argv: string[], repoRoot: URL): BenchArgs {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        steps: { type: "string" },
        "cpu-steps": { type: "string" },
        "webgpu-steps": { type: "string" },
        synthetic: { type: "boolean", default: false },
        backends: { type: "string", default: "wasm,cpu" },
        webgpu: { type: "boolean", default: false },
        modes: { type: "string", default: "baseline,rdrop" },
        full: { type: "boolean", default: false },
        variants: { type: "boolean", default: false },
        repeat: { type: "string" },
        "no-torch": { type: "boolean", default: false },
        "torch-script": { type: "string" },
        python: { type: "string", default: "/usr/bin/python3" },
        "torch-threads": { type: "string", default: "2" },
        "torch-epochs": { type: "string" },
        "data-dir": {
          type: "string",
          default: "/usr/share/datasets/fashion-mnist",
        },
        json: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const backends = values.backends.split(",").map((s) => s.trim()).filter((s) =>
    s
  );
  for (const b of backends) {
    if (b !== "wasm" && b !== "cpu" && b !== "webgpu") {
      throw new BenchUsageError(
        `--backends: unknown backend "${b}" (wasm, cpu, webgpu)`,
      );
    }
  }
  if (values.webgpu && !backends.includes("webgpu")) backends.push("webgpu");
  const modes = values.modes.split(",").map((s) => s.trim()).filter((s) => s);
  for (const m of modes) {
    if (m !== "baseline" && m !== "rdrop") {
      throw new BenchUsageError(
        `--modes: unknown mode "${m}" (baseline, rdrop)`,
      );
    }
  }
  const steps = positiveInt("steps", values.steps, 300);
  return {
    steps,
    cpuSteps: positiveInt(
      "cpu-steps",
      values["cpu-steps"],
      Math.min(steps, 20),
    ),
    webgpuSteps: positiveInt(
      "webgpu-steps",
      values["webgpu-steps"],
      Math.min(steps, 20),
    ),
    synthetic: values.synthetic,
    webgpu: values.webgpu,
    backends: backends as BackendName[],
    modes: modes as ("baseline" | "rdrop")[],
    full: values.full,
    variants: values.variants,
    repeat: positiveInt("repeat", values.repeat, 1),
    torch: !values["no-torch"],
    torchScript: values["torch-script"] ?? defaultTorchScript(repoRoot),
    python: values.python,
    torchThreads: values["torch-threads"].split(",").map((t) =>
      positiveInt("torch-threads", t.trim(), 2)
    ),
    torchEpochs: positiveInt(
      "torch-epochs",
      values["torch-epochs"],
      values.full ? DEFAULTS.epochs : 1,
    ),
    dataDir: values["data-dir"],
    json: values.json ?? null,
  };
}

async function loadTrainData(dir: string): Promise<BenchData> {
  const paths = fashionMnistPaths(dir);
  const images = await readIdxFile(paths.trainImages);
  const labels = await readIdxFile(paths.trainLabels);
  const count = images.dims[0];
  return {
    images: scaleImages(images.data),
    labels: Int32Array.from(labels.data),
    count,
    features: images.data.length / count,
    source: `fashion-mnist (${dir})`,
  };
}

/** One row of the result table. */
export interface BenchRow {
  backend: string;
  mode: "baseline" | "rdrop";
  steps: number;
  oursSamplesPerSecond: number;
  oursCpuSamplesPerSecond: number;
  torchSamplesPerSecond: number | null;
  /** Our time / PyTorch's time for the same number of samples (null without PyTorch). */
  ratio: number | null;
}

/** The run with the median throughput (the upper one of the middle two). */
export function medianRun(runs: Measurement[]): Measurement {
  const sorted = [...runs].sort((a, b) =>
    a.samplesPerSecond - b.samplesPerSecond
  );
  return sorted[Math.floor(sorted.length / 2)];
}

/** Ratio of our time to PyTorch's for equal work, from the two throughputs. */
export function timeRatio(
  oursPerSecond: number,
  torchPerSecond: number | null,
): number | null {
  if (torchPerSecond === null || !(oursPerSecond > 0)) return null;
  return torchPerSecond / oursPerSecond;
}

/** Formats the rows as a Markdown table. */
export function formatTable(rows: BenchRow[]): string {
  const head =
    "| backend | mode | steps | ours samples/s | ours samples/cpu-s | torch samples/s | " +
    "ratio (our time / torch) |";
  const line = "|---|---|---:|---:|---:|---:|---:|";
  const body = rows.map((r) =>
    `| ${r.backend} | ${r.mode} | ${r.steps} | ${
      r.oursSamplesPerSecond.toFixed(0)
    } | ${r.oursCpuSamplesPerSecond.toFixed(0)} | ${
      r.torchSamplesPerSecond === null
        ? "n/a"
        : r.torchSamplesPerSecond.toFixed(0)
    } | ${r.ratio === null ? "n/a" : `${r.ratio.toFixed(2)}x`} |`
  );
  return [head, line, ...body].join("\n");
}

/**
 * Time of the default job (both models, `epochs` epochs over `samples` each) from the
 * per-mode throughputs; null when one is missing.
 */
export function projectedJobSeconds(
  perSecond: { baseline: number | null; rdrop: number | null },
  samples: number,
  epochs: number,
): number | null {
  if (!perSecond.baseline || !perSecond.rdrop) return null;
  return samples * epochs * (1 / perSecond.baseline + 1 / perSecond.rdrop);
}

/**
 * The PyTorch runs as a Markdown table; samples per CPU-second use the whole process's CPU
 * time (imports, data loading and evaluation included, so slightly pessimistic for torch).
 */
export function formatTorchTable(runs: TorchResult[], samples: number): string {
  const lines = [
    "| torch threads | mode | samples/s | samples/cpu-s (process) |",
    "|---:|---|---:|---:|",
  ];
  for (const r of runs) {
    if (!r.ok) continue;
    const mode = r.summary.args.mode;
    lines.push(
      `| ${r.threads} | ${mode} | ${r.summary.samples_per_s.toFixed(0)} | ${
        r.cpuSeconds ? (samples / r.cpuSeconds).toFixed(0) : "n/a"
      } |`,
    );
  }
  return lines.join("\n");
}

function loadAverage(): string {
  try {
    return os.loadavg().map((n) => n.toFixed(2)).join(" ");
  } catch {
    return "unknown (needs --allow-sys)";
  }
}

async function main(argv: string[]): Promise<number> {
  const repoRoot = new URL("../", import.meta.url);
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv, repoRoot);
  } catch (error) {
    if (error instanceof BenchUsageError) {
      console.error(`bench: ${error.message}`);
      return 2;
    }
    throw error;
  }
  let data: BenchData;
  if (args.synthetic) {
    data = syntheticData(
      args.full ? 60000 : Math.max(args.steps + 5, 64) * 32,
      1,
    );
  } else {
    try {
      data = await loadTrainData(args.dataDir);
    } catch (error) {
      console.error(
        `bench: cannot read Fashion-MNIST from ${args.dataDir} (${
          (error as Error).message
        }); ` +
          `install dataset-fashion-mnist, pass --data-dir, or use --synthetic`,
      );
      return 1;
    }
  }
  console.log(
    `bench: data ${data.source}, ${data.count} samples; batch ${DEFAULTS.batchSize}; ` +
      `${navigator.hardwareConcurrency} CPUs; load average ${loadAverage()}`,
  );
  if (args.webgpu) {
    // The WebGPU paths alone, before (tfjs ops) and after (fused), with call counts.
    await benchWebGpu(data, {
      modes: args.modes,
      beforeSteps: args.webgpuSteps,
      afterSteps: args.steps,
      settings: { ...DEFAULTS, readEvery: 50 },
    });
    return 0;
  }
  const epochs = args.full ? DEFAULTS.epochs : null;
  const perEpochSteps = Math.ceil(data.count / DEFAULTS.batchSize);
  const measurements: Measurement[] = [];
  for (const backend of args.backends) {
    try {
      await selectBackend(backend);
    } catch (error) {
      console.log(
        `bench: backend ${backend} unavailable: ${(error as Error).message}`,
      );
      continue;
    }
    const runs: {
      label: string;
      step?: "reference";
      variant?: MeasureOptions["variant"];
    }[] = backend === "wasm" && args.variants
      ? [
        {
          label: "wasm: reference step (autodiff, tfjs-op Adam)",
          step: "reference",
        },
        {
          label: "wasm: ours, tfjs-op Adam, tfjs-op head",
          variant: { adam: "device", head: "device" },
        },
        {
          label: "wasm: ours, kernel Adam, tfjs-op head",
          variant: { adam: "host", head: "device" },
        },
        { label: "wasm" },
      ]
      : [{ label: backend }];
    for (const run of runs) {
      for (const mode of args.modes) {
        const steps = epochs
          ? epochs * perEpochSteps
          : backend === "cpu"
          ? args.cpuSteps
          : backend === "webgpu"
          ? args.webgpuSteps
          : args.steps;
        // Shared machines drift: repeat and keep the median run (by throughput).
        const repeats: Measurement[] = [];
        for (let r = 0; r < (epochs ? 1 : args.repeat); r++) {
          repeats.push(
            await measureTraining(data, {
              mode,
              steps,
              warmup: epochs ? 0 : backend === "wasm" ? 30 : 3,
              batchSize: DEFAULTS.batchSize,
              alpha: DEFAULTS.alpha,
              dropout: DEFAULTS.dropout,
              learningRate: DEFAULTS.learningRate,
              seed: DEFAULTS.seed,
              step: run.step,
              variant: run.variant,
            }),
          );
        }
        const m = medianRun(repeats);
        if (repeats.length > 1) {
          console.log(
            `ours  ${run.label} ${mode}: runs ${
              repeats.map((x) => x.samplesPerSecond.toFixed(0)).join(", ")
            } samples/s; median kept`,
          );
        }
        m.backend = run.label;
        measurements.push(m);
        console.log(
          `ours  ${run.label} ${mode} ${steps} steps: ` +
            `${m.samplesPerSecond.toFixed(0)} samples/s (wall ${
              m.wallSeconds.toFixed(1)
            } s, ` +
            `cpu ${m.cpuSeconds.toFixed(1)} s, ${
              (1000 * m.wallSeconds / steps).toFixed(2)
            } ` +
            `ms/step, ${
              (1000 * m.cpuSeconds / steps).toFixed(2)
            } cpu-ms/step), ` +
            `last loss ${m.lastLoss.toFixed(4)}`,
        );
      }
    }
  }
  const torchRuns: TorchResult[] = [];
  const torch: Record<string, TorchResult> = {};
  if (args.torch) {
    for (const threads of args.torchThreads) {
      for (const mode of args.modes) {
        console.log(
          `torch ${mode}: ${args.torchEpochs} epoch(s), --threads ${threads} ...`,
        );
        const result = await runTorch({
          script: args.torchScript,
          python: args.python,
          mode,
          epochs: args.torchEpochs,
          threads,
          batchSize: DEFAULTS.batchSize,
          learningRate: DEFAULTS.learningRate,
          alpha: DEFAULTS.alpha,
          seed: DEFAULTS.seed,
        });
        torchRuns.push(result);
        if (threads === args.torchThreads[0]) torch[mode] = result;
        console.log(
          result.ok
            ? `torch ${mode} (--threads ${threads}): ${
              result.summary.samples_per_s.toFixed(0)
            } samples/s (train ${
              result.summary.train_s.toFixed(1)
            } s, process cpu ${
              result.cpuSeconds?.toFixed(1) ?? "?"
            } s, test acc ${(100 * result.summary.final_test_acc).toFixed(2)}%)`
            : `torch ${mode}: not measured: ${result.reason}`,
        );
      }
    }
  } else {
    console.log("torch: skipped (--no-torch)");
  }
  const torchRate = (mode: string): number | null => {
    const r = torch[mode];
    return r && r.ok ? r.summary.samples_per_s : null;
  };
  const rows: BenchRow[] = measurements.map((m) => ({
    backend: m.backend,
    mode: m.mode,
    steps: m.steps,
    oursSamplesPerSecond: m.samplesPerSecond,
    oursCpuSamplesPerSecond: m.samples / m.cpuSeconds,
    torchSamplesPerSecond: torchRate(m.mode),
    ratio: timeRatio(m.samplesPerSecond, torchRate(m.mode)),
  }));
  console.log("");
  console.log(formatTable(rows));
  if (torchRuns.some((r) => r.ok)) {
    console.log("");
    console.log(formatTorchTable(torchRuns, args.torchEpochs * data.count));
  }
  const jobs: Record<string, unknown> = {};
  for (const backend of new Set(rows.map((r) => r.backend))) {
    const rate = (mode: string) =>
      rows.find((r) => r.backend === backend && r.mode === mode)
        ?.oursSamplesPerSecond ?? null;
    const ours = projectedJobSeconds(
      { baseline: rate("baseline"), rdrop: rate("rdrop") },
      data.count,
      DEFAULTS.epochs,
    );
    const theirs = projectedJobSeconds(
      { baseline: torchRate("baseline"), rdrop: torchRate("rdrop") },
      data.count,
      DEFAULTS.epochs,
    );
    if (ours === null) continue;
    const ratio = theirs === null ? null : ours / theirs;
    jobs[backend] = { oursSeconds: ours, torchSeconds: theirs, ratio };
    console.log(
      `default job (both models, ${DEFAULTS.epochs} epochs, ${data.count} samples) on ${backend}: ` +
        `${args.full ? "measured" : "projected"} ours ${ours.toFixed(0)} s` +
        (theirs === null
          ? ""
          : `, torch ${theirs.toFixed(0)} s, ratio ${
            ratio!.toFixed(2)
          }x (bar: <= 3x) ${ratio! <= 3 ? "MET" : "NOT MET"}`),
    );
  }
  console.log(`load average at the end: ${loadAverage()}`);
  if (args.json) {
    // Atomic: a temporary file in the same directory, then a rename.
    const tmp = `${args.json}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(
      tmp,
      JSON.stringify(
        {
          args,
          data: { source: data.source, count: data.count },
          tfjs: tf.version_core,
          deno: Deno.version.deno,
          rows,
          measurements,
          torch,
          jobs,
        },
        null,
        1,
      ) + "\n",
    );
    await Deno.rename(tmp, args.json);
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
