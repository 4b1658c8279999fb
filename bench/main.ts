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
import { oursRow, pipelineRow, torchRow } from "./job_rows.ts";
import {
  bestTorchRow,
  formatJobTable,
  type JobRow,
  projectedJobSeconds,
  verdict,
} from "./job_table.ts";
import { type OursResult, timeOurs } from "./ours.ts";
import {
  type PipelineJobResult,
  projectionMethod,
  projectPipelineJob,
  timePipelineJob,
} from "./pipeline_job.ts";
import { runTorch, runTorchTogether, type TorchResult } from "./torch.ts";
import { benchWebGpu } from "./webgpu.ts";
import { benchEdits, editTable } from "./edits.ts";
import { benchStartup, startupTable } from "./startup.ts";

export { BenchUsageError, parseBenchArgs, USAGE };

/** The issue's target: the real default job in at most this fraction of PyTorch 1 thread's time. */
const TARGET_RATIO = 0.5;

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
  if (args.edits || args.startup) {
    console.log(`machine: ${machine()}; load ${load()}`);
    if (args.startup) {
      const rows = await benchStartup({
        runs: args.startupRuns,
        log: (line) => console.log(line),
      });
      console.log(startupTable(rows, args.startupRuns));
    }
    if (args.edits) {
      const result = await benchEdits({
        base: args.editsBase,
        log: (line) => console.log(line),
      });
      console.log(editTable(result));
    }
    return 0;
  }
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
    args.epochs === jobEpochs
      ? `measured: the default job itself, ${jobEpochs} epochs per model on the full data ` +
        `(${samples} training samples); nothing projected`
      : `measured: ${args.epochs} epoch(s) per model on the full data (${samples} training ` +
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
  let together: TorchResult[] = [];
  if (args.torchTogether && args.modes.length === 2) {
    together = await runTorchTogether({
      script: args.torchScript,
      python: args.python,
      epochs: args.epochs,
      batchSize: defaults.train.batchSize,
      learningRate: defaults.train.learningRate,
      alpha: defaults.train.alpha,
      seed: defaults.seeds[0],
    });
    for (const r of together) {
      console.log(
        r.ok
          ? `PyTorch 1T ${r.summary.args.mode}, both trainings at once: ${
            r.summary.train_s.toFixed(2)
          } s training (${r.summary.train_cpu_s.toFixed(2)} CPU s), ${
            r.summary.eval_s.toFixed(2)
          } s evaluation, test acc ${
            (r.summary.final_test_acc * 100).toFixed(2)
          } %, load ${load()}`
          : `PyTorch 1T, both trainings at once: not run: ${r.reason}`,
      );
    }
  }
  let pipeline: PipelineJobResult | null = null;
  if (args.pipeline) {
    pipeline = await timePipelineJob({
      epochs: args.pipelineEpochs,
      jobEpochs,
      jobs: args.jobs,
      python: args.python,
    });
    reportPipeline(pipeline, jobEpochs);
    if (!pipeline.ok) failed = true;
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
  const pipelineJob = pipeline
    ? pipelineRow(pipeline, { jobEpochs, jobs: args.jobs })
    : null;
  if (pipelineJob) rows.push(pipelineJob);
  let peer: JobRow | null = null;
  if (args.torch) {
    for (const threads of args.torchThreads) {
      const row = torchRow(threads, torch, samples);
      if (threads === 1) peer = row;
      rows.push(row);
    }
    if (together.length > 0) rows.push(torchRow("together", together, samples));
  }
  console.log("");
  console.log(formatJobTable(rows, { jobEpochs, peer }));
  console.log("");
  console.log(
    `default job: per-training rows ${jobEpochs} x (baseline + R-Drop) s/epoch, one after ` +
      `the other; "at once" ${jobEpochs} x the slower one; the pipeline row its wall time` +
      (args.pipelineEpochs === jobEpochs
        ? ""
        : ` (*: projected; ${projectionMethod(jobEpochs)})`) +
      `; the pipeline row's CPU is the whole run's, all processes (getrusage of children), ` +
      `given only unprojected and when --python runs`,
  );
  const best = bestTorchRow(rows, jobEpochs);
  const judged = verdict({
    ours: pipelineJob ? projectedJobSeconds(pipelineJob, jobEpochs) : null,
    torchOneThread: peer ? projectedJobSeconds(peer, jobEpochs) : null,
    torchBest: best ? { label: best.row.label, seconds: best.seconds } : null,
    basis: basis(args, jobEpochs),
  }, { maxRatio: TARGET_RATIO });
  console.log(judged.line);
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
          verdict: judged,
          ours,
          torch,
          torchTogether: together,
          pipeline: pipeline && {
            ...pipeline,
            projection: pipeline.ok
              ? projectPipelineJob(pipeline, jobEpochs)
              : null,
            projectionMethod: projectionMethod(jobEpochs),
          },
        },
        null,
        1,
      ),
    );
  }
  return failed ? 1 : 0;
}

/** Which of the verdict's times are measured and which projected. */
function basis(args: BenchArgs, jobEpochs: number): string | null {
  const part = (what: string, epochs: number) =>
    epochs === jobEpochs
      ? `${what} measured`
      : `${what} projected from ${epochs} epoch(s)`;
  return args.pipelineEpochs === jobEpochs && args.epochs === jobEpochs
    ? null
    : `${part("deno task pipeline", args.pipelineEpochs)}, ${
      part("PyTorch", args.epochs)
    }`;
}

/** Prints what the pipeline run did: its trainings' spans, backends and the projection. */
function reportPipeline(result: PipelineJobResult, jobEpochs: number): void {
  const command = `deno ${result.command.join(" ")}`;
  if (!result.ok) {
    console.log(`deno task pipeline: not run: ${result.reason}`);
    console.log(`  command: ${command}`);
    const tail = result.output.trimEnd().split("\n").slice(-15);
    for (const line of tail) console.log(`  | ${line}`);
    return;
  }
  const p = projectPipelineJob(result, jobEpochs);
  console.log(
    `deno task pipeline (${result.epochs} epoch(s), scratch copy, empty cache): ${
      result.wallSeconds.toFixed(2)
    } s wall${
      result.cpuSeconds === null
        ? ""
        : `, ${result.cpuSeconds.toFixed(2)} CPU s (all processes)`
    }; training window ${p.trainingWindowSeconds.toFixed(2)} s (both at once ${
      p.overlapSeconds.toFixed(2)
    } s), fixed part ${p.fixedSeconds.toFixed(2)} s${
      p.projected
        ? `; projected to ${jobEpochs} epochs ${p.jobSeconds.toFixed(1)} s`
        : ""
    }, load ${load()}`,
  );
  for (const t of result.trainings) {
    const blas = t.blas
      ? ` (OpenBLAS ${
        t.blas.version ?? ""
      } ${t.blas.coreName}, ${t.blas.threads} thread${
        t.blas.threads === 1 ? "" : "s"
      })`
      : "";
    console.log(
      `  ${t.instance}: ${t.backend}${blas}, stage ${
        t.stageSeconds.toFixed(2)
      } s from +${t.startSeconds.toFixed(2)} s to +${
        t.endSeconds.toFixed(2)
      } s, training loops ${t.trainSeconds.toFixed(2)} s, ${
        Math.round(t.samplesPerSecond)
      } samples/s`,
    );
  }
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
