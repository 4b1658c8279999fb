/**
 * Tests of the bench's pure parts: arguments, the job projection and table, the torch
 * wrapper's CPU time, and that `--help` works through the task's own flags. (Timings are
 * not tested: they live in `deno task bench`.)
 */
import { fileURLToPath } from "node:url";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../models/assert.ts";
import { BenchUsageError, parseBenchArgs, USAGE } from "../../bench/main.ts";
import {
  bestTorchRow,
  formatJobTable,
  type JobRow,
  projectedJobCpuSeconds,
  projectedJobSeconds,
  verdict,
} from "../../bench/job_table.ts";
import { pipelineRow, torchRow } from "../../bench/job_rows.ts";
import {
  describeOverlap,
  overlapSeconds,
  pipelineJobArgs,
  projectPipelineJob,
  type TrainingTiming,
  unionSeconds,
} from "../../bench/pipeline_job.ts";
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
  assertEquals(
    [args.torchTogether, args.pipeline, args.pipelineEpochs, args.jobs],
    [true, true, 1, null],
  );
  assertEquals(parseBenchArgs(["--epochs", "2"], ROOT).pipelineEpochs, 2);
  assertEquals(
    parseBenchArgs(["--pipeline-epochs", "10"], ROOT).pipelineEpochs,
    10,
  );
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
  const lean = parseBenchArgs(
    ["--no-pipeline", "--no-torch-together", "--jobs", "1"],
    ROOT,
  );
  assertEquals([lean.pipeline, lean.torchTogether, lean.jobs, lean.torch], [
    false,
    false,
    1,
    true,
  ]);
  assertEquals(parseBenchArgs(["--no-torch"], ROOT).torchTogether, false);
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
      [["--jobs", "0"], "--jobs"],
      [["--pipeline-epochs", "x"], "--pipeline-epochs"],
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
    torch: label.startsWith("PyTorch"),
    shape: { kind: "sequential" },
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
    "| ours native | 3.0 | 20000 | 4.0 | 15000 | 70 | 0.44x | 0.44x | 35 | 0.44x |",
  );
  assert(lines[3].endsWith("| 160 | 1.00x | 1.00x | 80 | 1.00x |"), lines[3]);
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
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
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

const jobRow = (
  label: string,
  shape: JobRow["shape"],
  baseline: number | null,
  rdrop: number | null,
): JobRow => ({
  label,
  torch: label.startsWith("PyTorch"),
  shape,
  epochSeconds: { baseline, rdrop },
  samplesPerSecond: { baseline: null, rdrop: null },
  cpuSeconds: { baseline, rdrop },
});

Deno.test("job shapes: one after the other sums, at once takes the slower, a whole run is its own time", () => {
  assertEquals(
    projectedJobSeconds(jobRow("a", { kind: "sequential" }, 5, 8), 10),
    130,
  );
  assertEquals(
    projectedJobSeconds(jobRow("b", { kind: "concurrent" }, 5.2, 8), 10),
    80,
  );
  // CPU adds up whether the trainings ran at once or not.
  assertEquals(
    projectedJobCpuSeconds(jobRow("b", { kind: "concurrent" }, 5, 8), 10),
    130,
  );
  const whole = jobRow(
    "p",
    {
      kind: "whole",
      jobSeconds: 46.4,
      jobCpuSeconds: null,
      projected: true,
    },
    null,
    null,
  );
  assertEquals(projectedJobSeconds(whole, 10), 46.4);
  assertEquals(projectedJobCpuSeconds(whole, 10), null);
  const table = formatJobTable([whole], { jobEpochs: 10, peer: null });
  assert(table.split("\n")[2].includes("| 46* |"), table);
});

Deno.test("bestTorchRow: the fastest PyTorch row for the job, never ours", () => {
  const rows = [
    jobRow("ours native", { kind: "sequential" }, 1, 1),
    jobRow("PyTorch 1 thread", { kind: "sequential" }, 4.9, 7.9),
    jobRow("PyTorch 2 threads", { kind: "sequential" }, 9, 12),
    jobRow("PyTorch two processes at once", { kind: "concurrent" }, 5.2, 8),
    jobRow("PyTorch broken", { kind: "sequential" }, null, 3),
  ];
  const best = bestTorchRow(rows, 10);
  assertEquals(best?.row.label, "PyTorch two processes at once");
  assertEquals(best?.seconds, 80);
  assertEquals(bestTorchRow(rows.slice(0, 1), 10), null);
  const table = formatJobTable(rows, { jobEpochs: 10, peer: rows[1] });
  // ours: 20 s = 0.16x of 128 s (1 thread) and 0.25x of 80 s (best).
  assert(table.includes("| 20 | 0.16x | 0.25x |"), table);
});

