/**
 * The sequential design of a decide sweep: how many seeds a round adds, the budget, the
 * precision that counts as decided, and the assumptions of the confidence sequence. It sits in
 * the sweep file under `sequential`; every field is validated here, with defaults that fit
 * the alpha question (paired sd ~0.7 pp).
 *
 * @module
 */
import { z } from "zod";

/** Successive halving over arms: after each round keep the best 1/eta of them on validation. */
export const Halving = z.strictObject({
  /** Keep ceil(arms / eta) arms after each round (eta >= 2). */
  eta: z.number().min(2).default(2),
  /** Never halve below this many R-Drop arms. */
  keep: z.number().int().positive().default(1),
});

/** The sequential design (see the module doc). */
export const SequentialDesign = z.strictObject({
  /** Seeds every arm runs in round 1 (seeds 0 .. n-1). */
  firstRound: z.number().int().min(2).default(4),
  /** Seeds each remaining arm adds per later round. */
  perRound: z.number().int().positive().default(4),
  /** Seed budget per arm: the comparison stops at this many paired seeds. */
  maxSeeds: z.number().int().min(2).default(24),
  /** Training budget over all arms (null: only the seed budget). */
  maxTrainings: z.number().int().positive().nullable().default(null),
  /** Decided once the confidence sequence's half-width is at most this (accuracy, 0.003 = 0.3 pp). */
  precision: z.number().positive().default(0.003),
  /**
   * Assumed sub-Gaussian scale (sd bound) of one paired accuracy difference, stated in advance
   * (0.008 = 0.8 pp, above the ~0.7 pp the alpha sweep measured).
   */
  sigma: z.number().positive().default(0.008),
  /** Error probability of the whole sequential experiment (split over the arms, Bonferroni). */
  alpha: z.number().gt(0).lt(1).default(0.05),
  /** Where the confidence sequence is tightest (seeds); fixed in advance. */
  tunedFor: z.number().int().positive().default(12),
  /** Successive halving over arms; null keeps every arm not clearly behind. */
  halving: Halving.nullable().default(null),
});
/** The validated sequential design. */
export type SequentialDesign = z.output<typeof SequentialDesign>;
