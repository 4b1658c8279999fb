import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../assert.ts";
import {
  classCounts,
  loadPreprocessed,
  PREPROCESSED_FILES,
  preprocessIdxFiles,
  scaleImages,
  validateLimit,
  writePreprocessed,
} from "../../data/preprocess.ts";
import { DataError, IdxError, TensorFileError } from "../../data/errors.ts";
import {
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_FILES,
  fashionMnistPaths,
} from "../../data/fashion_mnist.ts";
import { gzip, makeDataset, makeIdx, sha256, withDir } from "./_helpers.ts";

/** Writes a small 4x3-pixel dataset (12 train, 5 test) as the four gz files; returns the raw IDX bytes. */
async function writeSmallRaw(dir: string) {
  const train = makeDataset(12, 4, 3, 1);
  const test = makeDataset(5, 4, 3, 2);
  const paths = fashionMnistPaths(dir);
  await Deno.writeFile(paths.trainImages, await gzip(train.images));
  await Deno.writeFile(paths.trainLabels, await gzip(train.labels));
  await Deno.writeFile(paths.testImages, await gzip(test.images));
  await Deno.writeFile(paths.testLabels, await gzip(test.labels));
  return { paths, train, test };
}

const HEADER3 = 16; // magic + 3 dims
const HEADER1 = 8; // magic + 1 dim

Deno.test("scaleImages maps every byte b to float32(b / 255)", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
  const scaled = scaleImages(bytes);
  assert(scaled instanceof Float32Array);
  for (let i = 0; i < 256; i++) {
    assertEquals(scaled[i], Math.fround(bytes[i] / 255));
  }
  assertEquals([scaled[0], scaled[255]], [1, 0]);
});

Deno.test("classCounts and validateLimit", () => {
  assertEquals(classCounts([0, 2, 2, 1, 2], 4), [1, 1, 3, 0]);
  assertEquals(validateLimit(undefined), undefined);
  assertEquals(validateLimit(7), 7);
  for (const bad of [0, -1, 1.5, "3", NaN]) {
    assertStringIncludes(
      assertThrows(() => validateLimit(bad), DataError).message,
      "limit",
    );
  }
});

Deno.test("preprocessIdxFiles scales images, widens labels and records metadata", async () => {
  await withDir(async (dir) => {
    const { paths, train, test } = await writeSmallRaw(dir);
    const data = await preprocessIdxFiles(paths);
    assertEquals([data.train.count, data.train.features, data.test.count], [
      12,
      12,
      5,
    ]);
    const trainPixels = train.images.subarray(HEADER3);
    assertEquals(
      Array.from(data.train.images),
      Array.from(trainPixels, (b) => Math.fround(b / 255)),
    );
    assert(data.train.labels instanceof Int32Array);
    assertEquals(
      Array.from(data.test.labels),
      Array.from(test.labels.subarray(HEADER1)),
    );
    const m = data.meta;
    assertEquals(m.imageShape, [4, 3]);
    assertEquals(m.classNames, [...FASHION_MNIST_CLASS_NAMES]);
    assertEquals(m.limit, null);
    assertEquals(m.splits.train.imagesShape, [12, 12]);
    assertEquals(m.splits.test.labelsShape, [5]);
    assertEquals(
      m.splits.train.classCounts,
      classCounts(train.labels.subarray(HEADER1), 10),
    );
    assertEquals(m.sourceSha256.trainImages, sha256(train.images));
    assertEquals(m.sourceSha256.testLabels, sha256(test.labels));
  });
});

Deno.test("limit keeps the first N examples of each split", async () => {
  await withDir(async (dir) => {
    const { paths, train, test } = await writeSmallRaw(dir);
    const data = await preprocessIdxFiles(paths, { limit: 3 });
    assertEquals([data.train.count, data.test.count], [3, 3]);
    assertEquals(data.train.images.length, 3 * 12);
    assertEquals(
      Array.from(data.train.labels),
      Array.from(train.labels.subarray(HEADER1, HEADER1 + 3)),
    );
    assertEquals(
      data.test.images[35],
      Math.fround(test.images[HEADER3 + 35] / 255),
    );
    assertEquals([
      data.meta.limit,
      data.meta.splits.train.available,
      data.meta.splits.test.available,
    ], [3, 12, 5]);
    const big = await preprocessIdxFiles(paths, { limit: 8 });
    assertEquals([big.train.count, big.test.count], [8, 5]);
    await assertRejects(
      () => preprocessIdxFiles(paths, { limit: 0 }),
      DataError,
    );
  });
});

