/**
 * The models layer: the reference MLP, its losses, backends, training and evaluation.
 *
 * Knows nothing of caching or stages; plain functions over tensors and bytes.
 *
 * Each backend's runtime is its own module graph (backends.ts: the entry a backend trains
 * with and the one it evaluates with), loaded by name so that a run loads, and its cache key
 * holds, only the backend it uses; backend.ts's `selectBackend` loads them all (tools, tests).
 *
 * A training run, as a stage would drive it:
 *
 * ```ts
 * // "auto" is resolved beforehand (stages/auto_backend.ts): it is part of the key.
 * const backend = await startTrainingBackend("native", { blasThreads: 1 });
 * const result = await train({ train, test }, {
 *   mode: "rdrop", alpha: 0.05, epochs: 10, batchSize: 32, learningRate: 1e-3, seed: 0,
 *   createStep: backend.createStep,
 *   checkpoint: fileCheckpointStore(`${workDir}/checkpoint.bin`), // keeps the previous one too
 *   onStep: (info) => bar.update(info), // info.loss only every readEvery (50) steps
 *   onEpoch: (record) => bar.done(record),
 * }); // throws DivergenceError on a NaN/Inf loss, ModelError on bad options or files
 * await saveModelArtifacts(`${outDir}/model`, result.params, { dropout: result.config.dropout });
 * const env = describeEnvironment(); // { deno, tfjs, backend, adapter }
 * const evaluation = await evaluateModel(result.params, test, { classes: 10 });
 * disposeMlp(result.params);
 * ```
 *
 * @module
 */
export {
  type AdapterInfoLike,
  type AdapterProbe,
  type BackendName,
  type BackendRequest,
  type BackendSelection,
  describeAdapter,
  describeEnvironment,
  type EnvironmentDescription,
  type GpuLike,
  isSoftwareAdapter,
  probeAdapter,
  selectBackend,
} from "./backend.ts";
export {
  type Checkpoint,
  CheckpointCorruptError,
  type CheckpointLoad,
  type CheckpointSettings,
  type CheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
  EpochRecord,
} from "./checkpoint.ts";
export {
  describeResume,
  fileCheckpointStore,
  memoryCheckpointStore,
  previousCheckpointPath,
} from "./checkpoint_store.ts";
export { DivergenceError, ModelError } from "./errors.ts";
export {
  checkSplit,
  evaluateModel,
  evaluateTensors,
  type EvaluationResult,
  type Split,
  summarisePredictions,
} from "./evaluate.ts";
export { nllLoss, rDropLoss, type RDropLossOptions } from "./losses.ts";
export {
  assignMlpValues,
  decodeModelArtifacts,
  DEFAULT_MLP_CONFIG,
  disposeMlp,
  encodeModelArtifacts,
  initialValues,
  initMlp,
  loadModelArtifacts,
  type MlpConfig,
  mlpConfigOf,
  MlpConfigSchema,
  mlpFromValues,
  type MlpParams,
  MODEL_JSON,
  type ModelArtifacts,
  predictLogits,
  readMlpValues,
  saveModelArtifacts,
  WEIGHTS_BIN,
} from "./mlp.ts";
export { createRng, deriveSeed, permutation } from "./random.ts";
export {
  createReferenceStep,
  dropoutMask,
  forwardTrain,
  type Step,
  type StepOptions,
  type StepState,
} from "./reference_step.ts";
export {
  type AdamState,
  createTrainStep,
  type TrainStep,
  type TrainStepOptions,
} from "./train_step.ts";
export {
  ADAM_CONSTANTS,
  type Batch,
  type BatchStep,
  type BatchStepFactory,
  type StepConfig,
  type StepMetrics,
  type TrainConfig,
  type TrainMode,
} from "./step.ts";
export {
  evaluationEntry,
  startEvaluationBackend,
  startTrainingBackend,
  type TrainingBackend,
  type TrainingBackendOptions,
  trainingEntry,
} from "./backends.ts";
export { createTfjsStep, tfjsStepFactory } from "./tfjs_step.ts";
export {
  BLAS_INSTALL_HINT,
  BLAS_LIBRARY_ENV,
  type BlasInfo,
  nativeStepFactory,
  probeBlas,
} from "./native/mod.ts";
export {
  evaluateLogits,
  type ResumeOutcome,
  type StepInfo,
  stepsPerEpoch,
  train,
  type TrainData,
  type TrainOptions,
  type TrainResult,
} from "./trainer.ts";
