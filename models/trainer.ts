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
import { checkSplit, evaluateTensors, type Split } from "./evaluate.ts";
import {
  disposeMlp,
  initialValues,
  type MlpConfig,
  mlpFromValues,
  type MlpParams,
} from "./mlp.ts";
import { deriveSeed, permutation } from "./random.ts";
import {
  type Batch,
  type BatchStep,
  type BatchStepFactory,
  checkStepConfig,
  type TrainConfig,
} from "./step.ts";

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
  /**
   * Training accuracy of the epoch's steps so far (arg-max of the dropout pass(es) vs the
   * label), read together with `loss`; absent when the step does not count it.
   */
  accuracy?: number;
  /** Training samples per second so far in this epoch. */
  samplesPerSecond: number;
}

/** Options of {@linkcode train}: the run's settings (explicit values) and its hooks. */
export interface TrainOptions extends TrainConfig {
  /** Model shape and dropout rate. */
  model: MlpConfig;
  /** Checkpoint store: loaded once at the start, saved after every epoch. */
  checkpoint?: CheckpointStore;
  /** Called after every step (loss and accuracy only every `readEvery` steps). */
  onStep?: (info: StepInfo) => void;
  /** Called after every epoch, with the epoch's record. */
  onEpoch?: (record: EpochRecord) => void;
  /**
   * Called once, before training goes on, when the store held finished epochs or passed over
   * checkpoints that did not verify (then `resumedEpochs` is those of the earlier good one,
   * or 0: training restarts from epoch 1). checkpoint_store.ts's `describeResume` words it.
   */
  onResume?: (outcome: ResumeOutcome) => void;
  /** Aborts training between steps; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Read loss and accuracy (and check the loss is finite) every this many steps (default 50). */
  readEvery?: number;
  /** Evaluation batch size (default 1000). */
  evalBatchSize?: number;
  /**
   * The step implementation: a backend's training entry gives it (models/backends.ts); no
   * default, so that the trainer's graph holds no backend's step.
   */
  createStep: BatchStepFactory;
}

/** What {@linkcode train} resumed from, passed to `onResume`. */
export interface ResumeOutcome {
  /** Finished epochs taken from the checkpoint (0: none, training starts at epoch 1). */
  resumedEpochs: number;
  /** Newer checkpoints passed over because they did not verify, one line each. */
  rejected: string[];
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
    ...options.model,
    hidden: [...options.model.hidden],
  };
  const settings: CheckpointSettings = {
    mode: options.mode,
    alpha: options.alpha,
    batchSize: options.batchSize,
    learningRate: options.learningRate,
    seed: options.seed,
    shuffle: options.shuffle,
    model,
    trainCount: data.train.count,
  };
  const { epochs } = options;
  const bad = (what: string) => {
    throw new ModelError(`invalid training option: ${what}`);
  };
  if (!Number.isInteger(epochs) || epochs < 1) {
    bad(`epochs must be a positive integer, got ${epochs}`);
  }
  if (!Number.isInteger(settings.batchSize) || settings.batchSize < 1) {
    bad(`batchSize must be a positive integer, got ${settings.batchSize}`);
  }
  checkStepConfig({ ...settings, model });
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

/**
 * Accuracy and mean NLL of `split` from a host forward pass (`predict` returns row-major
 * logits), batch by batch, in float64.
 */
