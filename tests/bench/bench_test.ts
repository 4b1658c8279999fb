/**
 * Tests of the bench's pure parts: argument parsing, ratios, projections, batching and the
 * parsing of the torch wrapper's CPU time. (The timings themselves are not tested.)
 */
import { assert, assertAlmostEquals, assertEquals } from "../models/assert.ts";
import {
  BenchUsageError,
  formatTable,
  parseBenchArgs,
  projectedJobSeconds,
  timeRatio,
} from "../../bench/main.ts";
import { batchAt, syntheticData } from "../../bench/measure.ts";
import { defaultTorchScript, parseRusage } from "../../bench/torch.ts";

const ROOT = new URL("file:///work/main/");

Deno.test("parseBenchArgs: defaults and the torch script next to the repository", () => {
  const args = parseBenchArgs([], ROOT);
  assertEquals(args.steps, 300);
  assertEquals(args.backends, ["wasm", "cpu"]);
  assertEquals(args.modes, ["baseline", "rdrop"]);
  assertEquals(args.torchThreads, [2]);
  assertEquals(args.torchEpochs, 1);
  assertEquals(args.torchScript, "/work/shared/bench/torch_reference.py");
  assertEquals(
    defaultTorchScript(new URL("file:///a/b/")),
    "/a/shared/bench/torch_reference.py",
  );
  const full = parseBenchArgs(
    ["--full", "--webgpu", "--torch-threads", "2,1"],
    ROOT,
  );
  assertEquals(full.torchEpochs, 10, "--full runs torch for the whole job");
  assertEquals(full.backends, ["wasm", "cpu", "webgpu"]);
  assertEquals(full.torchThreads, [2, 1]);
});

Deno.test("parseBenchArgs: bad values are usage errors naming the option", () => {
  for (
    const argv of [["--steps", "0"], ["--backends", "tpu"], ["--modes", "x"], [
      "--nope",
    ], [
      "--torch-threads",
      "2,a",
    ]]
  ) {
    let error: unknown = null;
    try {
      parseBenchArgs(argv, ROOT);
    } catch (e) {
      error = e;
    }
    assert(error instanceof BenchUsageError, `${argv.join(" ")} is refused`);
  }
});

Deno.test("timeRatio and projectedJobSeconds", () => {
  assertAlmostEquals(timeRatio(1000, 3000)!, 3, 1e-12, "3x slower than torch");
  assertEquals(timeRatio(1000, null), null);
  // 60000 samples x 10 epochs at 1000/s and 500/s: 600 + 1200 s.
  assertAlmostEquals(
    projectedJobSeconds({ baseline: 1000, rdrop: 500 }, 60000, 10)!,
    1800,
    1e-9,
  );
  assertEquals(
    projectedJobSeconds({ baseline: 1000, rdrop: null }, 60000, 10),
    null,
  );
  const table = formatTable([{
    backend: "wasm",
    mode: "rdrop",
    steps: 10,
    oursSamplesPerSecond: 1000,
    oursCpuSamplesPerSecond: 900,
    torchSamplesPerSecond: null,
    ratio: null,
  }]);
  assert(
    table.includes("| wasm | rdrop | 10 | 1000 | 900 | n/a | n/a |"),
    table,
  );
});

Deno.test("batchAt wraps around epochs and keeps the last partial batch", () => {
  assertEquals(batchAt(0, 100, 32), { start: 0, size: 32 });
  assertEquals(batchAt(3, 100, 32), { start: 96, size: 4 });
  assertEquals(batchAt(4, 100, 32), { start: 0, size: 32 });
  const data = syntheticData(10, 1);
  assertEquals(data.images.length, 7840);
  assert(data.labels.every((l) => l >= 0 && l < 10), "labels in 0..9");
});

Deno.test("parseRusage reads the wrapper's line", () => {
  assertEquals(parseRusage("epoch 1 ...\nBENCH_RUSAGE 12.500000\n"), 12.5);
  assertEquals(parseRusage("no such line"), null);
});
