/**
 * The command line of `deno task bench`.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { BackendName } from "../models/backends.ts";

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
  /** `--webgpu`: the WebGPU comparison (tfjs-op step before, fused step after) instead. */
  webgpu: boolean;
  /** `--edits`: what each kind of code edit reruns, an older commit's keys against these. */
  edits: boolean;
  /** The older commit of that comparison. */
  editsBase: string;
  /** `--startup`: wall time of the no-op run, `--help` and `status` on a full cache. */
  startup: boolean;
  /** Runs per command of that measurement. */
  startupRuns: number;
  /** Steps of the tfjs-op WebGPU step in that comparison. */
  webgpuSteps: number;
  /** Steps of the fused WebGPU step in that comparison. */
  fusedSteps: number;
  /** Epochs per model on the full data (the measured fraction of the 10-epoch job). */
  epochs: number;
  /** Our backends to time, in order. */
  backends: BackendName[];
  /** Training modes. */
  modes: ("baseline" | "rdrop")[];
  /** OpenBLAS threads of the native step. */
  blasThreads: number;
  /** Run the PyTorch reference. */
  torch: boolean;
  /** PyTorch thread counts (each also OpenBLAS's inside torch). */
  torchThreads: number[];
  /** Also run PyTorch's two trainings at once, two 1-thread processes (its best use of 2 cores). */
  torchTogether: boolean;
  /** Run the real default job (`deno task pipeline` in a scratch copy, empty cache). */
  pipeline: boolean;
  /** Epochs per model of that run (default: `epochs`; 10: the real job, nothing projected). */
  pipelineEpochs: number;
  /** `--jobs N` for that run; null: the pipeline's default. */
  jobs: number | null;
  /** Path of the reference script. */
  torchScript: string;
  /** Interpreter with torch. */
  python: string;
  /** Fashion-MNIST IDX directory. */
  dataDir: string;
  /** Also write the results as JSON here. */
  json: string | null;
  /** Print the usage and exit. */
  help: boolean;
}

/** The commit before precise keys (the `--edits` comparison's default older code). */
export const DEFAULT_EDITS_BASE = "76bc44e";

/** The usage text (`--help`). */
export const USAGE = `Usage: deno task bench [FLAGS]

Times the default job (both models, 10 epochs) side by side in one run:
  - ours per training: models/trainer.ts's train() with the step the train stage picks, full
    Fashion-MNIST, whole epochs, evaluation after each epoch, per backend;
  - the real job: "deno task pipeline" itself (the pipeline task's permission flags from
    deno.json) in a scratch copy of the tracked files with an empty cache, with
    --set train.epochs=N when N < 10; its training stages' times and overlap come from the
    run's cache manifests and run.json;
  - the PyTorch reference (bench/torch_reference.py) with 1 and 2 threads, and its two
    trainings as two 1-thread processes at once.
With N < 10 epochs the job is projected: per-training rows 10 x (baseline + R-Drop) s/epoch
(one after the other), "at once" rows 10 x the slower one, the pipeline row its fixed part
(wall time outside the training window) + 10/N x the training window. Ratios are against
PyTorch 1 thread and PyTorch's fastest row; the last line judges the target (the pipeline
row <= 0.5x PyTorch 1 thread and faster than PyTorch's best). The pipeline row is the whole
run (startup, download check, preprocess, evaluation, report included); PyTorch's rows are
its training and evaluation loops only. Its CPU column is the whole run's (all processes,
getrusage through --python), given when nothing of it is projected.

Flags:
  --epochs N            epochs per model (default 1: a tenth of the job; 10: the real job,
                        nothing projected)
  --backends LIST       ours to time, from native,wasm,cpu,webgpu (default native,wasm)
  --webgpu              the WebGPU comparison instead: today's tfjs-op step (before) against
                        the fused step (after), samples/s and WebGPU calls per step
  --edits               what each kind of code edit reruns instead (bench/edits.ts): a fixed
                        list of edits on a tiny sweep with a full cache, --edits-base's
                        keys against this tree's
  --edits-base REF      the older commit of that comparison (default ${DEFAULT_EDITS_BASE},
                        the last one before precise keys)
  --startup             the startup times instead (bench/startup.ts): the no-op run,
                        --help and status on a full cache, beside "deno eval 0"
  --startup-runs N      runs per command of that measurement (default 15)
  --webgpu-steps N      steps of the tfjs-op WebGPU step (default 8; slow on llvmpipe)
  --fused-steps N       steps of the fused WebGPU step (default 300)
  --modes LIST          baseline,rdrop (default both)
  --blas-threads N      OpenBLAS threads of the native step (default 1, the pipeline's)
  --torch-threads LIST  PyTorch thread counts (default 1,2)
  --no-torch            skip PyTorch
  --no-torch-together   skip PyTorch's two trainings at once (two 1-thread processes)
  --no-pipeline         skip the real job (deno task pipeline)
  --pipeline-epochs N   epochs of that run (default: --epochs; 10 times the real job
                        unprojected while the other rows stay short)
  --jobs N              pass --jobs N to that run (default: the pipeline's own default,
                        cores / the cpus one training declares)
  --python PATH         interpreter with torch (default /usr/bin/python3)
  --torch-script PATH   reference script (default bench/torch_reference.py)
  --data-dir DIR        Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)
  --json FILE           also write the results as JSON
  -h, --help            print this text

Exit codes: 0 ok, 1 a run failed, 2 usage error.`;

