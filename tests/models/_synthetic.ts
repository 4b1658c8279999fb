/**
 * Small synthetic classification data for the models tests: Gaussian blobs around
 * seeded class centres, linearly separable enough that a tiny MLP learns it in 2 epochs.
 *
 * @module
 */
import type { Split } from "../../models/evaluate.ts";
import { createRng } from "../../models/random.ts";

/** `count` examples of `classes` blobs in `features` dimensions. */
export function blobs(
  count: number,
  options: { features: number; classes: number; seed: number; noise?: number },
): Split {
  const { features, classes } = options;
  const noise = options.noise ?? 0.6;
  // Centres depend on a fixed seed so that train and test splits share them.
  const centreRng = createRng(12345);
  const centres = Array.from(
    { length: classes },
    () => Array.from({ length: features }, () => centreRng() * 2 - 1),
  );
  const rng = createRng(options.seed);
  const gauss = () =>
    Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const images = new Float32Array(count * features);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < features; j++) {
      images[i * features + j] = centres[c][j] + noise * gauss();
    }
  }
  return { images, labels, count, features };
}
