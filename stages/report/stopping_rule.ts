/**
 * When a sequential comparison may stop: after each round of seeds, the confidence sequence of
 * the paired differences (see `confidence_sequence.ts`) decides, in this order,
 *
 * 1. `excludes-zero`: the interval lies wholly above or below zero, a sign is shown;
 * 2. `precise`: its half-width is at most the stated precision, so "no effect larger than
 *    max(|low|, |high|)" is a valid conclusion even though the sign is not shown;
 * 3. `budget`: the seed budget is spent, whatever the interval says.
 *
 * Because the confidence sequence holds at every n at once, stopping on 1 has error
 * probability at most alpha however many rounds were looked at.
 *
 * @module
 */
import {
  confidenceSequence,
  type ConfidenceSequenceBound,
  type ConfidenceSequenceOptions,
} from "./confidence_sequence.ts";

/** Why a sequential comparison stopped. */
export type StopReason = "excludes-zero" | "precise" | "budget";

/** What the stopping rule needs besides the differences. */
export interface StoppingOptions extends ConfidenceSequenceOptions {
  /** Stop once the half-width is at most this (data units, e.g. 0.003 for 0.3 pp). */
  precision: number;
  /** Stop once this many paired differences are in. */
  maxPairs: number;
}

/** The rule's answer after a round. */
export type StopCheck =
  | { stop: false; bound: ConfidenceSequenceBound }
  | { stop: true; reason: StopReason; bound: ConfidenceSequenceBound };

/** Applies the stopping rule to the paired differences seen so far (at least one). */
export function stopCheck(
  differences: readonly number[],
  options: StoppingOptions,
): StopCheck {
  const bound = confidenceSequence(differences, options);
  if (bound.low > 0 || bound.high < 0) {
    return { stop: true, reason: "excludes-zero", bound };
  }
  if (bound.halfWidth <= options.precision) {
    return { stop: true, reason: "precise", bound };
  }
  if (differences.length >= options.maxPairs) {
    return { stop: true, reason: "budget", bound };
  }
  return { stop: false, bound };
}
