/**
 * The comparison's rows made from what ran: our trainings per backend, the real pipeline run,
 * and the PyTorch reference (per thread count, and its two trainings at once).
 *
 * @module
 */
import type { JobRow } from "./job_table.ts";
import type { OursResult } from "./ours.ts";
import {
  describeOverlap,
  type PipelineJobResult,
  projectPipelineJob,
} from "./pipeline_job.ts";
import type { TorchResult } from "./torch.ts";

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function emptyRow(
  label: string,
  torch: boolean,
  shape: JobRow["shape"],
): JobRow {
  return {
    label,
    torch,
    shape,
    epochSeconds: { baseline: null, rdrop: null },
    samplesPerSecond: { baseline: null, rdrop: null },
    cpuSeconds: { baseline: null, rdrop: null },
  };
}

/** Our trainings on one backend, one after the other (`samples`: training samples per epoch). */
export function oursRow(
  label: string,
  results: readonly OursResult[],
  samples: number,
): JobRow {
  const row = emptyRow(label, false, { kind: "sequential" });
  for (const r of results) {
    if (!r.ok) continue;
    row.cpuSeconds[r.mode] = mean(r.epochs.map((e) => e.trainCpuSeconds));
    row.epochSeconds[r.mode] = mean(r.epochs.map((e) => e.wallSeconds));
    row.samplesPerSecond[r.mode] = samples /
      mean(r.epochs.map((e) => e.trainSeconds));
  }
  return row;
}

/**
 * PyTorch's runs as one row: with `threads`, the runs with that thread count one after the
 * other; with "together", the two 1-thread processes that ran at once.
 */
export function torchRow(
  threads: number | "together",
  results: readonly TorchResult[],
  samples: number,
): JobRow {
  const row = threads === "together"
    ? emptyRow("PyTorch two processes at once, 1 thread each", true, {
      kind: "concurrent",
    })
    : emptyRow(
      `PyTorch ${threads} thread${threads === 1 ? "" : "s"}`,
      true,
      { kind: "sequential" },
    );
  for (const r of results) {
    if (!r.ok || (threads !== "together" && r.threads !== threads)) continue;
    const s = r.summary;
    const epochs = s.epochs.length;
    row.cpuSeconds[s.args.mode] = s.train_cpu_s / epochs;
    row.epochSeconds[s.args.mode] = (s.train_s + s.eval_s) / epochs;
    row.samplesPerSecond[s.args.mode] = (samples * epochs) / s.train_s;
  }
  return row;
}

/**
 * The real default job: its time measured as a whole (projected to `jobEpochs` when it trained
 * fewer), samples/s from the trainings' run.json, and the whole run's CPU time when measured and
 * not projected (the fixed part's CPU is not known apart from the trainings').
 */
export function pipelineRow(
  result: PipelineJobResult,
  options: { jobEpochs: number; jobs: number | null },
): JobRow {
  const jobs = options.jobs === null
    ? "default --jobs"
    : `--jobs ${options.jobs}`;
  if (!result.ok) {
    return emptyRow(`deno task pipeline, ${jobs} (failed)`, false, {
      kind: "whole",
      jobSeconds: null,
      jobCpuSeconds: null,
      projected: false,
    });
  }
  const projection = projectPipelineJob(result, options.jobEpochs);
  const backends = [...new Set(result.trainings.map((t) => t.backend))];
  const row = emptyRow(
    `deno task pipeline, ${jobs} (${describeOverlap(result.trainings)}; ${
      backends.join(", ")
    })`,
    false,
    {
      kind: "whole",
      jobSeconds: projection.jobSeconds,
      jobCpuSeconds: projection.projected ? null : result.cpuSeconds,
      projected: projection.projected,
    },
  );
  for (const t of result.trainings) {
    row.samplesPerSecond[t.mode] = t.samplesPerSecond;
  }
  return row;
}
