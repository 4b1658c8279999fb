/**
 * Preprocessing of Fashion-MNIST: four IDX files -> float32 images in [0, 1] and int32
 * labels per split, plus metadata; written as tensor files and loaded back validated.
 *
 * Directory layout written by {@linkcode writePreprocessed}:
 * `train_images.{bin,json}`, `train_labels.{bin,json}`, `test_images.{bin,json}`,
 * `test_labels.{bin,json}`, `meta.json` (written last).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { writeTextFileAtomic } from "./atomic.ts";
import { DataError } from "./errors.ts";
import {
  FASHION_MNIST_CLASS_NAMES,
  type FashionMnistFiles,
} from "./fashion_mnist.ts";
import { checkImageLabelPair, type IdxArray, readIdxFile } from "./idx.ts";
import { readTensor, writeTensor } from "./tensor_file.ts";

/** One split in memory: row-major images `[count, features]` and labels `[count]`. */
export interface Split {
  /** Pixels scaled to [0, 1] (`byte / 255`), `count * features` values. */
  images: Float32Array;
  /** Class indices in `0 .. classNames.length - 1`. */
  labels: Int32Array;
  /** Number of examples. */
  count: number;
  /** Values per example (784 for 28x28). */
  features: number;
}

/** Zod schema of one split's entry in `meta.json`. */
export const SplitMeta = z.object({
  /** Examples kept (after `limit`). */
  count: z.number().int().nonnegative(),
  /** Examples in the source files (before `limit`). */
  available: z.number().int().nonnegative(),
  imagesShape: z.tuple([
    z.number().int().nonnegative(),
    z.number().int().positive(),
  ]),
  labelsShape: z.tuple([z.number().int().nonnegative()]),
  /** classCounts[c] = number of kept examples of class c. */
  classCounts: z.array(z.number().int().nonnegative()),
}).refine((s) => s.imagesShape[0] === s.count && s.labelsShape[0] === s.count, {
  message: "shapes do not match count",
}).refine((s) => s.classCounts.reduce((a, b) => a + b, 0) === s.count, {
  message: "classCounts do not sum to count",
});
/** One split's entry in `meta.json`. */
export type SplitMeta = z.infer<typeof SplitMeta>;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** Zod schema of `meta.json`. */
export const PreprocessMeta = z.object({
  format: z.literal("rdrop-fashion-mnist-preprocessed"),
  version: z.literal(1),
  classNames: z.array(z.string()).min(2),
  /** Shape of one image before flattening, e.g. [28, 28]. */
  imageShape: z.array(z.number().int().positive()).min(1),
  /** Product of imageShape. */
  features: z.number().int().positive(),
  dtype: z.object({ images: z.literal("float32"), labels: z.literal("int32") }),
  /** How pixel bytes became floats. */
  scaling: z.literal("byte / 255"),
  /** The `limit` param, or null for all examples. */
  limit: z.number().int().positive().nullable(),
  splits: z.object({ train: SplitMeta, test: SplitMeta }),
  /** SHA-256 of the decompressed source IDX files, keyed by role. */
  sourceSha256: z.object({
    trainImages: Sha256,
    trainLabels: Sha256,
    testImages: Sha256,
    testLabels: Sha256,
  }),
}).refine((m) => m.imageShape.reduce((a, b) => a * b, 1) === m.features, {
  message: "features is not the product of imageShape",
}).refine(
  (m) =>
    [m.splits.train, m.splits.test].every((s) =>
      s.imagesShape[1] === m.features &&
      s.classCounts.length === m.classNames.length
    ),
  { message: "split shapes or classCounts do not match features/classNames" },
);
/** The metadata file of a preprocessed dataset. */
export type PreprocessMeta = z.infer<typeof PreprocessMeta>;

/** A preprocessed dataset in memory. */
export interface Preprocessed {
  /** Training split. */
  train: Split;
  /** Test split. */
  test: Split;
  /** Shapes, counts, class names and provenance. */
  meta: PreprocessMeta;
}

/** Options of {@linkcode preprocessIdxFiles}. */
export interface PreprocessOptions {
  /** Keep only the first `limit` examples of each split (all when absent). */
  limit?: number;
  /** Class names indexed by label; default the Fashion-MNIST names. */
  classNames?: readonly string[];
}

/** File names that {@linkcode writePreprocessed} creates in its directory. */
export const PREPROCESSED_FILES: readonly string[] = Object.freeze([
  "train_images.bin",
  "train_images.json",
  "train_labels.bin",
  "train_labels.json",
  "test_images.bin",
  "test_images.json",
  "test_labels.bin",
  "test_labels.json",
  "meta.json",
]);