Deno.test("inconsistent raw files are errors naming the file", async () => {
  await withDir(async (dir) => {
    const { paths } = await writeSmallRaw(dir);
    await Deno.writeFile(
      paths.testLabels,
      await gzip(makeIdx([4], [1, 2, 3, 4])),
    );
    const mismatch = await assertRejects(
      () => preprocessIdxFiles(paths),
      IdxError,
    );
    assertStringIncludes(mismatch.message, paths.testLabels);
    assertStringIncludes(mismatch.message, "count mismatch");

    await writeSmallRaw(dir);
    await Deno.writeFile(
      paths.testImages,
      await gzip(makeIdx([5, 3, 4], new Array(60).fill(0))),
    );
    assertStringIncludes(
      (await assertRejects(() => preprocessIdxFiles(paths), DataError)).message,
      "image shapes differ",
    );

    await writeSmallRaw(dir);
    const bad = makeDataset(12, 4, 3, 1).images;
    bad[2] = 0x0c;
    await Deno.writeFile(paths.trainImages, await gzip(bad));
    assertStringIncludes(
      (await assertRejects(() => preprocessIdxFiles(paths), IdxError)).message,
      paths.trainImages,
    );
  });
});

Deno.test("writePreprocessed and loadPreprocessed round-trip exactly", async () => {
  await withDir(async (dir) => {
    const { paths } = await writeSmallRaw(`${dir}`);
    const data = await preprocessIdxFiles(paths, { limit: 10 });
    const out = `${dir}/processed`;
    await writePreprocessed(out, data);
    const names: string[] = [];
    for await (const e of Deno.readDir(out)) names.push(e.name);
    assertEquals(names.sort(), [...PREPROCESSED_FILES].sort());
    const loaded = await loadPreprocessed(out, { verify: true });
    assertEquals(loaded.meta, data.meta);
    assertEquals(
      Array.from(loaded.train.images),
      Array.from(data.train.images),
    );
    assertEquals(Array.from(loaded.test.labels), Array.from(data.test.labels));
    assertEquals(
      [loaded.train.count, loaded.train.features, loaded.test.count],
      [10, 12, 5],
    );
  });
});

Deno.test("loadPreprocessed rejects missing, inconsistent or tampered files", async () => {
  await withDir(async (dir) => {
    const { paths } = await writeSmallRaw(dir);
    const out = `${dir}/p`;
    await writePreprocessed(out, await preprocessIdxFiles(paths));
    const metaText = await Deno.readTextFile(`${out}/meta.json`);
    const meta = JSON.parse(metaText);

    await Deno.writeTextFile(
      `${out}/meta.json`,
      JSON.stringify({ ...meta, features: 13 }),
    );
    assertStringIncludes(
      (await assertRejects(() => loadPreprocessed(out), DataError)).message,
      "meta.json",
    );

    meta.splits.train.count = 11;
    meta.splits.train.imagesShape[0] = 11;
    meta.splits.train.labelsShape[0] = 11;
    meta.splits.train
      .classCounts[
        meta.splits.train.classCounts.findIndex((c: number) => c > 0)
      ]--;
    await Deno.writeTextFile(`${out}/meta.json`, JSON.stringify(meta));
    assertStringIncludes(
      (await assertRejects(() => loadPreprocessed(out), TensorFileError))
        .message,
      "shape",
    );
    await Deno.writeTextFile(`${out}/meta.json`, metaText);

    const labels = await Deno.readFile(`${out}/test_labels.bin`);
    labels[0] = 42; // little-endian int32 label 42, same file size
    await Deno.writeFile(`${out}/test_labels.bin`, labels);
    assertStringIncludes(
      (await assertRejects(() => loadPreprocessed(out), DataError)).message,
      "label 42",
    );

    await Deno.remove(`${out}/meta.json`);
    assertStringIncludes(
      (await assertRejects(() => loadPreprocessed(out), DataError)).message,
      "preprocess stage",
    );
  });
});

const REAL_DIR = "/usr/share/datasets/fashion-mnist";
const realPresent = (() => {
  try {
    return Deno.statSync(`${REAL_DIR}/${FASHION_MNIST_FILES.trainImages.name}`)
      .isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "the real files preprocess with 60000/10000 examples of 28x28 and the published hashes",
  ignore: !realPresent,
  async fn() {
    const data = await preprocessIdxFiles(fashionMnistPaths(REAL_DIR), {
      limit: 500,
    });
    const m = data.meta;
    assertEquals([m.splits.train.available, m.splits.test.available], [
      60000,
      10000,
    ]);
    assertEquals([data.train.count, data.test.count, data.train.features], [
      500,
      500,
      784,
    ]);
    assertEquals(m.imageShape, [28, 28]);
    assertEquals(
      m.sourceSha256.trainImages,
      FASHION_MNIST_FILES.trainImages.sha256,
    );
    assertEquals(
      m.sourceSha256.testImages,
      FASHION_MNIST_FILES.testImages.sha256,
    );
    let min = Infinity, max = -Infinity;
    for (const v of data.train.images) {
      [min, max] = [Math.min(min, v), Math.max(max, v)];
    }
    assertEquals([min, max], [0, 1]);
  },
});