export function evaluateLogits(
  predict: (x: Float32Array, rows: number) => Float32Array,
  split: Split,
  options: { classes: number; batchSize: number },
): { accuracy: number; loss: number } {
  const { classes, batchSize } = options;
  const { features, count } = split;
  let correct = 0;
  let nll = 0;
  for (let start = 0; start < count; start += batchSize) {
    const rows = Math.min(batchSize, count - start);
    const logits = predict(
      split.images.subarray(start * features, (start + rows) * features),
      rows,
    );
    for (let r = 0; r < rows; r++) {
      const o = r * classes;
      let max = -Infinity;
      let best = 0;
      for (let c = 0; c < classes; c++) {
        if (logits[o + c] > max) {
          max = logits[o + c];
          best = c;
        }
      }
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(logits[o + c] - max);
      const label = split.labels[start + r];
      nll -= logits[o + label] - max - Math.log(sum);
      if (best === label) correct++;
    }
  }
  return { accuracy: correct / count, loss: nll / count };
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
 * {@linkcode DivergenceError}. Steps with `createStep`; evaluates on the step's own forward
 * pass when it has one, else on whatever tfjs backend is active.
 */
export async function train(
  data: TrainData,
  options: TrainOptions,
): Promise<TrainResult> {
  const { settings, epochs } = resolveSettings(data, options);
  const readEvery = Math.max(1, options.readEvery ?? 50);
  const { createStep } = options;
  const config = settings.model;
  let step: BatchStep | null = null;
  const device: tf.Tensor[] = [];
  try {
    step = createStep(initialValues(config, { seed: settings.seed }), {
      model: config,
      mode: settings.mode,
      alpha: settings.alpha,
      learningRate: settings.learningRate,
      seed: settings.seed,
    });
    let history: EpochRecord[] = [];
    const loaded = await options.checkpoint?.load() ??
      { checkpoint: null, rejected: [] };
    const stored = loaded.checkpoint;
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
      step.restore(stored.values, stored.adam);
      history = [...stored.history];
    }
    const resumedEpochs = history.length;
    if (resumedEpochs > 0 || loaded.rejected.length > 0) {
      options.onResume?.({ resumedEpochs, rejected: loaded.rejected });
    }

    const { train: trainSplit, test: testSplit } = data;
    const n = trainSplit.count;
    const features = trainSplit.features;
    // On the device only for tfjs evaluation: a step with its own forward pass needs no copy.
    let testTensors: { x: tf.Tensor2D; y: tf.Tensor1D } | null = null;
    const deviceTest = () => {
      if (!testTensors) {
        testTensors = {
          x: tf.tensor2d(testSplit.images, [testSplit.count, features]),
          y: tf.tensor1d(testSplit.labels, "int32"),
        };
        device.push(testTensors.x, testTensors.y);
      }
      return testTensors;
    };
    if (!step.predictLogits) deviceTest();
    // A step that holds the training set on its device addresses batches by offset.
    const attached = step.attachTrainingSet !== undefined;
    step.attachTrainingSet?.(trainSplit);
    const steps = stepsPerEpoch(n, settings.batchSize);
    // Shuffled batches are gathered into these; in order, batches are views of the split.
    const gathered: Batch = {
      x: new Float32Array(settings.batchSize * features),
      y: new Int32Array(settings.batchSize),
      rows: 0,
    };

    for (let epoch = resumedEpochs + 1; epoch <= epochs; epoch++) {
      const order = settings.shuffle
        ? permutation(n, deriveSeed(settings.seed, 0x5eed, epoch))
        : null;
      const totals = { steps: 0, lossSum: 0, correct: 0, rows: 0 };
      let lastLoss = NaN;
      const started = performance.now();
      for (let s = 0; s < steps; s++) {
        if (options.signal?.aborted) throw abortReason(options.signal);
        const start = s * settings.batchSize;
        const size = Math.min(settings.batchSize, n - start);
        let batch: Batch;
        if (attached) {
          batch = {
            x: gathered.x.subarray(0, 0),
            y: gathered.y.subarray(0, 0),
            rows: size,
            source: { start, order },
          };
        } else if (order) {
          for (let i = 0; i < size; i++) {
            const row = order[start + i];
            gathered.x.set(
              trainSplit.images.subarray(row * features, (row + 1) * features),
              i * features,
            );
            gathered.y[i] = trainSplit.labels[row];
          }
          gathered.rows = size;
          batch = gathered;
        } else {
          batch = {
            x: trainSplit.images.subarray(
              start * features,
              (start + size) * features,
            ),
            y: trainSplit.labels.subarray(start, start + size),
            rows: size,
          };
        }
        step.run(batch);
        const read = (s + 1) % readEvery === 0 || s + 1 === steps;
        let mean: number | undefined;
        let accuracy: number | undefined;
        if (read) {
          const metrics = await step.takeMetrics();
          totals.steps += metrics.steps;
          totals.lossSum += metrics.lossSum;
          totals.correct += metrics.correct;
          totals.rows += metrics.rows;
          // The losses are float32 quantities: a sum past float32's range has diverged.
          mean = Math.fround(totals.lossSum) / totals.steps;
          if (!Number.isFinite(mean)) {
            throw new DivergenceError(
              { epoch, step: s + 1, loss: mean },
              settings,
            );
          }
          lastLoss = mean;
          if (Number.isFinite(totals.correct) && totals.rows > 0) {
            accuracy = totals.correct / totals.rows;
          }
          // Let timers and abort signals run; CPU work never yields on its own.
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        const elapsed = (performance.now() - started) / 1000;
        options.onStep?.({
          epoch,
          step: s + 1,
          steps,
          loss: mean,
          accuracy,
          samplesPerSecond: elapsed > 0 ? (start + size) / elapsed : 0,
        });
      }
      const epochSeconds = (performance.now() - started) / 1000;
      const values = await step.getValues();
      let evaluation: { accuracy: number; loss: number };
      if (step.predictLogits) {
        evaluation = evaluateLogits(
          (x, rows) => step!.predictLogits!(x, rows),
          testSplit,
          { classes: config.classes, batchSize: options.evalBatchSize ?? 1000 },
        );
      } else {
        const evaluated = mlpFromValues(config, values);
        try {
          evaluation = await evaluateTensors(
            evaluated,
            deviceTest(),
            { classes: config.classes, batchSize: options.evalBatchSize },
          );
        } finally {
          disposeMlp(evaluated);
        }
      }
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
          values,
          adam: await step.getState(),
          history: [...history],
        };
        await options.checkpoint.save(checkpoint);
      }
      options.onEpoch?.(record);
    }
    const params: MlpParams = mlpFromValues(config, await step.getValues());
    return { params, config, history, resumedEpochs };
  } finally {
    step?.dispose();
    for (const t of device) t.dispose();
  }
}
