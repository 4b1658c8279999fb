/**
 * Tests of the bench's pure parts: arguments, the job projection and table, the torch
 * wrapper's CPU time, and that `--help` works through the task's own flags. (Timings are
 * not tested: they live in `deno task bench`.)
 */
import { assert, assertEquals, assertThrows } from "../models/assert.ts";
import {
  BenchUsageError,
  formatJobTable,
  type JobRow,
  parseBenchArgs,
  projectedJobCpuSeconds,
  projectedJobSeconds,
  USAGE,
} from "../../bench/main.ts";
import { defaultTorchScript, parseRusage } from "../../bench/torch.ts";
import { processCpuSeconds } from "../../bench/ours.ts";

const ROOT = new URL("file:///work/repo/");

Deno.test("parseBenchArgs: defaults (1 epoch, native and wasm, PyTorch 1 and 2 threads, our script)", () => {
  const args = parseBenchArgs([], ROOT);
  assertEquals(args.epochs, 1);
  assertEquals(args.backends, ["native", "wasm"]);
  assertEquals(args.modes, ["baseline", "rdrop"]);
  assertEquals(args.torchThreads, [1, 2]);
  assertEquals(args.blasThreads, 1);
  assertEquals(args.torch, true);
  assertEquals(args.torchScript, "/work/repo/bench/torch_reference.py");
  assertEquals(defaultTorchScript(ROOT), "/work/repo/bench/torch_reference.py");
  assertEquals([args.webgpu, args.webgpuSteps, args.fusedSteps], [
    false,
    8,
    300,
  ]);
  const more = parseBenchArgs(
    ["--epochs", "2", "--backends", "wasm,webgpu", "--no-torch"],
    ROOT,
  );
  assertEquals([more.epochs, more.backends, more.torch], [
    2,
    ["wasm", "webgpu"],
    false,
  ]);
  const gpu = parseBenchArgs(["--webgpu", "--fused-steps", "50"], ROOT);
  assertEquals([gpu.webgpu, gpu.webgpuSteps, gpu.fusedSteps], [true, 8, 50]);
});

Deno.test("parseBenchArgs: bad values are usage errors naming the option", () => {
  for (
    const [argv, name] of [
      [["--epochs", "0"], "--epochs"],
      [["--backends", "tpu"], "--backends"],
      [["--modes", ""], "--modes"],
      [["--torch-threads", "1,x"], "--torch-threads"],
      [["--nope"], "--nope"],
    ] as const
  ) {
    const error = assertThrows(() => parseBenchArgs([...argv], ROOT));
    assert(error instanceof BenchUsageError, String(error));
    assert((error as Error).message.includes(name), (error as Error).message);
  }
});

Deno.test("projectedJobSeconds and the table: job = epochs x (baseline + R-Drop), ratio to PyTorch 1 thread", () => {
  const row = (label: string, b: number | null, r: number | null): JobRow => ({
    label,
    epochSeconds: { baseline: b, rdrop: r },
    samplesPerSecond: { baseline: b && 60000 / b, rdrop: r && 60000 / r },
    cpuSeconds: { baseline: b && b / 2, rdrop: r && r / 2 },
  });
  const ours = row("ours native", 3, 4);
  const torch = row("PyTorch 1 thread", 6, 10);
  assertEquals(projectedJobSeconds(ours, 10), 70);
  assertEquals(projectedJobCpuSeconds(ours, 10), 35);
  assertEquals(projectedJobSeconds(row("half", 3, null), 10), null);
  const table = formatJobTable([ours, torch], { jobEpochs: 10, peer: torch });
  const lines = table.split("\n");
  assertEquals(lines.length, 4);
  assertEquals(
    lines[2],
    "| ours native | 3.0 | 20000 | 4.0 | 15000 | 70 | 0.44x | 35 | 0.44x |",
  );
  assert(lines[3].endsWith("| 160 | 1.00x | 80 | 1.00x |"), lines[3]);
});

Deno.test("parseRusage reads the wrapper's line", () => {
  assertEquals(parseRusage("epoch 1 ...\nBENCH_RUSAGE 12.500000\n"), 12.5);
  assertEquals(parseRusage("no such line"), null);
});

Deno.test("deno task bench --help prints the usage with the task's own permissions", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  const task: string = config.tasks.bench;
  const args = task.split(/\s+/).slice(1); // drop "deno"
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...args, "--help"],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
  assertEquals(text.trim(), USAGE.trim());
  assert(!task.includes(" -A") && !/--allow-ffi(\s|$)/.test(task), task);
});

Deno.test("processCpuSeconds grows with work done", () => {
  const before = processCpuSeconds();
  let x = 0;
  const until = performance.now() + 80;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const after = processCpuSeconds();
  assert(
    Number.isFinite(before) && after > before,
    `${before} -> ${after} (${x > 0})`,
  );
});
