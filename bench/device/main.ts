/**
 * The device bench (bundled into `.carry/bench.js` by bench/device/pack.sh, run by
 * bench/device/run.sh): our full default job on WebGPU (both models, 10 epochs, the
 * fused step, tfjs evaluation after each epoch) and the PyTorch reference on CUDA, side
 * by side, written as JSON.
 *
 * Usage: `deno run --allow-read --allow-write --allow-run --allow-env bench.js
 *   --data-dir DIR --out DIR [--dry] [--epochs 10] [--python python3] [--torch-script PATH]`
 * `--dry`: a tiny size (1 epoch of 20 steps, 1000 test rows), to check the whole chain on
 * a machine without a GPU (llvmpipe).
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { FASHION_MNIST_FILES } from "../../data/fashion_mnist.ts";
import { readIdxFile } from "../../data/idx.ts";
import { scaleImages } from "../../data/preprocess.ts";
import type { FusedProfile } from "../webgpu_profile.ts";
import {
  type BenchSplit,
  type FusedJobResult,
  measureTfjsWebGpu,
  profileOnTfjsDevice,
  runFusedJob,
  type WebGpuRow,
} from "../webgpu.ts";

const DEFAULTS = {
  batchSize: 32,
  alpha: 0.05,
  learningRate: 1e-3,
  seed: 0,
  readEvery: 50,
};
const MODES = ["baseline", "rdrop"] as const;

async function loadSplit(
  dir: string,
  images: string,
  labels: string,
  rows = 0,
): Promise<BenchSplit> {
  const find = async (name: string) => {
    for (
      const path of [`${dir}/${name.replace(/\.gz$/, "")}`, `${dir}/${name}`]
    ) {
      try {
        await Deno.stat(path);
        return path;
      } catch {
        // try the next name
      }
    }
    throw new Error(`device bench: ${name} (raw or .gz) not found in ${dir}`);
  };
  const x = await readIdxFile(await find(images));
  const y = await readIdxFile(await find(labels));
  const count = rows > 0 ? Math.min(rows, x.dims[0]) : x.dims[0];
  const features = x.data.length / x.dims[0];
  return {
    images: scaleImages(x.data.subarray(0, count * features)),
    labels: Int32Array.from(y.data.subarray(0, count)),
    count,
    features,
  };
}

interface TorchSide {
  ok: boolean;
  reason?: string;
  summary?: Record<string, unknown>;
}

async function runTorch(
  python: string,
  script: string,
  args: string[],
  json: string,
): Promise<TorchSide> {
  try {
    const out = await new Deno.Command(python, {
      args: [script, ...args, "--json", json],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) {
      return {
        ok: false,
        reason: `${python} ${script} exited with ${out.code}`,
      };
    }
    return { ok: true, summary: JSON.parse(await Deno.readTextFile(json)) };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string" },
      out: { type: "string" },
      dry: { type: "boolean", default: false },
      epochs: { type: "string" },
      python: { type: "string", default: "python3" },
      "torch-script": { type: "string", default: "bench/device/torch_cuda.py" },
    },
  });
  const dataDir = values["data-dir"];
  const out = values.out;
  if (!dataDir || !out) {
    console.error("device bench: --data-dir DIR and --out DIR are required");
    return 2;
  }
  const dry = values.dry;
  const size = dry
    ? { epochs: 1, stepsPerEpoch: 20, testRows: 1000, beforeSteps: 3 }
    : { epochs: 10, stepsPerEpoch: 0, testRows: 0, beforeSteps: 100 };
  if (values.epochs !== undefined) {
    const epochs = Number(values.epochs);
    if (!Number.isInteger(epochs) || epochs < 1) {
      console.error(
        `device bench: --epochs must be a positive integer, got "${values.epochs}"`,
      );
      return 2;
    }
    size.epochs = epochs;
  }
  await Deno.mkdir(out, { recursive: true });
  const files = FASHION_MNIST_FILES;
  const train = await loadSplit(
    dataDir,
    files.trainImages.name,
    files.trainLabels.name,
  );
  const test = await loadSplit(
    dataDir,
    files.testImages.name,
    files.testLabels.name,
    size.testRows,
  );
  console.log(
    `device bench: ${train.count} training and ${test.count} test rows; ${
      dry ? "DRY (tiny size)" : "full default job"
    }`,
  );

  const webgpu: Record<string, FusedJobResult> = {};
  const before: Record<string, WebGpuRow> = {};
  const torch: Record<string, TorchSide> = {};
  const profiles: Record<string, FusedProfile> = {};
  for (const mode of MODES) {
    const settings = { ...DEFAULTS, mode };
    before[mode] = await measureTfjsWebGpu(train, {
      ...settings,
      steps: size.beforeSteps,
      warmup: 2,
    });
    console.log(
      `ours ${mode} tfjs ops: ${
        before[mode].samplesPerSecond.toFixed(0)
      } samples/s`,
    );
    webgpu[mode] = await runFusedJob(train, {
      ...settings,
      epochs: size.epochs,
      stepsPerEpoch: size.stepsPerEpoch || undefined,
      test,
    });
    const last = webgpu[mode].epochs.at(-1)!;
    console.log(
      `ours ${mode} fused: ${
        webgpu[mode].samplesPerSecond.toFixed(0)
      } samples/s, ` +
        `test acc ${((last.testAccuracy ?? 0) * 100).toFixed(2)} % on ${
          webgpu[mode].adapter
        }`,
    );
    profiles[mode] = await profileOnTfjsDevice({
      mode,
      batchSize: DEFAULTS.batchSize,
      repeats: dry ? 3 : 200,
    });
    torch[mode] = await runTorch(values.python, values["torch-script"], [
      "--mode",
      mode,
      "--epochs",
      String(size.epochs),
      "--steps-per-epoch",
      String(size.stepsPerEpoch),
      "--test-rows",
      String(size.testRows),
      "--data-dir",
      dataDir,
    ], `${out}/torch_${mode}.json`);
  }
  const sideBySide = MODES.map((mode) => {
    const ours = webgpu[mode];
    const t = torch[mode].summary as Record<string, number> | undefined;
    const steps = ours.epochs.reduce((s, e) => s + e.steps, 0);
    return {
      mode,
      ours_samples_per_s: ours.samplesPerSecond,
      ours_ms_per_step: (1000 * ours.trainSeconds) / steps,
      ours_dispatches_per_step: ours.perStep.dispatches,
      ours_submissions_per_step: ours.perStep.submissions,
      ours_maps_per_step: ours.perStep.maps,
      ours_test_accuracy: ours.epochs.at(-1)!.testAccuracy,
      ours_kernels_ms_per_step: profiles[mode].kernelsMs,
      ours_encode_ms_per_step: profiles[mode].encodeMs,
      tfjs_ops_samples_per_s: before[mode].samplesPerSecond,
      tfjs_ops_dispatches_per_step: before[mode].perStep.dispatches,
      torch_samples_per_s: t?.samples_per_s ?? null,
      torch_ms_per_step: t?.ms_per_step ?? null,
      torch_test_accuracy: t?.final_test_accuracy ?? null,
    };
  });
  const report = {
    dry,
    adapter: webgpu.baseline.adapter,
    deno: Deno.version.deno,
    tfjs: tf.version_core,
    size,
    side_by_side: sideBySide,
    webgpu,
    tfjs_ops: before,
    kernel_profile: profiles,
    torch,
  };
  await Deno.writeTextFile(
    `${out}/device_bench.json`,
    JSON.stringify(report, null, 1) + "\n",
  );
  console.table(sideBySide);
  console.log(`device bench: wrote ${out}/device_bench.json`);
  return Object.values(torch).every((t) => t.ok) ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