/** The files of {@linkcode PREPROCESSED_FILES} an evaluation reads: the test split and meta. */
export const PREPROCESSED_TEST_FILES: readonly string[] = Object.freeze(
  PREPROCESSED_FILES.filter((file) => !file.startsWith("train_")),
);

// byte / 255 for every byte value, computed once: exact division, and a table lookup is
// cheaper than a division per pixel over 47 million pixels.
const SCALE_TABLE = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/** Maps pixel bytes to float32 `byte / 255` in [0, 1]. */
export function scaleImages(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = SCALE_TABLE[pixels[i]];
  return out;
}

/** Counts labels per class; `counts[c]` is the number of labels equal to `c`. */
export function classCounts(
  labels: ArrayLike<number>,
  numClasses: number,
): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/**
 * Checks a `limit` param.
 *
 * @throws {DataError} unless it is undefined or a positive integer.
 */
export function validateLimit(limit: unknown): number | undefined {
  if (limit === undefined || limit === null) return undefined;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw new DataError(
      `limit must be a positive integer (or absent for all examples), got ${
        String(limit)
      }`,
    );
  }
  return limit;
}

/** Names used in errors and the class count, for {@linkcode buildSplit}. */
export interface BuildSplitOptions {
  /** Keep the first `limit` examples. */
  limit?: number;
  /** Name of the images file for errors. */
  imagesFile: string;
  /** Name of the labels file for errors. */
  labelsFile: string;
  /** Number of classes; labels must be below it. */
  numClasses: number;
}

/**
 * Turns a parsed images/labels pair into a {@linkcode Split}, keeping the first `limit` examples.
 *
 * @throws {IdxError} when the pair is inconsistent (count mismatch, labels out of range).
 */
export function buildSplit(
  images: IdxArray,
  labels: IdxArray,
  options: BuildSplitOptions,
): Split {
  checkImageLabelPair(images, labels, options);
  const available = images.dims[0];
  const count = Math.min(available, options.limit ?? available);
  const features = images.dims.slice(1).reduce((a, b) => a * b, 1);
  return {
    images: scaleImages(images.data.subarray(0, count * features)),
    labels: Int32Array.from(labels.data.subarray(0, count)),
    count,
    features,
  };
}

function splitMeta(
  split: Split,
  available: number,
  numClasses: number,
): SplitMeta {
  return {
    count: split.count,
    available,
    imagesShape: [split.count, split.features],
    labelsShape: [split.count],
    classCounts: classCounts(split.labels, numClasses),
  };
}

function sha256OfIdx(a: IdxArray): string {
  return createHash("sha256").update(a.bytes).digest("hex");
}

/**
 * Reads the four IDX files (gzip or plain) and builds both splits and their metadata.
 *
 * @throws {IdxError} for a malformed file or an inconsistent pair, naming the file.
 * @throws {DataError} for a bad `limit`, mismatched image shapes between splits, or class names
 * that do not cover the labels.
 */
export async function preprocessIdxFiles(
  paths: FashionMnistFiles<string>,
  options: PreprocessOptions = {},
): Promise<Preprocessed> {
  const limit = validateLimit(options.limit);
  const classNames = [...(options.classNames ?? FASHION_MNIST_CLASS_NAMES)];
  const numClasses = classNames.length;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    readIdxFile(paths.trainImages),
    readIdxFile(paths.trainLabels),
    readIdxFile(paths.testImages),
    readIdxFile(paths.testLabels),
  ]);
  const train = buildSplit(trainImages, trainLabels, {
    limit,
    imagesFile: paths.trainImages,
    labelsFile: paths.trainLabels,
    numClasses,
  });
  const test = buildSplit(testImages, testLabels, {
    limit,
    imagesFile: paths.testImages,
    labelsFile: paths.testLabels,
    numClasses,
  });
  const imageShape = trainImages.dims.slice(1);
  if (testImages.dims.slice(1).join("x") !== imageShape.join("x")) {
    throw new DataError(
      `image shapes differ: ${paths.trainImages} has ${
        imageShape.join("x")
      } images but ${paths.testImages} has ${
        testImages.dims.slice(1).join("x")
      }`,
    );
  }
  const meta: PreprocessMeta = {
    format: "rdrop-fashion-mnist-preprocessed",
    version: 1,
    classNames,
    imageShape,
    features: train.features,
    dtype: { images: "float32", labels: "int32" },
    scaling: "byte / 255",
    limit: limit ?? null,
    splits: {
      train: splitMeta(train, trainImages.dims[0], numClasses),
      test: splitMeta(test, testImages.dims[0], numClasses),
    },
    sourceSha256: {
      trainImages: sha256OfIdx(trainImages),
      trainLabels: sha256OfIdx(trainLabels),
      testImages: sha256OfIdx(testImages),
      testLabels: sha256OfIdx(testLabels),
    },
  };
  return { train, test, meta: PreprocessMeta.parse(meta) };
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * Writes a preprocessed dataset into `dir` (created if missing): four tensor files and then
 * `meta.json`, each atomically, so a directory with a `meta.json` is complete.
 */
