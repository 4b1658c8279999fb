/**
 * The models layer: the reference MLP, its losses, backends, training and evaluation.
 *
 * Knows nothing of caching or stages; plain functions over tensors and bytes.
 *
 * @module
 */
export {
  type BackendName,
  type BackendRequest,
  type BackendSelection,
  describeAdapter,
  describeEnvironment,
  type EnvironmentDescription,
  isSoftwareAdapter,
  probeAdapter,
  selectBackend,
} from "./backend.ts";
export {
  type Checkpoint,
  type CheckpointSettings,
  type CheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
  type EpochRecord,
  fileCheckpointStore,
  memoryCheckpointStore,
} from "./checkpoint.ts";
export { DivergenceError, ModelError } from "./errors.ts";
export {
  checkSplit,
  evaluateModel,
  evaluateTensors,
  type EvaluationResult,
  type Split,
  summarisePredictions,
} from "./evaluate.ts";
export { writeFileAtomic } from "./files.ts";
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
  type StepFactory,
  type StepInfo,
  stepsPerEpoch,
  train,
  type TrainData,
  type TrainOptions,
  type TrainResult,
} from "./trainer.ts";