Deno.test("verdict: met only at <= 0.5x PyTorch 1 thread and faster than PyTorch's best", () => {
  const best = { label: "PyTorch two processes at once", seconds: 80 };
  const judge = (ours: number | null, one: number | null = 128) =>
    verdict({ ours, torchOneThread: one, torchBest: best, basis: null }, {
      maxRatio: 0.5,
    });
  const met = judge(46.4);
  assertEquals(met.met, true);
  assert(met.line.startsWith("target MET:"), met.line);
  assert(met.line.includes("0.36x PyTorch 1 thread"), met.line);
  assert(met.line.includes("0.58x PyTorch's best"), met.line);
  assertEquals(judge(64).met, true); // exactly 0.5x
  assertEquals(judge(65).met, false); // over half of 1 thread
  const notBest = verdict({
    ours: 60,
    torchOneThread: 128,
    torchBest: { label: "x", seconds: 60 },
    basis: "PyTorch projected from 1 epoch(s)",
  }, { maxRatio: 0.5 });
  assertEquals(notBest.met, false); // half of 1 thread, but not faster than the best
  assert(
    notBest.line.startsWith(
      "target NOT MET (PyTorch projected from 1 epoch(s)):",
    ),
    notBest.line,
  );
  const missing = judge(null);
  assertEquals(missing.met, null);
  assert(missing.line.includes("deno task pipeline"), missing.line);
  assertEquals(judge(40, null).met, null);
});

const training = (
  mode: "baseline" | "rdrop",
  start: number,
  end: number,
): TrainingTiming => ({
  instance: `train_${mode}@0`,
  mode,
  startSeconds: start,
  endSeconds: end,
  stageSeconds: end - start,
  trainSeconds: end - start - 1,
  samplesPerSecond: mode === "baseline" ? 8000 : 6000,
  backend: "native",
  blas: null,
});

Deno.test("unionSeconds and overlapSeconds", () => {
  assertEquals(unionSeconds([]), 0);
  assertEquals(unionSeconds([[2, 10], [3, 12]]), 10);
  assertEquals(unionSeconds([[5, 6], [1, 3]]), 3);
  assertEquals(unionSeconds([[1, 10], [2, 3], [9, 11]]), 10);
  assertEquals(overlapSeconds([2, 10], [3, 12]), 7);
  assertEquals(overlapSeconds([1, 3], [5, 6]), 0);
});

Deno.test("projectPipelineJob: fixed part + jobEpochs/epochs x the overlapped training window", () => {
  const trainings = [training("baseline", 4, 12), training("rdrop", 4.5, 14)];
  const oneEpoch = projectPipelineJob(
    { wallSeconds: 17, epochs: 1, trainings },
    10,
  );
  assertEquals(oneEpoch.trainingWindowSeconds, 10);
  assertEquals(oneEpoch.overlapSeconds, 7.5);
  assertEquals(oneEpoch.fixedSeconds, 7);
  assertEquals(oneEpoch.jobSeconds, 107);
  assertEquals(oneEpoch.projected, true);
  const twoEpochs = projectPipelineJob(
    { wallSeconds: 17, epochs: 2, trainings },
    10,
  );
  assertEquals(twoEpochs.jobSeconds, 57);
  // The default job itself: its wall time, nothing projected.
  const real = projectPipelineJob(
    { wallSeconds: 46.4, epochs: 10, trainings },
    10,
  );
  assertEquals([real.jobSeconds, real.projected], [46.4, false]);
  // One after the other: the window is both stages.
  const serial = projectPipelineJob({
    wallSeconds: 20,
    epochs: 1,
    trainings: [training("baseline", 2, 8), training("rdrop", 8, 16)],
  }, 10);
  assertEquals([serial.trainingWindowSeconds, serial.overlapSeconds], [14, 0]);
  assertEquals(serial.jobSeconds, 6 + 140);
});

