/**
 * Our side of the bench: the default job's training exactly as the train stage runs it
 * (models/trainer.ts's `train()` with the step of the backend's training entry in
 * models/backends.ts, which the train stage loads too, and the params schema's defaults), on
 * the full data, timed per epoch and per quarter of each epoch.
 *
 * @module
 */
import process from "node:process";
import { type BackendName, startTrainingBackend } from "../models/backends.ts";
import { disposeMlp } from "../models/mlp.ts";
import type { BlasInfo } from "../models/native/blas.ts";
import { train, type TrainData } from "../models/trainer.ts";
import { Params } from "../stages/params.ts";

/** One epoch as the bench saw it. */
export interface EpochTiming {
  /** Seconds of the training loop. */
  trainSeconds: number;
  /** CPU seconds of the process (all threads) during the training loop. */
  trainCpuSeconds: number;
  /** Seconds including the evaluation after the epoch. */
  wallSeconds: number;
  /** Seconds of each quarter of the epoch's steps (a slowdown within the epoch shows here). */
  quarters: number[];
  /** Test accuracy after the epoch. */
  testAccuracy: number;
  /** Resident set size of the process after the epoch, MB. */
  rssMb: number;
}

/** The outcome of {@linkcode timeOurs}. */
export type OursResult =
  | {
    ok: true;
    backend: BackendName;
    mode: "baseline" | "rdrop";
    epochs: EpochTiming[];
    /** The BLAS of a native run, with its thread count. */
    blas: (BlasInfo & { threads: number }) | null;
  }
  | {
    ok: false;
    backend: BackendName;
    mode: "baseline" | "rdrop";
    reason: string;
  };

/** CPU seconds (user + system, all threads) of this process so far (getrusage). */
export function processCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Trains `mode` on `backend` for `epochs` epochs with the default job's settings. */
export async function timeOurs(
  data: TrainData,
  options: {
    backend: BackendName;
    mode: "baseline" | "rdrop";
    epochs: number;
    blasThreads: number;
  },
): Promise<OursResult> {
  const { backend, mode } = options;
  let selection;
  try {
    selection = await startTrainingBackend(backend, {
      blasThreads: options.blasThreads,
    });
  } catch (error) {
    return { ok: false, backend, mode, reason: (error as Error).message };
  }
  const defaults = Params.parse({});
  const t = defaults.train;
  const epochs: EpochTiming[] = [];
  let quarterStart = 0;
  let quarters: number[] = [];
  let epochStart = 0;
  let cpuStart = 0;
  let cpuTrain = 0;
  const result = await train(data, {
    mode,
    alpha: mode === "rdrop" ? t.alpha : 0,
    epochs: options.epochs,
    batchSize: t.batchSize,
    learningRate: t.learningRate,
    seed: defaults.seeds[0],
    shuffle: t.shuffle,
    model: {
      inputSize: data.train.features,
      hidden: t.hidden,
      classes: 10,
      dropout: t.dropout,
    },
    createStep: selection.createStep,
    onStep(info) {
      const now = performance.now();
      if (info.step === 1) {
        epochStart = now;
        cpuStart = processCpuSeconds();
        quarterStart = now;
        quarters = [];
      }
      const boundary = Math.round((info.steps * (quarters.length + 1)) / 4);
      if (info.step === boundary) {
        quarters.push((now - quarterStart) / 1000);
        quarterStart = now;
      }
      if (info.step === info.steps) cpuTrain = processCpuSeconds() - cpuStart;
    },
    onEpoch(record) {
      const now = performance.now();
      epochs.push({
        trainSeconds: record.epochSeconds,
        trainCpuSeconds: cpuTrain,
        wallSeconds: (now - epochStart) / 1000,
        quarters,
        testAccuracy: record.testAccuracy,
        rssMb: Deno.memoryUsage().rss / 2 ** 20,
      });
    },
  });
  disposeMlp(result.params);
  return {
    ok: true,
    backend,
    mode,
    epochs,
    blas: selection.blas
      ? { ...selection.blas.info, threads: selection.blas.threads() }
      : null,
  };
}