const BACKENDS: readonly BackendName[] = ["native", "wasm", "cpu", "webgpu"];

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new BenchUsageError(
      `--${name} must be a positive integer, got "${value}"`,
    );
  }
  return n;
}

function list<T extends string>(
  name: string,
  value: string,
  allowed: readonly T[],
): T[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const bad = items.filter((s) => !allowed.includes(s as T));
  if (items.length === 0 || bad.length > 0) {
    throw new BenchUsageError(
      `--${name}: ${
        bad.length > 0 ? `unknown ${bad.join(", ")}` : "empty"
      }; choose from ${allowed.join(",")}`,
    );
  }
  return [...new Set(items)] as T[];
}

/** Parses the command line (`repoRoot`: where bench/torch_reference.py lives). */
export function parseBenchArgs(argv: string[], repoRoot: URL): BenchArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        epochs: { type: "string", default: "1" },
        backends: { type: "string", default: "native,wasm" },
        webgpu: { type: "boolean", default: false },
        edits: { type: "boolean", default: false },
        "edits-base": { type: "string", default: DEFAULT_EDITS_BASE },
        startup: { type: "boolean", default: false },
        "startup-runs": { type: "string", default: "15" },
        "webgpu-steps": { type: "string", default: "8" },
        "fused-steps": { type: "string", default: "300" },
        modes: { type: "string", default: "baseline,rdrop" },
        "blas-threads": { type: "string", default: "1" },
        "torch-threads": { type: "string", default: "1,2" },
        "no-torch": { type: "boolean", default: false },
        "no-torch-together": { type: "boolean", default: false },
        "no-pipeline": { type: "boolean", default: false },
        jobs: { type: "string" },
        "pipeline-epochs": { type: "string" },
        python: { type: "string", default: "/usr/bin/python3" },
        "torch-script": {
          type: "string",
          default: fileURLToPath(new URL("bench/torch_reference.py", repoRoot)),
        },
        "data-dir": {
          type: "string",
          default: "/usr/share/datasets/fashion-mnist",
        },
        json: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const backends = list("backends", values.backends, BACKENDS);
  const epochs = positiveInt("epochs", values.epochs);
  return {
    webgpu: values.webgpu,
    edits: values.edits,
    editsBase: values["edits-base"],
    startup: values.startup,
    startupRuns: positiveInt("startup-runs", values["startup-runs"]),
    webgpuSteps: positiveInt("webgpu-steps", values["webgpu-steps"]),
    fusedSteps: positiveInt("fused-steps", values["fused-steps"]),
    epochs,
    backends,
    modes: list("modes", values.modes, ["baseline", "rdrop"] as const),
    blasThreads: positiveInt("blas-threads", values["blas-threads"]),
    torch: !values["no-torch"],
    torchThreads: values["torch-threads"].split(",").map((t) =>
      positiveInt("torch-threads", t.trim())
    ),
    torchTogether: !values["no-torch"] && !values["no-torch-together"],
    pipeline: !values["no-pipeline"],
    pipelineEpochs: values["pipeline-epochs"] === undefined
      ? epochs
      : positiveInt("pipeline-epochs", values["pipeline-epochs"]),
    jobs: values.jobs === undefined ? null : positiveInt("jobs", values.jobs),
    torchScript: values["torch-script"],
    python: values.python,
    dataDir: values["data-dir"],
    json: values.json ?? null,
    help: values.help,
  };
}
