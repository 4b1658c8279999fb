/** The WebGPU bench's table (the timings themselves are not tested). */
import { assertEquals, assertStringIncludes } from "../models/assert.ts";
import { formatWebGpuTable } from "../../bench/webgpu.ts";

Deno.test("formatWebGpuTable: one row per path and mode, whole counts as integers", () => {
  const table = formatWebGpuTable([
    {
      path: "tfjs ops (before)",
      mode: "baseline",
      steps: 6,
      samplesPerSecond: 250.54,
      msPerStep: 127.71,
      perStep: {
        dispatches: 130,
        submissions: 8.833,
        maps: 1 / 6,
        writes: 130,
      },
      meanLoss: 2.3,
    },
    {
      path: "fused (after)",
      mode: "baseline",
      steps: 200,
      samplesPerSecond: 701.4,
      msPerStep: 45.6,
      perStep: { dispatches: 8, submissions: 1, maps: 0.02, writes: 1 },
      meanLoss: 2.1,
    },
  ]);
  const lines = table.split("\n");
  assertEquals(lines.length, 4);
  assertStringIncludes(
    lines[2],
    "| tfjs ops (before) | baseline | 6 | 250.5 | 127.7 | 130 | 8.83 | 0.17 | 130 |",
  );
  assertStringIncludes(
    lines[3],
    "| fused (after) | baseline | 200 | 701.4 | 45.6 | 8 | 1 | 0.02 | 1 |",
  );
});
