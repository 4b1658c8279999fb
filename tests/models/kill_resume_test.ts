import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { assertEquals } from "../assert.ts";
import { decodeCheckpoint } from "../../models/checkpoint.ts";
import { fileCheckpointStore } from "../../models/checkpoint_store.ts";
import { disposeMlp, readMlpValues } from "../../models/mlp.ts";
import { train } from "../../models/trainer.ts";
import { KILL_DATA, KILL_OPTIONS } from "./_kill_settings.ts";

await tf.setBackend("cpu");

Deno.test("a process SIGKILLed after epoch 1 resumes from its checkpoint file with the same history", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/checkpoint.bin`;
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        fileURLToPath(new URL("./_kill_fixture.ts", import.meta.url)),
        path,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assertEquals(
      child.signal,
      "SIGKILL",
      new TextDecoder().decode(child.stderr),
    );
    assertEquals(decodeCheckpoint(await Deno.readFile(path)).epoch, 1);

    const resumed = await train(KILL_DATA, {
      ...KILL_OPTIONS,
      checkpoint: fileCheckpointStore(path),
    });
    const whole = await train(KILL_DATA, KILL_OPTIONS);
    assertEquals(resumed.resumedEpochs, 1);
    const strip = (h: typeof whole.history) =>
      h.map((r) => [r.epoch, r.trainLoss, r.testAccuracy, r.testLoss]);
    assertEquals(strip(resumed.history), strip(whole.history));
    assertEquals(
      (await readMlpValues(resumed.params)).map((v) => Array.from(v)),
      (await readMlpValues(whole.params)).map((v) => Array.from(v)),
    );
    assertEquals(decodeCheckpoint(await Deno.readFile(path)).epoch, 3);
    disposeMlp(resumed.params);
    disposeMlp(whole.params);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
