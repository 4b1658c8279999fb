/**
 * The record of one finished epoch (checkpoints, `history.json`). Its own module, free of
 * tfjs, so that the CLI can validate history files without loading TensorFlow.js.
 *
 * @module
 */
import { z } from "zod";

/** One finished epoch, as checkpoints and the train stage's `history.json` record it. */
export const EpochRecord = z.object({
  /** 1-based epoch number. */
  epoch: z.number().int().positive(),
  /** Mean training loss over the epoch's steps (the R-Drop loss for R-Drop runs). */
  trainLoss: z.number(),
  /** Test accuracy after the epoch. */
  testAccuracy: z.number().min(0).max(1),
  /** Test mean NLL after the epoch. */
  testLoss: z.number(),
  /** Wall-clock seconds of the epoch's training loop (no evaluation). */
  epochSeconds: z.number().nonnegative(),
  /** Training samples per second in the epoch. */
  samplesPerSecond: z.number().nonnegative(),
});
/** One finished epoch. */
export type EpochRecord = z.infer<typeof EpochRecord>;
