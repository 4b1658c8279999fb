import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../assert.ts";
import {
  readTensor,
  readTensorHeader,
  writeTensor,
} from "../../data/tensor_file.ts";
import { DataError, TensorFileError } from "../../data/errors.ts";
import { withDir } from "./_helpers.ts";

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("tensors of each dtype round-trip bit-exactly", async () => {
  await withDir(async (dir) => {
    const f = new Float32Array([
      0,
      -0,
      1.5,
      -3.25e-20,
      Infinity,
      NaN,
      1 / 3,
      255 / 255,
    ]);
    await writeTensor(`${dir}/f`, { dtype: "float32", shape: [2, 4], data: f });
    const rf = await readTensor(`${dir}/f`, {
      dtype: "float32",
      shape: [-1, 4],
    });
    assertEquals(rf.shape, [2, 4]);
    assert(rf.data instanceof Float32Array);
    assertEquals(
      new Uint8Array(rf.data.buffer, rf.data.byteOffset, rf.data.byteLength),
      new Uint8Array(f.buffer),
    );

    const i = new Int32Array([-2147483648, -1, 0, 7, 2147483647]);
    await writeTensor(`${dir}/i`, { dtype: "int32", shape: [5], data: i });
    const ri = await readTensor(`${dir}/i`, { dtype: "int32" });
    assert(ri.data instanceof Int32Array);
    assertEquals(Array.from(ri.data), Array.from(i));

    const u = new Uint8Array([0, 128, 255]);
    await writeTensor(`${dir}/u`, { dtype: "uint8", shape: [3, 1], data: u });
    assertEquals(
      Array.from((await readTensor(`${dir}/u`, { dtype: "uint8" })).data),
      [0, 128, 255],
    );

    await writeTensor(`${dir}/empty`, {
      dtype: "float32",
      shape: [0, 784],
      data: new Float32Array(0),
    });
    assertEquals((await readTensor(`${dir}/empty`)).data.length, 0);
    assertEquals(await entries(dir), [
      "empty.bin",
      "empty.json",
      "f.bin",
      "f.json",
      "i.bin",
      "i.json",
      "u.bin",
      "u.json",
    ]);
  });
});

Deno.test("the .bin file is raw little-endian and the header records shape, size and hash", async () => {
  await withDir(async (dir) => {
    const header = await writeTensor(`${dir}/t`, {
      dtype: "int32",
      shape: [2],
      data: new Int32Array([1, 258]),
    });
    assertEquals(Array.from(await Deno.readFile(`${dir}/t.bin`)), [
      1,
      0,
      0,
      0,
      2,
      1,
      0,
      0,
    ]);
    const onDisk = JSON.parse(await Deno.readTextFile(`${dir}/t.json`));
    assertEquals(onDisk, header);
    assertEquals([onDisk.dtype, onDisk.shape, onDisk.byteLength], [
      "int32",
      [2],
      8,
    ]);
    assertEquals(typeof onDisk.sha256, "string");
    const noHash = await writeTensor(`${dir}/n`, {
      dtype: "uint8",
      shape: [1],
      data: new Uint8Array(1),
    }, {
      hash: false,
    });
    assertEquals(noHash.sha256, undefined);
  });
});

Deno.test("writeTensor rejects data that does not match shape or dtype", async () => {
  await withDir(async (dir) => {
    await assertRejects(
      () =>
        writeTensor(`${dir}/a`, {
          dtype: "float32",
          shape: [3],
          data: new Float32Array(2),
        }),
      DataError,
    );
    await assertRejects(
      () =>
        writeTensor(`${dir}/b`, {
          dtype: "int32",
          shape: [2],
          data: new Float32Array(2) as unknown as Int32Array,
        }),
      DataError,
    );
    assertEquals(await entries(dir), []);
  });
});

Deno.test("bad headers, wrong sizes and unexpected dtype/shape are errors naming the file", async () => {
  await withDir(async (dir) => {
    const base = `${dir}/t`;
    await writeTensor(base, {
      dtype: "float32",
      shape: [2, 3],
      data: new Float32Array(6),
    });

    const wrongDtype = await assertRejects(
      () => readTensor(base, { dtype: "int32" }),
      TensorFileError,
    );
    assertStringIncludes(wrongDtype.message, "t.json");
    assertStringIncludes(
      (await assertRejects(
        () => readTensor(base, { shape: [3, 2] }),
        TensorFileError,
      )).message,
      "shape",
    );
    await assertRejects(
      () => readTensor(base, { shape: [2, 3, 1] }),
      TensorFileError,
    );

    const header = JSON.parse(await Deno.readTextFile(`${base}.json`));
    await Deno.writeTextFile(
      `${base}.json`,
      JSON.stringify({ ...header, shape: [3, 3] }),
    );
    assertStringIncludes(
      (await assertRejects(() => readTensorHeader(base), TensorFileError))
        .message,
      "byteLength",
    );
    await Deno.writeTextFile(
      `${base}.json`,
      JSON.stringify({ ...header, dtype: "float64" }),
    );
    await assertRejects(() => readTensor(base), TensorFileError);
    await Deno.writeTextFile(`${base}.json`, "{not json");
    assertStringIncludes(
      (await assertRejects(() => readTensor(base), TensorFileError)).message,
      "JSON",
    );
    await Deno.writeTextFile(`${base}.json`, JSON.stringify(header));

    await Deno.writeFile(`${base}.bin`, new Uint8Array(20));
    const short = await assertRejects(() => readTensor(base), TensorFileError);
    assertStringIncludes(short.message, "t.bin");
    assertStringIncludes(short.message, "20 bytes");

    await Deno.remove(`${base}.bin`);
    assertStringIncludes(
      (await assertRejects(() => readTensor(base), TensorFileError)).message,
      "not found",
    );
    assertStringIncludes(
      (await assertRejects(() => readTensor(`${dir}/none`), TensorFileError))
        .message,
      "none.json",
    );
  });
});

Deno.test("verify detects a corrupted .bin of the right size", async () => {
  await withDir(async (dir) => {
    const base = `${dir}/t`;
    await writeTensor(base, {
      dtype: "uint8",
      shape: [4],
      data: new Uint8Array([1, 2, 3, 4]),
    });
    await readTensor(base, { verify: true });
    await Deno.writeFile(`${base}.bin`, new Uint8Array([1, 2, 3, 5]));
    // Without verify the fast path trusts the size check only.
    assertEquals(Array.from((await readTensor(base)).data), [1, 2, 3, 5]);
    assertStringIncludes(
      (await assertRejects(
        () => readTensor(base, { verify: true }),
        TensorFileError,
      )).message,
      "SHA-256",
    );
  });
});

Deno.test("writing over an existing tensor replaces it and leaves no temp files", async () => {
  await withDir(async (dir) => {
    const base = `${dir}/t`;
    await writeTensor(base, {
      dtype: "int32",
      shape: [1],
      data: new Int32Array([1]),
    });
    await writeTensor(base, {
      dtype: "int32",
      shape: [2],
      data: new Int32Array([5, 6]),
    });
    assertEquals(Array.from((await readTensor(base)).data), [5, 6]);
    assertEquals(await entries(dir), ["t.bin", "t.json"]);
  });
});
