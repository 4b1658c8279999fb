/**
 * The training loop: batches sliced on the device, one optimiser step per batch, the loss
 * read back only every few steps, evaluation and a checkpoint after every epoch.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type {
  Checkpoint,
  CheckpointSettings,
  CheckpointStore,
  EpochRecord,
} from "./checkpoint.ts";
import { DivergenceError, ModelError } from "./errors.ts";
import {
  checkSplit,
  evaluateTensors,
  gatherBatch,
  type Split,
} from "./evaluate.ts";
import {
  assignMlpValues,
  DEFAULT_MLP_CONFIG,
  disposeMlp,
  initMlp,
  type MlpConfig,
  type MlpParams,
  readMlpValues,
} from "./mlp.ts";
import { deriveSeed, permutation } from "./random.ts";
import type { Step, StepOptions } from "./reference_step.ts";
import { createTrainStep } from "./train_step.ts";

/** Train and test splits. */
export interface TrainData {
  /** Training split. */
  train: Split;
  /** Test split, evaluated after every epoch. */
  test: Split;
}

/** Progress of the training loop, reported after every step. */
export interface StepInfo {
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Steps in the epoch. */
  steps: number;
  /** Mean loss of the epoch's steps so far; only present on steps where it was read. */
  loss?: number;
  /** Training samples per second so far in this epoch. */
  samplesPerSecond: number;
}

/** Builds the optimiser step; `train_step.ts`'s `createTrainStep` has this shape. */
export type StepFactory = (params: MlpParams, options: StepOptions) => Step;

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** "baseline" (NLL) or "rdrop" (R-Drop loss). */
  mode: "baseline" | "rdrop";
  /** KL weight for R-Drop (default 0.05). */
  alpha?: number;
  /** Number of epochs (default 10). */
  epochs?: number;
  /** Batch size (default 32); the last partial batch is kept. */
  batchSize?: number;
  /** Adam learning rate (default 1e-3). */
  learningRate?: number;
  /** Seed of initialisation, dropout masks and shuffling (default 0). */
  seed?: number;
  /** Shuffle the training set every epoch with a seeded permutation (default false). */
  shuffle?: boolean;
  /** Model shape; missing fields default to 784-512-512-10, dropout 0.5. */
  model?: Partial<MlpConfig>;
  /** Checkpoint store: loaded once at the start, saved after every epoch. */
  checkpoint?: CheckpointStore;
  /** Called after every step (loss only every `readEvery` steps). */
  onStep?: (info: StepInfo) => void;
  /** Called after every epoch, with the epoch's record. */
  onEpoch?: (record: EpochRecord) => void;
  /** Called once, before training goes on, when the checkpoint held finished epochs. */
  onResume?: (finishedEpochs: number) => void;
  /** Aborts training between steps; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Read the loss from the device (and check it is finite) every this many steps (default 50). */
  readEvery?: number;
  /** Evaluation batch size (default 1000). */
  evalBatchSize?: number;
  /**
   * Optimiser step to use (default: `createTrainStep` of `train_step.ts`, the optimised
   * one; `createReferenceStep` is the plain autodiff one).
   */
  createStep?: StepFactory;
}

/** Result of {@linkcode train}. */
export interface TrainResult {
  /** The trained variables (the caller disposes them with `disposeMlp`). */
  params: MlpParams;
  /** The model configuration used. */
  config: MlpConfig;
  /** One record per epoch, resumed epochs included. */
  history: EpochRecord[];
  /** Epochs taken from a checkpoint instead of run in this call. */
  resumedEpochs: number;
}

/** Number of steps of an epoch: the last partial batch counts (PyTorch DataLoader). */
export function stepsPerEpoch(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize);
}

function resolveSettings(data: TrainData, options: TrainOptions): {
  settings: CheckpointSettings;
  epochs: number;
} {
  const model: MlpConfig = {
    ...DEFAULT_MLP_CONFIG,
    ...options.model,
    hidden: [...(options.model?.hidden ?? DEFAULT_MLP_CONFIG.hidden)],
  };
  const settings: CheckpointSettings = {
    mode: options.mode,
    alpha: options.alpha ?? 0.05,
    batchSize: options.batchSize ?? 32,
    learningRate: options.learningRate ?? 1e-3,
    seed: options.seed ?? 0,
    shuffle: options.shuffle ?? false,
    model,
    trainCount: data.train.count,
  };
  const epochs = options.epochs ?? 10;
  const bad = (what: string) => {
    throw new ModelError(`invalid training option: ${what}`);
  };
  if (!Number.isInteger(epochs) || epochs < 1) {
    bad(`epochs must be a positive integer, got ${epochs}`);
  }
  if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1) {
    bad(`batchSize must be a positive integer, got ${settings.batchSize}`);
  }
  if (!(settings.learningRate > 0)) {
    bad(`learningRate must be > 0, got ${settings.learningRate}`);
  }
  if (!(settings.alpha >= 0)) bad(`alpha must be >= 0, got ${settings.alpha}`);
  if (!(model.dropout >= 0 && model.dropout < 1)) {
    bad(`dropout must be in [0, 1), got ${model.dropout}`);
  }
  if (!Number.isInteger(settings.seed)) {
    bad(`seed must be an integer, got ${settings.seed}`);
  }
  for (
    const [name, split] of [["train", data.train], ["test", data.test]] as const
  ) {
    if (split.features !== model.inputSize) {
      bad(
        `the ${name} split has ${split.features} features but the model expects ${model.inputSize}`,
      );
    }
    checkSplit(split, { name, classes: model.classes });
  }
  return { settings, epochs };
}

