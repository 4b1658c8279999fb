/**
 * A damaged checkpoint never resumes silently: a run stopped after epoch 2 whose latest
 * checkpoint then has one flipped weight bit, or is truncated, resumes from the checkpoint
 * after epoch 1 and says so; with both damaged it restarts from epoch 1 and says so. Either
 * way its final weights are those of an uninterrupted run.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { assertEquals, assertRejects } from "../assert.ts";
import {
  describeResume,
  fileCheckpointStore,
} from "../../models/checkpoint_store.ts";
import { disposeMlp, readMlpValues } from "../../models/mlp.ts";
import { train, type TrainResult } from "../../models/trainer.ts";
import { KILL_DATA, KILL_OPTIONS } from "./_kill_settings.ts";

await tf.setBackend("wasm");

async function weights(result: TrainResult): Promise<number[][]> {
  const values = (await readMlpValues(result.params)).map((v) => Array.from(v));
  disposeMlp(result.params);
  return values;
}

const whole = await weights(await train(KILL_DATA, KILL_OPTIONS));

/** Trains until `stopAfter` epochs are checkpointed, damages the files, resumes. */
async function resumeAfterDamage(
  stopAfter: number,
  damage: (dir: string) => Promise<void>,
): Promise<{ line: string | null; weights: number[][]; resumed: number }> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/checkpoint.bin`;
    const controller = new AbortController();
    await assertRejects(() =>
      train(KILL_DATA, {
        ...KILL_OPTIONS,
        checkpoint: fileCheckpointStore(path),
        signal: controller.signal,
        onEpoch: (record) => {
          if (record.epoch === stopAfter) controller.abort(new Error("stop"));
        },
      })
    );
    await damage(dir);
    let line: string | null = null;
    const result = await train(KILL_DATA, {
      ...KILL_OPTIONS,
      checkpoint: fileCheckpointStore(path),
      onResume: (outcome) => line = describeResume(outcome),
    });
    return {
      line,
      resumed: result.resumedEpochs,
      weights: await weights(result),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Flips the lowest bit of the first weight of w0 in `file`. */
async function flipWeightBit(file: string): Promise<void> {
  const bytes = await Deno.readFile(file);
  const headerLength = new DataView(bytes.buffer).getUint32(4, true);
  bytes[Math.ceil((8 + headerLength) / 4) * 4] ^= 0x01;
  await Deno.writeFile(file, bytes);
}

Deno.test("one flipped weight bit in the latest checkpoint: resumes from the one after epoch 1, says so, same weights", async () => {
  const run = await resumeAfterDamage(
    2,
    (dir) => flipWeightBit(`${dir}/checkpoint.bin`),
  );
  assertEquals(
    run.line,
    "checkpoint.bin is corrupt (checksum mismatch); resumed from the checkpoint after epoch 1",
  );
  assertEquals(run.resumed, 1);
  assertEquals(run.weights, whole);
});

Deno.test("a truncated latest checkpoint: resumes from the one after epoch 1, says so, same weights", async () => {
  const run = await resumeAfterDamage(2, async (dir) => {
    const file = `${dir}/checkpoint.bin`;
    await Deno.truncate(file, (await Deno.stat(file)).size - 100);
  });
  assertEquals(run.resumed, 1);
  assertEquals(
    run.line?.replace(/expected \d+ bytes, found \d+/, "…"),
    "checkpoint.bin is corrupt (truncated: …); resumed from the checkpoint after epoch 1",
  );
  assertEquals(run.weights, whole);
});

Deno.test("no good checkpoint left: restarts from epoch 1, says so, same weights", async () => {
  const run = await resumeAfterDamage(2, async (dir) => {
    await flipWeightBit(`${dir}/checkpoint.bin`);
    await flipWeightBit(`${dir}/checkpoint.prev.bin`);
  });
  assertEquals(run.resumed, 0);
  assertEquals(
    run.line,
    "checkpoint.bin is corrupt (checksum mismatch); " +
      "checkpoint.prev.bin is corrupt (checksum mismatch); restarted from epoch 1",
  );
  assertEquals(run.weights, whole);
});

Deno.test("an intact checkpoint resumes from its epoch, and the line says only that", async () => {
  const run = await resumeAfterDamage(2, () => Promise.resolve());
  assertEquals(run.line, "resumed from the checkpoint after epoch 2");
  assertEquals(run.weights, whole);
});
