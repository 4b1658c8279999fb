import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  type Checkpoint,
  CheckpointCorruptError,
  decodeCheckpoint,
  encodeCheckpoint,
} from "../../models/checkpoint.ts";
import {
  describeResume,
  fileCheckpointStore,
  memoryCheckpointStore,
} from "../../models/checkpoint_store.ts";
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

/** Byte offset of the first weight in an encoded checkpoint (after the padded header). */
function payloadStart(bytes: Uint8Array): number {
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(
    4,
    true,
  );
  return Math.ceil((8 + headerLength) / 4) * 4;
}

Deno.test("one flipped bit in a weight or a truncated payload fails the checksum or the length check", () => {
  const bytes = encodeCheckpoint(sample());
  const flipped = bytes.slice();
  // The low mantissa bit of w0[1]: a valid float either way, only the checksum tells.
  flipped[payloadStart(bytes) + 4] ^= 0x01;
  const error = assertThrows(() => decodeCheckpoint(flipped, "ckpt.bin"));
  assert(error instanceof CheckpointCorruptError, String(error));
  assertEquals(error.reason, "checksum mismatch");
  assertEquals(error.file, "ckpt.bin");
  const truncated = assertThrows(() =>
    decodeCheckpoint(bytes.slice(0, bytes.length - 40), "ckpt.bin")
  );
  assert(truncated instanceof CheckpointCorruptError, String(truncated));
  assert(truncated.reason.startsWith("truncated: "), truncated.reason);
});

Deno.test("a checkpoint of the format before checksums is reported as such", () => {
  const bytes = encodeCheckpoint(sample());
  const text = new TextDecoder().decode(bytes);
  const at = text.indexOf('"version":2');
  assert(at > 0);
  const old = bytes.slice();
  old.set(new TextEncoder().encode('"version":1'), at);
  const error = assertThrows(() => decodeCheckpoint(old));
  assert(error instanceof CheckpointCorruptError, String(error));
  assert(error.reason.includes("older checkpoint format"), error.reason);
});

function epochSample(epoch: number): Checkpoint {
  const c = sample();
  c.epoch = epoch;
  c.history = c.history.slice(0, epoch);
  c.values[0][0] = epoch;
  return c;
}

Deno.test("the file store keeps the previous checkpoint and falls back to it when the latest is damaged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ckpt.bin`;
    const store = fileCheckpointStore(path);
    assertEquals(await store.load(), { checkpoint: null, rejected: [] });
    await store.save(epochSample(1));
    await store.save(epochSample(2));
    // Only the two checkpoints remain: no temporary files left behind.
    assertEquals(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["ckpt.bin", "ckpt.prev.bin"],
    );
    const good = await store.load();
    assertEquals(good.rejected, []);
    assertEquals(plain(good.checkpoint!), plain(epochSample(2)));

    const bytes = await Deno.readFile(path);
    bytes[payloadStart(bytes) + 4] ^= 0x01;
    await Deno.writeFile(path, bytes);
    const fallback = await store.load();
    assertEquals(fallback.rejected, [
      "ckpt.bin is corrupt (checksum mismatch)",
    ]);
    assertEquals(plain(fallback.checkpoint!), plain(epochSample(1)));
    assertEquals(
      describeResume({ resumedEpochs: 1, rejected: fallback.rejected }),
      "ckpt.bin is corrupt (checksum mismatch); resumed from the checkpoint after epoch 1",
    );

    // Saving over a damaged latest keeps the good previous one.
    await store.save(epochSample(2));
    await Deno.truncate(path, 100);
    const again = await store.load();
    assertEquals(plain(again.checkpoint!), plain(epochSample(1)));
    assert(again.rejected[0].startsWith("ckpt.bin is corrupt (truncated"));

    // Both damaged: nothing to resume, and both are named.
    await Deno.truncate(`${dir}/ckpt.prev.bin`, 3);
    const none = await store.load();
    assertEquals(none.checkpoint, null);
    assertEquals(none.rejected.length, 2);
    assertEquals(
      describeResume({ resumedEpochs: 0, rejected: none.rejected }).split("; ")
        .at(-1),
      "restarted from epoch 1",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the memory store keeps two copies like the file store", async () => {
  const store = memoryCheckpointStore();
  await store.save(epochSample(1));
  await store.save(epochSample(2));
  store.copies.latest![payloadStart(store.copies.latest!) + 4] ^= 0x01;
  await store.save(epochSample(3));
  // The damaged epoch-2 copy was not kept as the previous one.
  store.copies.latest = store.copies.latest!.slice(0, 20);
  const loaded = await store.load();
  assertEquals(loaded.checkpoint?.epoch, 1);
  assertEquals(loaded.rejected.length, 1);
});
