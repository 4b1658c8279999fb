import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../assert.ts";
import {
  checkImageLabelPair,
  gunzip,
  isGzip,
  parseIdx,
  readIdxFile,
} from "../../data/idx.ts";
import { IdxError } from "../../data/errors.ts";
import {
  FASHION_MNIST_FILES,
  fashionMnistPaths,
} from "../../data/fashion_mnist.ts";
import { gzip, makeIdx, sha256 } from "./_helpers.ts";

Deno.test("parseIdx reads dims big-endian and returns the data bytes", () => {
  const data = Array.from({ length: 2 * 3 * 300 }, (_, i) => i % 256);
  // 300 > 255 so a little-endian or one-byte reading of the dimension would differ
  const file = makeIdx([2, 3, 300], data);
  const parsed = parseIdx(file, "x.idx");
  assertEquals(parsed.dims, [2, 3, 300]);
  assertEquals(Array.from(parsed.data), data);
  assertEquals(parsed.bytes, file);
});

Deno.test("parseIdx rejects a wrong magic, naming the file", () => {
  const bytes = makeIdx([2], [1, 2]);
  bytes[0] = 0x1f;
  const error = assertThrows(() => parseIdx(bytes, "labels.idx"), IdxError);
  assertStringIncludes(error.message, "labels.idx");
  assertStringIncludes(error.message, "magic");
});

Deno.test("parseIdx rejects non-byte data types", () => {
  const error = assertThrows(
    () => parseIdx(makeIdx([1], [0, 0, 0, 0], 0x0d), "f.idx"),
    IdxError,
  );
  assertStringIncludes(error.message, "float32");
});

Deno.test("parseIdx rejects truncated headers, truncated data and trailing bytes", () => {
  const good = makeIdx([2, 2], [1, 2, 3, 4]);
  assertStringIncludes(
    assertThrows(() => parseIdx(good.subarray(0, 3), "a"), IdxError).message,
    "too short",
  );
  assertStringIncludes(
    assertThrows(() => parseIdx(good.subarray(0, 9), "a"), IdxError).message,
    "truncated",
  );
  assertStringIncludes(
    assertThrows(
      () => parseIdx(good.subarray(0, good.length - 1), "a"),
      IdxError,
    ).message,
    "truncated",
  );
  const longer = new Uint8Array(good.length + 2);
  longer.set(good);
  assertStringIncludes(
    assertThrows(() => parseIdx(longer, "a"), IdxError).message,
    "2 unexpected trailing bytes",
  );
  assertEquals(parseIdx(good, "a").dims, [2, 2]);
});

Deno.test("parseIdx works on a view with a non-zero byte offset", () => {
  const inner = makeIdx([3], [7, 8, 9]);
  const outer = new Uint8Array(inner.length + 5);
  outer.set(inner, 5);
  const parsed = parseIdx(outer.subarray(5), "v");
  assertEquals(parsed.dims, [3]);
  assertEquals(Array.from(parsed.data), [7, 8, 9]);
});

Deno.test("checkImageLabelPair catches count mismatch and out-of-range labels", () => {
  const images = parseIdx(makeIdx([3, 2, 2], new Array(12).fill(0)), "img");
  const files = { imagesFile: "img", labelsFile: "lab", numClasses: 10 };
  checkImageLabelPair(images, parseIdx(makeIdx([3], [0, 9, 5]), "lab"), files);
  const mismatch = assertThrows(
    () =>
      checkImageLabelPair(images, parseIdx(makeIdx([2], [0, 1]), "lab"), files),
    IdxError,
  );
  assertStringIncludes(mismatch.message, "lab");
  assertStringIncludes(mismatch.message, "count mismatch");
  assertStringIncludes(
    assertThrows(
      () =>
        checkImageLabelPair(
          images,
          parseIdx(makeIdx([3], [0, 10, 1]), "lab"),
          files,
        ),
      IdxError,
    ).message,
    "label 10",
  );
  assertThrows(() => checkImageLabelPair(images, images, files), IdxError);
});

Deno.test("readIdxFile reads gzip and plain files and names the file on corrupt gzip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const idx = makeIdx([4], [1, 2, 3, 4]);
    const gz = await gzip(idx);
    assert(isGzip(gz) && !isGzip(idx));
    await Deno.writeFile(`${dir}/a.gz`, gz);
    await Deno.writeFile(`${dir}/a.idx`, idx);
    await Deno.writeFile(`${dir}/bad.gz`, gz.subarray(0, gz.length - 6));
    assertEquals(Array.from((await readIdxFile(`${dir}/a.gz`)).data), [
      1,
      2,
      3,
      4,
    ]);
    assertEquals(Array.from((await readIdxFile(`${dir}/a.idx`)).data), [
      1,
      2,
      3,
      4,
    ]);
    const error = await assertRejects(
      () => readIdxFile(`${dir}/bad.gz`),
      IdxError,
    );
    assertStringIncludes(error.message, "bad.gz");
    const missing = await assertRejects(
      () => readIdxFile(`${dir}/nope.gz`),
      IdxError,
    );
    assertStringIncludes(missing.message, "not found");
    assertEquals(Array.from(await gunzip(gz, "x")), Array.from(idx));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const REAL_DIR = "/usr/share/datasets/fashion-mnist";
const realPresent = (() => {
  try {
    return Deno.statSync(`${REAL_DIR}/${FASHION_MNIST_FILES.testLabels.name}`)
      .isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "real Fashion-MNIST files parse with the expected shapes and hashes",
  ignore: !realPresent,
  async fn() {
    const paths = fashionMnistPaths(REAL_DIR);
    const testImages = await readIdxFile(paths.testImages);
    const testLabels = await readIdxFile(paths.testLabels);
    const trainLabels = await readIdxFile(paths.trainLabels);
    assertEquals(testImages.dims, [10000, 28, 28]);
    assertEquals(testLabels.dims, [10000]);
    assertEquals(trainLabels.dims, [60000]);
    checkImageLabelPair(testImages, testLabels, {
      imagesFile: "i",
      labelsFile: "l",
      numClasses: 10,
    });
    // Hash the whole decompressed file (header included), as the published SHA-256s are defined.
    const whole = (a: { bytes: Uint8Array }) => a.bytes;
    assertEquals(
      sha256(whole(testImages)),
      FASHION_MNIST_FILES.testImages.sha256,
    );
    assertEquals(
      sha256(whole(testLabels)),
      FASHION_MNIST_FILES.testLabels.sha256,
    );
    assertEquals(
      sha256(whole(trainLabels)),
      FASHION_MNIST_FILES.trainLabels.sha256,
    );
    // The training images (26 MB gz) are checked in fetch_test via the streaming verifier.
    assertInstanceOf(testImages.data, Uint8Array);
  },
});
