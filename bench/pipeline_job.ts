/**
 * The bench's pipeline row: the real default job as a user runs it. `deno task pipeline` (the
 * task's own permission flags, read from deno.json) in a scratch copy of the project (the
 * tracked files, as a fresh clone has them, and an empty cache), with `--set train.epochs=E`
 * when the bench measures E < 10 epochs. Its timings come from the run's own records: the
 * training instances' cache manifests (`seconds`, `finishedAt`) through the pipeline's store,
 * their `run.json` (backend, BLAS, training loop seconds), and `pipeline.lock` for which
 * instances the run made.
 *
 * @module
 */
import { join } from "node:path";
import { readLockFile } from "../pipeline/lock.ts";
import { openStore } from "../pipeline/store/open.ts";
import { type BlasRecord, RunRecord } from "../stages/artifacts.ts";
import { TRAIN_OUTPUTS } from "../stages/train.ts";
import { readTask, taskArgs } from "./deno_task.ts";
import { scratchProject } from "./scratch_project.ts";
import { parseRusage } from "./torch.ts";

/** One training instance of the run, as its records tell. */
export interface TrainingTiming {
  /** Instance name, e.g. `train_rdrop@0`. */
  instance: string;
  mode: "baseline" | "rdrop";
  /** Seconds from the start of the whole run to the stage's start (`finishedAt - seconds`). */
  startSeconds: number;
  /** Seconds from the start of the whole run to the stage's end. */
  endSeconds: number;
  /** The stage's seconds (manifest): loading, training, evaluation per epoch, saving. */
  stageSeconds: number;
  /** Seconds of the training loops alone (`run.json`). */
  trainSeconds: number;
  /** Training samples per second (`run.json`). */
  samplesPerSecond: number;
  /** The backend that trained (`run.json`), e.g. "native". */
  backend: string;
  /** The OpenBLAS of a native training. */
  blas: BlasRecord | null;
}

/** The outcome of {@linkcode timePipelineJob}. */
export type PipelineJobResult =
  | {
    ok: true;
    /** The arguments after `deno` (the task's flags from deno.json, then ours). */
    command: string[];
    /** Epochs each model trained in the run. */
    epochs: number;
    /** Wall seconds of the whole run, start to exit. */
    wallSeconds: number;
    /** CPU seconds of the whole run, all its processes (getrusage of children), or null. */
    cpuSeconds: number | null;
    /** The training instances the run made, earliest start first. */
    trainings: TrainingTiming[];
    /** What the run printed (stdout, then stderr). */
    output: string;
  }
  | { ok: false; command: string[]; reason: string; output: string };

/** Settings of {@linkcode timePipelineJob} and {@linkcode pipelineJobArgs}. */
export interface PipelineJobOptions {
  /** Epochs per model; the default job's own count adds no `--set`. */
  epochs: number;
  /** The params file's epochs (the default job). */
  jobEpochs: number;
  /** `--jobs N` for the pipeline; null: the pipeline's default. */
  jobs: number | null;
}

/** The pipeline's own arguments for the row: `--set train.epochs=E` and `--jobs N` as needed. */
export function pipelineJobExtraArgs(options: PipelineJobOptions): string[] {
  return [
    ...(options.epochs === options.jobEpochs
      ? []
      : ["--set", `train.epochs=${options.epochs}`]),
    ...(options.jobs === null ? [] : ["--jobs", String(options.jobs)]),
  ];
}

/** The arguments after `deno` that start the row's run, built from deno.json's `pipeline` task. */
export async function pipelineJobArgs(
  options: PipelineJobOptions,
  config?: string,
): Promise<string[]> {
  const task = await readTask("pipeline", config);
  return taskArgs(task, pipelineJobExtraArgs(options));
}

/** Seconds covered by at least one of `intervals` ([start, end] pairs). */
export function unionSeconds(intervals: readonly [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let open: [number, number] | null = null;
  for (const [start, end] of sorted) {
    if (open !== null && start <= open[1]) {
      open[1] = Math.max(open[1], end);
      continue;
    }
    if (open !== null) total += open[1] - open[0];
    open = [start, end];
  }
  return open === null ? total : total + open[1] - open[0];
}

/** Seconds during which both intervals ran. */
export function overlapSeconds(
  a: readonly [number, number],
  b: readonly [number, number],
): number {
  return Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0]));
}

/** The run split into its training window and the rest, and projected to the default job. */
export interface PipelineProjection {
  /** Seconds during which at least one training stage ran. */
  trainingWindowSeconds: number;
  /** Seconds during which both trainings ran (0 with fewer than two). */
  overlapSeconds: number;
  /** Everything but the training window: startup, download, preprocess, evaluate, report. */
  fixedSeconds: number;
  /** fixed + jobEpochs / epochs x training window (the measured wall time when equal). */
  jobSeconds: number;
  /** True when the run trained fewer epochs than the default job. */
  projected: boolean;
}

/** How the row's job time is made from a run of E epochs (see {@linkcode PipelineProjection}). */
export function projectionMethod(jobEpochs: number): string {
  return `default job = fixed part (wall time outside the training stages' overlapped window) + ` +
    `${jobEpochs}/E x that window (conservative: the stages' setup inside the window, loading ` +
    `data and saving, is scaled too)`;
}

