/**
 * `deno task bench`: the default job's training on our backends and in PyTorch, side by
 * side in one run, on the full data and in whole epochs (see `--help`).
 *
 * @module
 */
import os from "node:os";
import { fashionMnistPaths } from "../data/fashion_mnist.ts";
import { readIdxFile } from "../data/idx.ts";
import { scaleImages } from "../data/preprocess.ts";
import type { Split } from "../models/evaluate.ts";
import type { TrainData } from "../models/trainer.ts";
import { Params } from "../stages/params.ts";
import {
  type BenchArgs,
  BenchUsageError,
  parseBenchArgs,
  USAGE,
} from "./args.ts";
import { type OursResult, timeOurs } from "./ours.ts";
import { runTorch, type TorchResult } from "./torch.ts";
import { benchWebGpu } from "./webgpu.ts";

export { BenchUsageError, parseBenchArgs, USAGE };

/** One row of the comparison: a runner and its per-epoch seconds per mode. */
export interface JobRow {
  /** What ran, e.g. "ours native (OpenBLAS Haswell, 1 thread)". */
  label: string;
  /** Mean seconds per epoch (training + evaluation) per mode; null where it did not run. */
  epochSeconds: { baseline: number | null; rdrop: number | null };
  /** Samples per second of the training loops per mode. */
  samplesPerSecond: { baseline: number | null; rdrop: number | null };
  /** CPU seconds (all threads) of one epoch's training loop per mode. */
  cpuSeconds: { baseline: number | null; rdrop: number | null };
}

/** The default job's time (both models, `jobEpochs` epochs) from a row, or null. */
export function projectedJobSeconds(
  row: JobRow,
  jobEpochs: number,
): number | null {
  const { baseline, rdrop } = row.epochSeconds;
  return baseline === null || rdrop === null
    ? null
    : jobEpochs * (baseline + rdrop);
}

/** CPU seconds of the default job's training loops (both models, `jobEpochs` epochs), or null. */
export function projectedJobCpuSeconds(
  row: JobRow,
  jobEpochs: number,
): number | null {
  const { baseline, rdrop } = row.cpuSeconds;
  return baseline === null || rdrop === null ||
      !Number.isFinite(baseline + rdrop)
    ? null
    : jobEpochs * (baseline + rdrop);
}

