/**
 * The validation split: N training examples held out, stratified by class and always the same
 * ones (the last examples of each class in file order), so every seed and every alpha of a
 * sweep is selected on the same data.
 *
 * @module
 */
import { DataError } from "./errors.ts";
import type { Split } from "./preprocess.ts";

/** A training split cut in two. */
export interface HeldOut {
  /** What training uses. */
  train: Split;
  /** The held-out examples. */
  validation: Split;
  /** Original indices (into the training split) of the validation examples, ascending. */
  validationIndices: number[];
}

/**
 * How many validation examples each class gives: `size * count_c / total`, rounded down, and
 * the remainder to the classes with the largest fractional parts (lower class first on ties).
 */
export function stratifiedQuotas(
  counts: readonly number[],
  size: number,
): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  const exact = counts.map((c) => (total === 0 ? 0 : (size * c) / total));
  const quotas = exact.map(Math.floor);
  let left = size - quotas.reduce((s, q) => s + q, 0);
  const order = exact
    .map((value, index) => ({ index, fraction: value - Math.floor(value) }))
    .sort((a, b) => b.fraction - a.fraction || a.index - b.index);
  for (const { index } of order) {
    if (left === 0) break;
    if (quotas[index] < counts[index]) {
      quotas[index]++;
      left--;
    }
  }
  return quotas;
}

/**
 * Holds out `size` examples of `split` for validation (see the module doc). `size` 0 holds out
 * nothing. Throws a {@link DataError} when `size` leaves no training example.
 */
export function holdOutValidation(
  split: Split,
  size: number,
  options: { classes: number },
): HeldOut {
  if (!Number.isInteger(size) || size < 0 || size >= split.count) {
    throw new DataError(
      `preprocess.validation ${size} must be a whole number below the ${split.count} training examples; ` +
        "lower it (or raise preprocess.limit)",
    );
  }
  const counts = new Array<number>(options.classes).fill(0);
  for (const label of split.labels) counts[label]++;
  const quotas = stratifiedQuotas(counts, size);
  const held = new Uint8Array(split.count);
  const need = [...quotas];
  // The last examples of each class: walking backwards takes them without a second pass.
  for (let i = split.count - 1; i >= 0; i--) {
    const label = split.labels[i];
    if (need[label] > 0) {
      need[label]--;
      held[i] = 1;
    }
  }
  const validationIndices: number[] = [];
  const trainIndices: number[] = [];
  for (let i = 0; i < split.count; i++) {
    (held[i] ? validationIndices : trainIndices).push(i);
  }
  return {
    train: take(split, trainIndices),
    validation: take(split, validationIndices),
    validationIndices,
  };
}

function take(split: Split, indices: readonly number[]): Split {
  const f = split.features;
  const images = new Float32Array(indices.length * f);
  const labels = new Int32Array(indices.length);
  indices.forEach((from, to) => {
    images.set(split.images.subarray(from * f, (from + 1) * f), to * f);
    labels[to] = split.labels[from];
  });
  return { images, labels, count: indices.length, features: f };
}
