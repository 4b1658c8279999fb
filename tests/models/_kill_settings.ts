/**
 * Data and options shared by kill_resume_test.ts and its subprocess.
 *
 * @module
 */
import type { TrainData, TrainOptions } from "../../models/trainer.ts";
import { tfjsStepFactory } from "../../models/tfjs_step.ts";
import { blobs } from "./_synthetic.ts";

/** Small synthetic splits. */
export const KILL_DATA: TrainData = {
  train: blobs(200, { features: 16, classes: 3, seed: 1, noise: 1.2 }),
  test: blobs(90, { features: 16, classes: 3, seed: 2, noise: 1.2 }),
};

/** Three epochs of R-Drop with shuffling, so that a wrong resume shows. */
export const KILL_OPTIONS: TrainOptions = {
  mode: "rdrop",
  alpha: 1,
  epochs: 3,
  batchSize: 16,
  learningRate: 1e-2,
  seed: 11,
  shuffle: true,
  model: { inputSize: 16, hidden: [24], classes: 3, dropout: 0.3 },
  readEvery: 4,
  createStep: tfjsStepFactory(),
};
