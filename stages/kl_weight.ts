/**
 * The weight the training step gives R-Drop's KL term, for either reduction.
 *
 * Every step backend sums the KL over the batch and classes (the reference's
 * `KLDivLoss(reduction="sum")`) and multiplies it by the weight it is given. `batchmean` is that
 * sum divided by the batch size, so the stage passes `alpha / batchSize` instead of touching the
 * backends. One weight serves the whole run: the last, partial batch of an epoch (when the
 * training set is not a multiple of the batch size) is divided by the full batch size, not by
 * its own, which weighs its KL term `lastBatch / batchSize` as much as a true batchmean would.
 * {@link klWeight} says so (`partialBatch`), and the report prints it.
 *
 * @module
 */

/** The KL weight of a run and what it means. */
export interface KlWeight {
  /** The weight passed to the step (multiplies the summed KL). */
  weight: number;
  /** The reduction asked for. */
  reduction: "sum" | "batchmean";
  /**
   * With `batchmean` and a partial last batch: its size, and the factor (size / batchSize) by
   * which its KL weighs less than an exact batchmean; null otherwise.
   */
  partialBatch: { size: number; factor: number } | null;
}

/** The step's KL weight for `alpha` under `reduction`, with `examples` training examples. */
export function klWeight(
  alpha: number,
  options: {
    reduction: "sum" | "batchmean";
    batchSize: number;
    examples: number;
  },
): KlWeight {
  const { reduction, batchSize, examples } = options;
  if (reduction === "sum") {
    return { weight: alpha, reduction, partialBatch: null };
  }
  const last = examples % batchSize;
  return {
    weight: alpha / batchSize,
    reduction,
    partialBatch: last === 0 ? null : { size: last, factor: last / batchSize },
  };
}