/** The markdown comparison table; ratios are against `peer` (PyTorch 1 thread). */
export function formatJobTable(
  rows: JobRow[],
  options: { jobEpochs: number; peer: JobRow | null },
): string {
  const fmt = (v: number | null, digits = 1) =>
    v === null ? "–" : v.toFixed(digits);
  const rate = (v: number | null) => v === null ? "–" : String(Math.round(v));
  const peerJob = options.peer
    ? projectedJobSeconds(options.peer, options.jobEpochs)
    : null;
  const peerCpu = options.peer
    ? projectedJobCpuSeconds(options.peer, options.jobEpochs)
    : null;
  const lines = [
    `| run | baseline s/epoch | baseline samples/s | R-Drop s/epoch | R-Drop samples/s | default job (${options.jobEpochs} epochs, both), s | time vs PyTorch 1 thread | training CPU s, job | CPU vs PyTorch 1 thread |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of rows) {
    const job = projectedJobSeconds(row, options.jobEpochs);
    const ratio = job !== null && peerJob
      ? `${(job / peerJob).toFixed(2)}x`
      : "–";
    const cpu = projectedJobCpuSeconds(row, options.jobEpochs);
    const cpuRatio = cpu !== null && peerCpu
      ? `${(cpu / peerCpu).toFixed(2)}x`
      : "–";
    lines.push(
      `| ${row.label} | ${fmt(row.epochSeconds.baseline)} | ${
        rate(row.samplesPerSecond.baseline)
      } | ${fmt(row.epochSeconds.rdrop)} | ${
        rate(row.samplesPerSecond.rdrop)
      } | ${fmt(job, 0)} | ${ratio} | ${fmt(cpu, 0)} | ${cpuRatio} |`,
    );
  }
  return lines.join("\n");
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function oursRow(
  label: string,
  results: OursResult[],
  samples: number,
): JobRow {
  const row: JobRow = {
    label,
    epochSeconds: { baseline: null, rdrop: null },
    samplesPerSecond: { baseline: null, rdrop: null },
    cpuSeconds: { baseline: null, rdrop: null },
  };
  for (const r of results) {
    if (!r.ok) continue;
    row.cpuSeconds[r.mode] = mean(r.epochs.map((e) => e.trainCpuSeconds));
    row.epochSeconds[r.mode] = mean(r.epochs.map((e) => e.wallSeconds));
    row.samplesPerSecond[r.mode] = samples /
      mean(r.epochs.map((e) => e.trainSeconds));
  }
  return row;
}

function torchRow(
  threads: number,
  results: TorchResult[],
  samples: number,
): JobRow {
  const row: JobRow = {
    label: `PyTorch ${threads} thread${threads === 1 ? "" : "s"}`,
    epochSeconds: { baseline: null, rdrop: null },
    samplesPerSecond: { baseline: null, rdrop: null },
    cpuSeconds: { baseline: null, rdrop: null },
  };
  for (const r of results) {
    if (!r.ok || r.threads !== threads) continue;
    row.cpuSeconds[r.summary.args.mode] = r.summary.train_cpu_s /
      r.summary.epochs.length;
    const s = r.summary;
    const epochs = s.epochs.length;
    row.epochSeconds[s.args.mode] = (s.train_s + s.eval_s) / epochs;
    row.samplesPerSecond[s.args.mode] = (samples * epochs) / s.train_s;
  }
  return row;
}

async function loadSplit(images: string, labels: string): Promise<Split> {
  const x = await readIdxFile(images);
  const y = await readIdxFile(labels);
  const count = x.dims[0];
  return {
    images: scaleImages(x.data),
    labels: Int32Array.from(y.data),
    count,
    features: x.data.length / count,
  };
}

function machine(): string {
  let cpu = "unknown CPU";
  try {
    cpu = os.cpus()[0]?.model?.trim() || cpu;
  } catch { /* needs --allow-sys */ }
  return `${cpu}, ${navigator.hardwareConcurrency} logical CPUs, Deno ${Deno.version.deno}`;
}

function load(): string {
  try {
    return os.loadavg().map((n) => n.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

async function run(args: BenchArgs): Promise<number> {
  const paths = fashionMnistPaths(args.dataDir);
  const data: TrainData = {
    train: await loadSplit(paths.trainImages, paths.trainLabels),
    test: await loadSplit(paths.testImages, paths.testLabels),
  };
  const defaults = Params.parse({});
  if (args.webgpu) {
    // The WebGPU paths alone, before (tfjs ops) and after (fused), with call counts per step.
    await benchWebGpu(data.train, {
      modes: args.modes,
      beforeSteps: args.webgpuSteps,
      afterSteps: args.fusedSteps,
      settings: {
        batchSize: defaults.train.batchSize,
        alpha: defaults.train.alpha,
        learningRate: defaults.train.learningRate,
        seed: defaults.seeds[0],
        readEvery: 50,
      },
    });
    return 0;
  }
  const jobEpochs = defaults.train.epochs;
  const samples = data.train.count;
  const startLoad = load();
  console.log(
    `machine: ${machine()}; load average (1/5/15 min) at start ${startLoad}`,
  );
  console.log(
    `measured: ${args.epochs} epoch(s) per model on the full data (${samples} training ` +
      `samples), ${args.epochs}/${jobEpochs} of the default job; the job's time is projected`,
  );
  // Modes outermost: ours and PyTorch for one mode run back to back, so that a change of the
  // machine's load between them distorts the ratios less.
  const ours: OursResult[] = [];
  const torch: TorchResult[] = [];
  let failed = false;
  for (const mode of args.modes) {
    for (const backend of args.backends) {
      const r = await timeOurs(data, {
        backend,
        mode,
        epochs: args.epochs,
        blasThreads: args.blasThreads,
      });
      ours.push(r);
      if (!r.ok) {
        console.log(`ours ${backend} ${mode}: not run: ${r.reason}`);
        if (backend !== "webgpu") failed = true;
        continue;
      }
      for (const [i, e] of r.epochs.entries()) {
        console.log(
          `ours ${backend} ${mode} epoch ${i + 1}: ${
            e.trainSeconds.toFixed(2)
          } s training ` +
            `(${e.trainCpuSeconds.toFixed(2)} CPU s; quarters ${
              e.quarters.map((q) => q.toFixed(2)).join(" / ")
            } s), ${e.wallSeconds.toFixed(2)} s with evaluation, test acc ${
              (e.testAccuracy * 100).toFixed(2)
            } %, RSS ${Math.round(e.rssMb)} MB, load ${load()}`,
        );
      }
    }
    if (!args.torch) continue;
    for (const threads of args.torchThreads) {
      const r = await runTorch({
        script: args.torchScript,
        python: args.python,
        mode,
        epochs: args.epochs,
        threads,
        batchSize: defaults.train.batchSize,
        learningRate: defaults.train.learningRate,
        alpha: defaults.train.alpha,
        seed: defaults.seeds[0],
      });
      torch.push(r);
      if (r.ok) {
        console.log(
          `PyTorch ${threads}T ${mode}: ${
            r.summary.train_s.toFixed(2)
          } s training ` +
            `(${r.summary.train_cpu_s.toFixed(2)} CPU s), ${
              r.summary.eval_s.toFixed(2)
            } s evaluation, test acc ${
              (r.summary.final_test_acc * 100).toFixed(2)
            } % (torch ${r.summary.torch}), load ${load()}`,
        );
      } else {
        console.log(`PyTorch ${threads}T ${mode}: not run: ${r.reason}`);
      }
    }
  }
  const rows: JobRow[] = [];
  for (const backend of args.backends) {
    const results = ours.filter((r) => r.backend === backend);
    const native = results.find((r) => r.ok && r.blas);
    const blas = native && native.ok ? native.blas : null;
    if (blas) {
      console.log(
        `BLAS: ${blas.library}; ${blas.config}; core ${blas.coreName}; OPENBLAS_CORETYPE ${
          blas.coreTypeOverride ?? "(unset)"
        }`,
      );
    }
    const label = blas
      ? `ours native (OpenBLAS ${
        blas.version ?? ""
      } ${blas.coreName}, ${blas.threads} thread${
        blas.threads === 1 ? "" : "s"
      })`
      : `ours ${backend}`;
    rows.push(oursRow(label, results, samples));
  }
  if (args.torch) {
    for (const threads of args.torchThreads) {
      rows.push(torchRow(threads, torch, samples));
    }
  }
  const peer = rows.find((r) => r.label === "PyTorch 1 thread") ?? null;
  console.log("");
  console.log(formatJobTable(rows, { jobEpochs, peer }));
  console.log("");
  console.log(`load average at end ${load()}`);
  if (args.json) {
    await Deno.writeTextFile(
      args.json,
      JSON.stringify(
        {
          machine: machine(),
          load: { start: startLoad, end: load() },
          args,
          rows,
          ours,
          torch,
        },
        null,
        1,
      ),
    );
  }
  return failed ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv, new URL("../", import.meta.url));
  } catch (error) {
    if (error instanceof BenchUsageError) {
      console.error(`bench: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  return await run(args);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
