/**
 * The bench's comparison: one row per runner, the default job's time made from each row (the
 * two trainings one after the other, at once, or measured as a whole), the markdown table with
 * ratios against PyTorch 1 thread and PyTorch's best row, and the verdict on the target.
 *
 * @module
 */

/** How a row's default-job time is made. */
export type JobShape =
  /** The two trainings one after the other: epochs x (baseline + R-Drop) s/epoch. */
  | { kind: "sequential" }
  /** The two trainings at once: epochs x the slower one's s/epoch. */
  | { kind: "concurrent" }
  /** Measured as a whole (the pipeline), already projected to the job where it had to be. */
  | {
    kind: "whole";
    jobSeconds: number | null;
    jobCpuSeconds: number | null;
    projected: boolean;
  };

/** One row of the comparison: a runner and its per-epoch seconds per mode. */
export interface JobRow {
  /** What ran, e.g. "ours native (OpenBLAS Haswell, 1 thread)". */
  label: string;
  /** True for a PyTorch row (the peers the ratios and the verdict compare with). */
  torch: boolean;
  /** How the job's time is made from the row. */
  shape: JobShape;
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
  if (row.shape.kind === "whole") return row.shape.jobSeconds;
  const { baseline, rdrop } = row.epochSeconds;
  if (baseline === null || rdrop === null) return null;
  return row.shape.kind === "concurrent"
    ? jobEpochs * Math.max(baseline, rdrop)
    : jobEpochs * (baseline + rdrop);
}

/** CPU seconds of the default job's training loops (both models, `jobEpochs` epochs), or null. */
export function projectedJobCpuSeconds(
  row: JobRow,
  jobEpochs: number,
): number | null {
  if (row.shape.kind === "whole") return row.shape.jobCpuSeconds;
  const { baseline, rdrop } = row.cpuSeconds;
  return baseline === null || rdrop === null ||
      !Number.isFinite(baseline + rdrop)
    ? null
    : jobEpochs * (baseline + rdrop);
}

/** PyTorch's fastest row for the job, or null when no PyTorch row has a job time. */
export function bestTorchRow(
  rows: readonly JobRow[],
  jobEpochs: number,
): { row: JobRow; seconds: number } | null {
  let best: { row: JobRow; seconds: number } | null = null;
  for (const row of rows) {
    if (!row.torch) continue;
    const seconds = projectedJobSeconds(row, jobEpochs);
    if (seconds !== null && (best === null || seconds < best.seconds)) {
      best = { row, seconds };
    }
  }
  return best;
}

/** The markdown comparison table; ratios against `peer` (PyTorch 1 thread) and PyTorch's best. */
export function formatJobTable(
  rows: JobRow[],
  options: { jobEpochs: number; peer: JobRow | null },
): string {
  const fmt = (v: number | null, digits = 1) =>
    v === null ? "–" : v.toFixed(digits);
  const rate = (v: number | null) => v === null ? "–" : String(Math.round(v));
  const ratio = (v: number | null, of: number | null) =>
    v !== null && of ? `${(v / of).toFixed(2)}x` : "–";
  const peerJob = options.peer
    ? projectedJobSeconds(options.peer, options.jobEpochs)
    : null;
  const peerCpu = options.peer
    ? projectedJobCpuSeconds(options.peer, options.jobEpochs)
    : null;
  const best = bestTorchRow(rows, options.jobEpochs);
  const lines = [
    `| run | baseline s/epoch | baseline samples/s | R-Drop s/epoch | R-Drop samples/s | default job (${options.jobEpochs} epochs, both), s | time vs PyTorch 1 thread | time vs PyTorch best | training CPU s, job | CPU vs PyTorch 1 thread |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of rows) {
    const job = projectedJobSeconds(row, options.jobEpochs);
    const cpu = projectedJobCpuSeconds(row, options.jobEpochs);
    const mark = row.shape.kind === "whole" && row.shape.projected ? "*" : "";
    lines.push(
      `| ${row.label} | ${fmt(row.epochSeconds.baseline)} | ${
        rate(row.samplesPerSecond.baseline)
      } | ${fmt(row.epochSeconds.rdrop)} | ${
        rate(row.samplesPerSecond.rdrop)
      } | ${fmt(job, 0)}${mark} | ${ratio(job, peerJob)} | ${
        ratio(job, best?.seconds ?? null)
      } | ${fmt(cpu, 0)} | ${ratio(cpu, peerCpu)} |`,
    );
  }
  return lines.join("\n");
}

/** The verdict on the target, from the job times (null: not measured). */
export interface Verdict {
  /** True when both parts of the target hold; null when a time is missing. */
  met: boolean | null;
  /** One line saying so, with the numbers. */
  line: string;
}

/**
 * The target: the real default job (`ours`, the pipeline row) in at most `maxRatio` (0.5) x
 * PyTorch 1 thread's time, and faster than PyTorch's best row.
 */
export function verdict(
  times: {
    ours: number | null;
    torchOneThread: number | null;
    torchBest: { label: string; seconds: number } | null;
    /** Which times are projected, e.g. "PyTorch projected from 1 epoch(s)"; null: none. */
    basis: string | null;
  },
  options: { maxRatio: number },
): Verdict {
  const { ours, torchOneThread, torchBest } = times;
  if (ours === null || torchOneThread === null || torchBest === null) {
    const missing = [
      ours === null ? "the pipeline row (deno task pipeline)" : null,
      torchOneThread === null ? "PyTorch 1 thread" : null,
      torchBest === null ? "a PyTorch row" : null,
    ].filter((m) => m !== null);
    return {
      met: null,
      line: `target not judged: no time for ${missing.join(", ")}`,
    };
  }
  const ratio = ours / torchOneThread;
  const halfOk = ratio <= options.maxRatio;
  const bestOk = ours < torchBest.seconds;
  const met = halfOk && bestOk;
  const how = times.basis === null ? "" : ` (${times.basis})`;
  return {
    met,
    line: `target ${met ? "MET" : "NOT MET"}${how}: deno task pipeline ${
      ours.toFixed(1)
    } s = ${ratio.toFixed(2)}x PyTorch 1 thread (${
      torchOneThread.toFixed(1)
    } s; needs <= ${options.maxRatio.toFixed(2)}x: ${halfOk ? "yes" : "no"}), ${
      (ours / torchBest.seconds).toFixed(2)
    }x PyTorch's best, ${torchBest.label} (${
      torchBest.seconds.toFixed(1)
    } s; needs < 1: ${bestOk ? "yes" : "no"})`,
  };
}