export async function writePreprocessed(
  dir: string,
  data: Preprocessed,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  // A stale meta.json must not vouch for tensors that are about to change.
  await Deno.remove(joinPath(dir, "meta.json")).catch(() => {});
  for (
    const [name, split] of [["train", data.train], ["test", data.test]] as const
  ) {
    await writeTensor(joinPath(dir, `${name}_images`), {
      dtype: "float32",
      shape: [split.count, split.features],
      data: split.images,
    });
    await writeTensor(joinPath(dir, `${name}_labels`), {
      dtype: "int32",
      shape: [split.count],
      data: split.labels,
    });
  }
  await writeTextFileAtomic(
    joinPath(dir, "meta.json"),
    JSON.stringify(data.meta, null, 2) + "\n",
  );
}

/** Options of {@linkcode loadPreprocessed}. */
export interface LoadOptions {
  /** Also check each tensor's SHA-256 against its header (slower). Default false. */
  verify?: boolean;
}

/**
 * Reads and validates `meta.json` of a preprocessed directory.
 *
 * @throws {DataError} when it is missing, not JSON, or invalid.
 */
export async function readPreprocessMeta(dir: string): Promise<PreprocessMeta> {
  const path = joinPath(dir, "meta.json");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DataError(
        `${path} not found: the preprocessed data is missing or incomplete; run the preprocess stage`,
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DataError(
      `${path} is not valid JSON; run the preprocess stage again`,
      { cause: error },
    );
  }
  const parsed = PreprocessMeta.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) =>
      `${i.path.join(".") || "(root)"}: ${i.message}`
    ).join("; ");
    throw new DataError(
      `${path} is invalid (${issues}); run the preprocess stage again`,
    );
  }
  return parsed.data;
}

/**
 * Loads one split of a directory written by {@linkcode writePreprocessed}, checked against
 * its (already validated) `meta`: shapes, label range and class counts.
 *
 * @throws {DataError} (or its subclass `TensorFileError`) naming the offending file.
 */
export async function loadSplit(
  dir: string,
  name: "train" | "test",
  options: LoadOptions & { meta: PreprocessMeta },
): Promise<Split> {
  const { meta } = options;
  const { count } = meta.splits[name];
  const [images, labels] = await Promise.all([
    readTensor(joinPath(dir, `${name}_images`), {
      dtype: "float32",
      shape: [count, meta.features],
      verify: options.verify,
    }),
    readTensor(joinPath(dir, `${name}_labels`), {
      dtype: "int32",
      shape: [count],
      verify: options.verify,
    }),
  ]);
  const labelData = labels.data;
  const numClasses = meta.classNames.length;
  for (let i = 0; i < labelData.length; i++) {
    if (labelData[i] < 0 || labelData[i] >= numClasses) {
      throw new DataError(
        `${joinPath(dir, `${name}_labels.bin`)}: label ${
          labelData[i]
        } at index ${i} is outside 0..${
          numClasses - 1
        }; run the preprocess stage again`,
      );
    }
  }
  const counts = classCounts(labelData, numClasses);
  if (counts.join(",") !== meta.splits[name].classCounts.join(",")) {
    throw new DataError(
      `${
        joinPath(dir, `${name}_labels.bin`)
      } does not match the class counts in meta.json; run the preprocess stage again`,
    );
  }
  return {
    images: images.data,
    labels: labelData,
    count,
    features: meta.features,
  };
}

/**
 * Loads a directory written by {@linkcode writePreprocessed}, validating the metadata, each
 * tensor header against it, and the labels against the class counts.
 *
 * @throws {DataError} (or its subclass `TensorFileError`) naming the offending file.
 */
export async function loadPreprocessed(
  dir: string,
  options: LoadOptions = {},
): Promise<Preprocessed> {
  const meta = await readPreprocessMeta(dir);
  const train = await loadSplit(dir, "train", { ...options, meta });
  const test = await loadSplit(dir, "test", { ...options, meta });
  return { train, test, meta };
}
