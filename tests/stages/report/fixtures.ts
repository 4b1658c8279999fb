/**
 * Synthetic report input: consistent artifacts (confusion matrix, per-class and overall
 * accuracy agree) for any model/seed, with a tunable accuracy.
 *
 * @module
 */
import { FASHION_MNIST_CLASS_NAMES } from "../../../data/fashion_mnist.ts";
import type { ReportInput, ReportRun } from "../../../stages/report/mod.ts";

/** Fashion-MNIST class names (a mutable copy: report inputs hold plain arrays). */
export const CLASS_NAMES: string[] = [...FASHION_MNIST_CLASS_NAMES];

/** Deterministic small PRNG (mulberry32) so fixtures vary by seed but never by run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link makeRun}. */
export interface RunOptions {
  /** Correct predictions per class out of `perClass` (overall accuracy = sum / (10·perClass)). */
  correct?: number[];
  perClass?: number;
  epochs?: number;
  alpha?: number;
  backend?: string;
  /**
   * Validation examples held out; the curves are then validation accuracies, the last
   * epoch's being `accuracy`.
   */
  validation?: { examples: number; accuracy: number };
}

/** One run whose evaluation is built from per-class correct counts. */
export function makeRun(
  model: "baseline" | "rdrop",
  seed: number,
  options: RunOptions = {},
): ReportRun {
  const perClass = options.perClass ?? 100;
  const k = CLASS_NAMES.length;
  const random = rng(seed * 31 + (model === "rdrop" ? 7 : 0));
  const correct = options.correct ??
    Array.from({ length: k }, () => 80 + Math.floor(random() * 15));
  const confusion = correct.map((c, i) => {
    const row = new Array<number>(k).fill(0);
    row[i] = c;
    row[(i + 1) % k] = perClass - c; // all mistakes go to the next class
    return row;
  });
  const total = correct.reduce((a, b) => a + b, 0);
  const testAccuracy = total / (perClass * k);
  const epochs = options.epochs ?? 3;
  const backend = options.backend ?? "wasm";
  const history = Array.from({ length: epochs }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 0.9 / (i + 1) + random() * 0.01,
    testAccuracy: Math.min(1, testAccuracy - 0.02 * (epochs - 1 - i)),
    testLoss: 0.6 / (i + 1) + 0.3,
    epochSeconds: 10 + random(),
    samplesPerSecond: 600 + random() * 10,
  }));
  const trainSeconds = history.reduce((a, e) => a + e.epochSeconds, 0);
  return {
    model,
    seed,
    history: {
      mode: model,
      alpha: options.alpha ?? 0.05,
      seed,
      curveSplit: options.validation ? "validation" : "test",
      validationExamples: options.validation?.examples ?? 0,
      // With a validation split every curve point is a validation accuracy, rising to the
      // given value at the last epoch.
      epochs: options.validation
        ? history.map((e, i) => ({
          ...e,
          testAccuracy: options.validation!.accuracy -
            0.005 * (history.length - 1 - i),
        }))
        : history,
    },
    run: {
      mode: model,
      seed,
      backend,
      requestedBackend: "auto",
      adapter: null,
      deno: "2.9.6",
      tfjs: "4.22.0",
      trainSeconds,
      samplesPerSecond: 600,
      resumedEpochs: 0,
    },
    evaluation: {
      model,
      seed,
      testAccuracy,
      testLoss: 0.45 - testAccuracy / 10,
      examples: perClass * k,
      classNames: CLASS_NAMES,
      perClassAccuracy: correct.map((c) => c / perClass),
      confusion,
    },
  };
}

/** A full report input for the given runs. */
export function makeInput(runs: ReportRun[]): ReportInput {
  return {
    runs,
    params: {
      train: { epochs: 3, alpha: 0.05 },
      seeds: [...new Set(runs.map((r) => r.seed))].sort((a, b) => a - b),
    },
    mermaid:
      "flowchart TD\n  download --> preprocess\n  preprocess --> train_baseline\n" +
      "  preprocess --> train_rdrop\n  train_baseline --> report\n  train_rdrop --> report",
    stages: [
      { name: "download", seconds: 0.01, cached: true },
      { name: "preprocess", seconds: 0.02, cached: true },
      { name: "train_baseline@0", seconds: 31.5, cached: false },
      { name: "train_rdrop@0", seconds: 64.2, cached: false },
    ],
    environment: {
      deno: "2.9.6",
      tfjs: "4.22.0",
      backend: "wasm",
      adapter: null,
      os: "linux x86_64",
    },
    generatedAt: "2026-11-29T10:00:00.000Z",
  };
}

/** Per-class correct counts summing to `total` out of 1000 (10 classes x 100). */
export function correctFor(total: number): number[] {
  const base = Math.floor(total / 10);
  const extra = total - base * 10;
  return Array.from({ length: 10 }, (_, i) => base + (i < extra ? 1 : 0));
}
