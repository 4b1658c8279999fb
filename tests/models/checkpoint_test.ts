import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  fileCheckpointStore,
} from "../../models/checkpoint.ts";
import { ModelError } from "../../models/errors.ts";

function sample(): Checkpoint {
  return {
    epoch: 2,
    settings: {
      mode: "rdrop",
      alpha: 0.05,
      batchSize: 32,
      learningRate: 1e-3,
      seed: 7,
      shuffle: false,
      model: { inputSize: 3, hidden: [2], classes: 2, dropout: 0.5 },
      trainCount: 100,
    },
    values: [
      new Float32Array([1, -2, 3.5, 0, 1e-7, -0]),
      new Float32Array([0.25, NaN]),
    ],
    adam: {
      step: 8,
      m: [new Float32Array(6).fill(0.5), new Float32Array([1, 2])],
      v: [new Float32Array(6).fill(1.5), new Float32Array([3, 4])],
    },
    history: [1, 2].map((epoch) => ({
      epoch,
      trainLoss: 1 / epoch,
      testAccuracy: 0.5 + epoch / 10,
      testLoss: 0.9 / epoch,
      epochSeconds: 3,
      samplesPerSecond: 33.3,
    })),
  };
}

/** A JSON-comparable view with a fixed key order; arrays as raw bytes (keeps -0 and NaN). */
function plain(c: Checkpoint) {
  const bytes = (as: Float32Array[]) =>
    as.map((a) =>
      Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    );
  return {
    epoch: c.epoch,
    settings: c.settings,
    history: c.history,
    values: bytes(c.values),
    adam: { step: c.adam.step, m: bytes(c.adam.m), v: bytes(c.adam.v) },
  };
}

Deno.test("checkpoints round-trip bit for bit", () => {
  const bytes = encodeCheckpoint(sample());
  assertEquals(plain(decodeCheckpoint(bytes)), plain(sample()));
});

Deno.test("corrupt checkpoints are ModelErrors naming the file", () => {
  const bytes = encodeCheckpoint(sample());
  const cases: Uint8Array[] = [
    bytes.slice(0, bytes.length - 4), // truncated data
    bytes.slice(0, 10), // truncated header
    new Uint8Array([...new TextEncoder().encode("XXXX"), ...bytes.slice(4)]), // bad magic
  ];
  // A header that parses as JSON but fails validation.
  const edited = bytes.slice();
  const text = new TextDecoder().decode(edited);
  const at = text.indexOf('"epoch":2');
  edited.set(new TextEncoder().encode('"epoch":-'), at);
  cases.push(edited);
  for (const c of cases) {
    const error = assertThrows(() => decodeCheckpoint(c, "run/ckpt.bin"));
    assert(
      error instanceof ModelError && error.message.includes("run/ckpt.bin"),
      String(error),
    );
  }
});

Deno.test("the file store returns null when empty and writes atomically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = fileCheckpointStore(`${dir}/ckpt.bin`);
    assertEquals(await store.load(), null);
    await store.save(sample());
    assertEquals(plain((await store.load())!), plain(sample()));
    // Only the checkpoint remains: no temporary files left behind.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["ckpt.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
