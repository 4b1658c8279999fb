/**
 * {@linkcode BatchStep} over a tfjs step (the optimised one of train_step.ts or the
 * autodiff reference): the batch is uploaded per step, loss and correct counts are summed
 * on the device and read only by {@linkcode BatchStep.takeMetrics}.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  assignMlpValues,
  disposeMlp,
  mlpFromValues,
  type MlpParams,
  readMlpValues,
} from "./mlp.ts";
import {
  ADAM_CONSTANTS,
  type BatchStep,
  type BatchStepFactory,
  checkStepConfig,
  type StepConfig,
} from "./step.ts";
import {
  createTrainStep,
  type TrainStep,
  type TrainStepOptions,
} from "./train_step.ts";

/** A tensor-level step factory: `createTrainStep` or `createReferenceStep`. */
export type TensorStepFactory = (
  params: MlpParams,
  options: TrainStepOptions,
) => TrainStep;

/** The tensor-level options of a step config. */
export function tensorStepOptions(config: StepConfig): TrainStepOptions {
  return {
    mode: config.mode,
    alpha: config.alpha,
    dropout: config.model.dropout,
    learningRate: config.learningRate,
    seed: config.seed,
    ...ADAM_CONSTANTS,
  };
}

/**
 * A {@linkcode BatchStepFactory} running `create` (default: the optimised
 * `createTrainStep`) on the active tfjs backend.
 */
export function tfjsStepFactory(
  create: TensorStepFactory = createTrainStep,
): BatchStepFactory {
  return (values, config) => createTfjsStep(values, { config, create });
}

/** A {@linkcode BatchStep} over a tfjs step on the active backend. */
export function createTfjsStep(
  values: Float32Array[],
  options: { config: StepConfig; create: TensorStepFactory },
): BatchStep {
  const { config } = options;
  checkStepConfig(config);
  const features = config.model.inputSize;
  const params = mlpFromValues(config.model, values);
  let step: TrainStep;
  try {
    step = options.create(params, tensorStepOptions(config));
  } catch (error) {
    disposeMlp(params);
    throw error;
  }
  let lossSum: tf.Scalar = tf.keep(tf.scalar(0));
  let correctSum: tf.Scalar = tf.keep(tf.scalar(0, "int32"));
  let steps = 0;
  let rows = 0;
  const rowsPerSample = config.mode === "rdrop" ? 2 : 1;
  return {
    kind: tf.getBackend(),
    run(batch) {
      const x = tf.tensor2d(batch.x.subarray(0, batch.rows * features), [
        batch.rows,
        features,
      ]);
      const y = tf.tensor1d(batch.y.subarray(0, batch.rows), "int32");
      try {
        const out = step.runCounting
          ? step.runCounting(x, y)
          : { loss: step.run(x, y), correct: null };
        const [nextLoss, nextCorrect] = tf.tidy(() => [
          tf.keep(tf.add(lossSum, out.loss) as tf.Scalar),
          tf.keep(
            out.correct
              ? tf.add(correctSum, out.correct) as tf.Scalar
              : correctSum.clone(),
          ),
        ]);
        out.loss.dispose();
        out.correct?.dispose();
        lossSum.dispose();
        correctSum.dispose();
        lossSum = nextLoss;
        correctSum = nextCorrect;
        steps++;
        rows += batch.rows * rowsPerSample;
      } finally {
        x.dispose();
        y.dispose();
      }
    },
    async takeMetrics() {
      const [loss, correct] = await Promise.all([
        lossSum.data(),
        correctSum.data(),
      ]);
      const out = {
        steps,
        lossSum: loss[0],
        correct: step.runCounting ? correct[0] : NaN,
        rows,
      };
      lossSum.dispose();
      correctSum.dispose();
      lossSum = tf.keep(tf.scalar(0));
      correctSum = tf.keep(tf.scalar(0, "int32"));
      steps = 0;
      rows = 0;
      return out;
    },
    getValues: () => readMlpValues(params),
    getState: () => step.getState(),
    restore(vals, state) {
      assignMlpValues(params, vals);
      step.setState(state);
    },
    dispose() {
      step.dispose();
      disposeMlp(params);
      lossSum.dispose();
      correctSum.dispose();
    },
  };
}