/** Splits a run into fixed part and training window and projects it to `jobEpochs`. */
export function projectPipelineJob(
  run: { wallSeconds: number; epochs: number; trainings: TrainingTiming[] },
  jobEpochs: number,
): PipelineProjection {
  const spans = run.trainings.map((t) =>
    [t.startSeconds, t.endSeconds] as [number, number]
  );
  const window = unionSeconds(spans);
  const overlap = spans.length === 2 ? overlapSeconds(spans[0], spans[1]) : 0;
  const fixed = Math.max(0, run.wallSeconds - window);
  const projected = run.epochs !== jobEpochs;
  return {
    trainingWindowSeconds: window,
    overlapSeconds: overlap,
    fixedSeconds: fixed,
    jobSeconds: projected
      ? fixed + (jobEpochs / run.epochs) * window
      : run.wallSeconds,
    projected,
  };
}

/** "both trainings at once", "one after the other" or "partly at once", from the overlap. */
export function describeOverlap(trainings: readonly TrainingTiming[]): string {
  if (trainings.length < 2) return "one training";
  const [a, b] = trainings;
  const overlap = overlapSeconds(
    [a.startSeconds, a.endSeconds],
    [b.startSeconds, b.endSeconds],
  );
  const shorter = Math.min(a.stageSeconds, b.stageSeconds);
  if (overlap >= 0.9 * shorter) return "both trainings at once";
  if (overlap <= 0.05 * shorter) return "trainings one after the other";
  return `trainings ${Math.round((100 * overlap) / shorter)} % at once`;
}

// Runs the pipeline unchanged as a child and then prints the CPU time of every process it
// waited for (the coordinator and, through it, its workers), like bench/torch.ts's wrapper.
const CHILDREN_RUSAGE_WRAPPER = [
  "import resource, subprocess, sys",
  "code = subprocess.run(sys.argv[1:]).returncode",
  "r = resource.getrusage(resource.RUSAGE_CHILDREN)",
  "print('BENCH_RUSAGE %.6f' % (r.ru_utime + r.ru_stime), flush=True)",
  "sys.exit(code)",
].join("\n");

async function canRun(program: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(program, {
      args: ["-c", "import resource, subprocess"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Reads the training instances this run made (those whose result is in the fresh cache). */
export async function readTrainings(
  dir: string,
  startedAt: number,
): Promise<TrainingTiming[]> {
  const lock = await readLockFile(dir);
  const store = openStore(dir);
  const out: TrainingTiming[] = [];
  for (const [instance, entry] of Object.entries(lock.instances)) {
    // A training is an instance that checked out a training's outputs (run.json among them).
    if (!TRAIN_OUTPUTS.every((output) => output in entry.outputs)) continue;
    // The cache started empty: a manifest means this run computed the instance.
    const read = await store.readManifest(entry.key);
    if (read.state !== "ok") continue;
    const record = RunRecord.parse(
      JSON.parse(
        await Deno.readTextFile(join(dir, entry.workspace, "run.json")),
      ),
    );
    const end = (Date.parse(read.manifest.finishedAt) - startedAt) / 1000;
    out.push({
      instance,
      mode: record.mode,
      startSeconds: end - read.manifest.seconds,
      endSeconds: end,
      stageSeconds: read.manifest.seconds,
      trainSeconds: record.trainSeconds,
      samplesPerSecond: record.samplesPerSecond,
      backend: record.backend,
      blas: record.blas ?? null,
    });
  }
  return out.sort((a, b) => a.startSeconds - b.startSeconds);
}

/**
 * Runs the default job (`epochs` per model) as `deno task pipeline` does, in a scratch copy with
 * an empty cache, and reads its timings; the copy is removed afterwards. `python`: an interpreter
 * to wrap the run for its CPU time (none, or not runnable: no CPU time).
 */
export async function timePipelineJob(
  options: PipelineJobOptions & { python: string | null },
): Promise<PipelineJobResult> {
  let command: string[] = [];
  let dir: string | null = null;
  // Ctrl-C reaches the pipeline too (same process group), which stops and exits; this process
  // waits for it, so that the scratch copy is removed before the bench stops.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    command = await pipelineJobArgs(options);
    dir = await scratchProject("rdrop_bench_pipeline_");
    const wrap = options.python !== null && await canRun(options.python);
    const [program, args] = wrap
      ? [options.python as string, [
        "-c",
        CHILDREN_RUSAGE_WRAPPER,
        Deno.execPath(),
        ...command,
      ]]
      : [Deno.execPath(), command];
    const startedAt = Date.now();
    const started = performance.now();
    const ran = await new Deno.Command(program, {
      args,
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const wallSeconds = (performance.now() - started) / 1000;
    const stdout = new TextDecoder().decode(ran.stdout);
    const output = stdout + new TextDecoder().decode(ran.stderr);
    if (!ran.success) {
      return {
        ok: false,
        command,
        reason: `deno task pipeline exited with ${ran.code}`,
        output,
      };
    }
    const trainings = await readTrainings(dir, startedAt);
    if (trainings.length === 0) {
      return {
        ok: false,
        command,
        reason: "the run trained nothing (no training result in its cache)",
        output,
      };
    }
    return {
      ok: true,
      command,
      epochs: options.epochs,
      wallSeconds,
      cpuSeconds: wrap ? parseRusage(stdout) : null,
      trainings,
      output: output.replace(/^BENCH_RUSAGE .*\n?/m, ""),
    };
  } catch (error) {
    return {
      ok: false,
      command,
      reason: (error as Error).message,
      output: "",
    };
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    if (dir !== null) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    if (interrupted) {
      console.error("bench: interrupted (Ctrl-C); the scratch copy is removed");
      Deno.exit(130);
    }
  }
}
