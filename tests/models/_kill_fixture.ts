/**
 * Run as a subprocess by kill_resume_test.ts: trains with a file checkpoint and kills
 * itself with SIGKILL right after the first epoch's checkpoint is written.
 *
 * Usage: deno run -A _kill_fixture.ts <checkpoint path>
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { fileCheckpointStore } from "../../models/checkpoint_store.ts";
import { train } from "../../models/trainer.ts";
import { KILL_DATA, KILL_OPTIONS } from "./_kill_settings.ts";

await tf.setBackend("cpu");
await train(KILL_DATA, {
  ...KILL_OPTIONS,
  checkpoint: fileCheckpointStore(Deno.args[0]),
  onEpoch: () => Deno.kill(Deno.pid, "SIGKILL"),
});