/** JSON with object keys sorted, so that key order never counts as a difference. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
          Object.entries(v).sort(([a], [b]) => a < b ? -1 : 1),
        )
        : v,
  );
}

function describeMismatch(
  stored: CheckpointSettings,
  wanted: CheckpointSettings,
): string[] {
  const out: string[] = [];
  for (const key of Object.keys(wanted) as (keyof CheckpointSettings)[]) {
    const a = canonicalJson(stored[key]);
    const b = canonicalJson(wanted[key]);
    if (a !== b) out.push(`${key}: checkpoint ${a}, this run ${b}`);
  }
  return out;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ??
    new DOMException("training was aborted", "AbortError");
}

/**
 * Trains the MLP. Resumes from `options.checkpoint` when it holds a checkpoint of a run
 * with the same settings (a checkpoint of other settings is a {@linkcode ModelError});
 * saves one after every epoch. A non-finite loss stops training with a
 * {@linkcode DivergenceError}. Runs on whatever tfjs backend is active.
 */
export async function train(
  data: TrainData,
  options: TrainOptions,
): Promise<TrainResult> {
  const { settings, epochs } = resolveSettings(data, options);
  const readEvery = Math.max(1, options.readEvery ?? 50);
  const createStep = options.createStep ?? createTrainStep;
  const config = settings.model;
  const params = initMlp(config, { seed: settings.seed });
  const stepOptions: StepOptions = {
    mode: settings.mode,
    alpha: settings.alpha,
    dropout: config.dropout,
    learningRate: settings.learningRate,
    seed: settings.seed,
  };
  let step: Step | null = null;
  const device: tf.Tensor[] = [];
  try {
    step = createStep(params, stepOptions);
    let history: EpochRecord[] = [];
    const stored = await options.checkpoint?.load() ?? null;
    if (stored) {
      const mismatch = describeMismatch(stored.settings, settings);
      if (mismatch.length > 0) {
        throw new ModelError(
          `the checkpoint was written by a run with other settings (${
            mismatch.join("; ")
          }); ` +
            `delete it to start over`,
        );
      }
      if (stored.epoch > epochs || stored.history.length !== stored.epoch) {
        throw new ModelError(
          `the checkpoint holds ${stored.epoch} finished epochs (history of ` +
            `${stored.history.length}) but this run has ${epochs}; delete it to start over`,
        );
      }
      assignMlpValues(params, stored.values);
      step.setState(stored.adam);
      history = [...stored.history];
    }
    const resumedEpochs = history.length;
    if (resumedEpochs > 0) options.onResume?.(resumedEpochs);

    const { train: trainSplit, test: testSplit } = data;
    const n = trainSplit.count;
    const features = trainSplit.features;
    const xTrain = tf.tensor2d(trainSplit.images, [n, features]);
    const yTrain = tf.tensor1d(trainSplit.labels, "int32");
    const xTest = tf.tensor2d(testSplit.images, [testSplit.count, features]);
    const yTest = tf.tensor1d(testSplit.labels, "int32");
    device.push(xTrain, yTrain, xTest, yTest);
    const steps = stepsPerEpoch(n, settings.batchSize);

    for (let epoch = resumedEpochs + 1; epoch <= epochs; epoch++) {
      const order = settings.shuffle
        ? permutation(n, deriveSeed(settings.seed, 0x5eed, epoch))
        : null;
      let lossSum: tf.Scalar = tf.scalar(0);
      let lastLoss = NaN;
      const started = performance.now();
      try {
        for (let s = 0; s < steps; s++) {
          if (options.signal?.aborted) throw abortReason(options.signal);
          const start = s * settings.batchSize;
          const size = Math.min(settings.batchSize, n - start);
          const [xb, yb] = gatherBatch({ x: xTrain, y: yTrain }, {
            order,
            start,
            size,
          });
          const loss = step.run(xb, yb);
          xb.dispose();
          yb.dispose();
          const sum = tf.add(lossSum, loss) as tf.Scalar;
          loss.dispose();
          lossSum.dispose();
          lossSum = sum;
          const read = (s + 1) % readEvery === 0 || s + 1 === steps;
          let mean: number | undefined;
          if (read) {
            const value = (await lossSum.data())[0];
            if (!Number.isFinite(value)) {
              throw new DivergenceError(
                { epoch, step: s + 1, loss: value },
                settings,
              );
            }
            mean = value / (s + 1);
            lastLoss = mean;
            // Let timers and abort signals run; tfjs work on CPU backends never yields.
            await new Promise((resolve) => setTimeout(resolve, 0));
          }
          const elapsed = (performance.now() - started) / 1000;
          options.onStep?.({
            epoch,
            step: s + 1,
            steps,
            loss: mean,
            samplesPerSecond: elapsed > 0 ? (start + size) / elapsed : 0,
          });
        }
      } finally {
        lossSum.dispose();
      }
      const epochSeconds = (performance.now() - started) / 1000;
      const evaluation = await evaluateTensors(params, { x: xTest, y: yTest }, {
        classes: config.classes,
        batchSize: options.evalBatchSize,
      });
      const record: EpochRecord = {
        epoch,
        trainLoss: lastLoss,
        testAccuracy: evaluation.accuracy,
        testLoss: evaluation.loss,
        epochSeconds,
        samplesPerSecond: epochSeconds > 0 ? n / epochSeconds : 0,
      };
      history.push(record);
      if (options.checkpoint) {
        const checkpoint: Checkpoint = {
          epoch,
          settings,
          values: await readMlpValues(params),
          adam: await step.getState(),
          history: [...history],
        };
        await options.checkpoint.save(checkpoint);
      }
      options.onEpoch?.(record);
    }
    return { params, config, history, resumedEpochs };
  } catch (error) {
    disposeMlp(params);
    throw error;
  } finally {
    step?.dispose();
    for (const t of device) t.dispose();
  }
}