Deno.test("describeOverlap and pipelineRow: the label says what ran, samples/s from run.json", () => {
  assertEquals(
    describeOverlap([training("baseline", 4, 12), training("rdrop", 4.2, 14)]),
    "both trainings at once",
  );
  assertEquals(
    describeOverlap([training("baseline", 2, 8), training("rdrop", 8, 16)]),
    "trainings one after the other",
  );
  assertEquals(
    describeOverlap([training("baseline", 0, 10), training("rdrop", 5, 15)]),
    "trainings 50 % at once",
  );
  const result = {
    ok: true as const,
    command: [],
    epochs: 1,
    wallSeconds: 17,
    cpuSeconds: 15,
    trainings: [training("baseline", 4, 12), training("rdrop", 4.5, 14)],
    output: "",
  };
  const row = pipelineRow(result, { jobEpochs: 10, jobs: null });
  assertEquals(
    row.label,
    "deno task pipeline, default --jobs (both trainings at once; native)",
  );
  assertEquals(row.samplesPerSecond, { baseline: 8000, rdrop: 6000 });
  assertEquals(projectedJobSeconds(row, 10), 107);
  // Projected: the whole run's CPU covers the fixed part too, so none is given.
  assertEquals(projectedJobCpuSeconds(row, 10), null);
  const real = pipelineRow({ ...result, epochs: 10 }, {
    jobEpochs: 10,
    jobs: 2,
  });
  assert(real.label.startsWith("deno task pipeline, --jobs 2 ("), real.label);
  assertEquals(
    [projectedJobSeconds(real, 10), projectedJobCpuSeconds(real, 10)],
    [17, 15],
  );
  const failed = pipelineRow(
    { ok: false, command: [], reason: "boom", output: "" },
    { jobEpochs: 10, jobs: null },
  );
  assertEquals(projectedJobSeconds(failed, 10), null);
});

Deno.test("the pipeline row's command is deno.json's pipeline task (its flags, not -A) plus ours", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  const words: string[] = config.tasks.pipeline.trim().split(/\s+/);
  const options = { epochs: 1, jobEpochs: 10, jobs: null };
  const args = await pipelineJobArgs(options);
  assertEquals(args, [...words.slice(1), "--set", "train.epochs=1"]);
  assert(!args.includes("-A") && !args.includes("--allow-all"), String(args));
  assert(args.some((a) => a.startsWith("--allow-ffi=")), String(args));
  // The default job itself adds no --set; --jobs is passed on.
  assertEquals(
    await pipelineJobArgs({ epochs: 10, jobEpochs: 10, jobs: 2 }),
    [...words.slice(1), "--jobs", "2"],
  );
  // Read from the config it is given, not copied: another task there, other flags.
  const dir = await Deno.makeTempDir({ prefix: "bench_task_" });
  try {
    const other = `${dir}/deno.json`;
    await Deno.writeTextFile(
      other,
      JSON.stringify({
        tasks: { pipeline: "deno run --allow-read=. entry.ts --quiet" },
      }),
    );
    assertEquals(await pipelineJobArgs(options, other), [
      "run",
      "--allow-read=.",
      "entry.ts",
      "--quiet",
      "--set",
      "train.epochs=1",
    ]);
    await Deno.writeTextFile(
      other,
      JSON.stringify({ tasks: { pipeline: "deno run -A stages/main.ts" } }),
    );
    const error = await assertRejects(() => pipelineJobArgs(options, other));
    assert(String(error).includes("-A"), String(error));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("torchRow: 'together' is the two 1-thread processes at once (job = the slower one)", () => {
  const summary = (mode: "baseline" | "rdrop", train: number) => ({
    ok: true as const,
    threads: 1,
    cpuSeconds: null,
    summary: {
      args: { mode, threads: 1 },
      train_s: train,
      train_cpu_s: train,
      eval_s: 0.5,
      samples_per_s: 60000 / train,
      final_test_acc: 0.85,
      torch: "2.x",
      epochs: [{
        epoch: 1,
        epoch_train_s: train,
        test_acc: 0.85,
        samples_per_s: 1,
      }],
    },
  });
  const results = [summary("baseline", 4.7), summary("rdrop", 7.5)];
  const together = torchRow("together", results, 60000);
  assertEquals(together.shape.kind, "concurrent");
  assertEquals(projectedJobSeconds(together, 10), 80);
  const oneThread = torchRow(1, results, 60000);
  assertEquals(oneThread.label, "PyTorch 1 thread");
  assertEquals(projectedJobSeconds(oneThread, 10), 132);
  assertEquals(torchRow(2, results, 60000).epochSeconds.baseline, null);
});
