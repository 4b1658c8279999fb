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

/** Options of {@link makeSweepInput}. */
export interface SweepOptions {
  alphas: number[];
  seeds: number[];
  /** Validation examples held out (0: the curves are on test). */
  validation: number;
  epochs?: number;
}

/** A Mermaid node id for an instance name, as the engine writes them. */
function nodeId(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, "_").replace(/_+/g, "_");
}

/**
 * A sweep's report input as the report stage collects it: the baseline and every alpha on
 * every seed, the params' matrix, and the DAG and stage timings of all instances.
 */
export function makeSweepInput(options: SweepOptions): ReportInput {
  const { alphas, seeds, validation } = options;
  const epochs = options.epochs ?? 10;
  const held = (accuracy: number) =>
    validation > 0 ? { validation: { examples: validation, accuracy } } : {};
  const runs = [
    ...seeds.map((s) =>
      makeRun("baseline", s, {
        epochs,
        correct: correctFor(855 + (s * 7) % 11),
        ...held(0.862 + ((s * 3) % 5) / 1000),
      })
    ),
    ...alphas.flatMap((alpha, a) =>
      seeds.map((s) =>
        makeRun("rdrop", s, {
          alpha,
          epochs,
          correct: correctFor(
            858 + (a * 5 + s * 3) % 9 - (alpha > 0.05 ? 20 : 0),
          ),
          ...held(0.865 + ((a + s) % 4) / 1000 - (alpha > 0.05 ? 0.02 : 0)),
        })
      )
    ),
  ];
  const instanceOf = (r: ReportRun) =>
    r.model === "baseline"
      ? `${r.seed}`
      : `alpha=${r.history.alpha},seed=${r.seed}`;
  const names = [
    "download",
    "preprocess",
    ...runs.map((r) => `train_${r.model}@${instanceOf(r)}`),
    ...runs.map((r) => `evaluate_${r.model}@${instanceOf(r)}`),
  ];
  const nodes = [...names, "report"].map((n) => `  ${nodeId(n)}["${n}"]`);
  const edges = names.slice(2).map((n) => `  preprocess --> ${nodeId(n)}`);
  const input = makeInput(runs);
  input.params = {
    train: { epochs, alpha: alphas[0] },
    preprocess: { validation },
    seeds,
    matrix: { train: { alpha: alphas } },
  };
  input.mermaid = [
    "flowchart TD",
    ...nodes,
    "  download --> preprocess",
    ...edges,
  ]
    .join("\n");
  input.stages = names.map((name, i) => ({
    name,
    seconds: name.startsWith("train_") ? 24 + (i % 7) : 0.5 + (i % 3) / 10,
    cached: false,
  })).sort((a, b) => a.name.localeCompare(b.name));
  return input;
}
