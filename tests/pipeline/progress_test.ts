import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  formatBar,
  formatBytes,
  formatDuration,
  formatProgress,
  formatProgressDone,
  type ProgressState,
  RateMeter,
  shouldPrintPlain,
  wrapParts,
} from "../../pipeline/progress.ts";
import { briefReasons, TerminalRenderer } from "../../pipeline/cli/render.ts";
import type { PipelineEvent } from "../../pipeline/events.ts";
import { labelParallel } from "../../pipeline/cli/parallel_labels.ts";

Deno.test("formatBytes and formatDuration", () => {
  assertEquals(formatBytes(512), "512 B");
  assertEquals(formatBytes(1536), "1.5 KiB");
  assertEquals(formatBytes(3 * 1024 * 1024), "3.0 MiB");
  assertEquals(formatDuration(7), "0:07");
  assertEquals(formatDuration(62), "1:02");
  assertEquals(formatDuration(3723), "1:02:03");
});

Deno.test("formatBar fills in proportion to done/total", () => {
  assertEquals(formatBar(0, 10), "[>.........]");
  assertEquals(formatBar(0.5, 10), "[=====>....]");
  assertEquals(formatBar(1, 10), "[==========]");
  assertEquals(formatBar(2, 4), "[====]");
});

const state = (over: Partial<ProgressState>): ProgressState => ({
  label: "epoch 1/3",
  done: 50,
  total: 100,
  unit: "batch",
  fields: {},
  elapsedMs: 10_000,
  ...over,
});

Deno.test("formatProgress shows counts, rate, ETA and fields; bytes as MiB and MiB/s", () => {
  assertEquals(
    formatProgress(state({ fields: { loss: 0.41 } }), { bar: false }),
    "epoch 1/3  50/100 (50%)  5.00 batch/s  ETA 0:10  loss: 0.4100",
  );
  const bytes = state({
    label: "download",
    done: 2 * 1048576,
    total: 8 * 1048576,
    unit: "bytes",
    elapsedMs: 1000,
  });
  assertEquals(
    formatProgress(bytes, { bar: true, width: 4 }),
    "download  [=>..]  2.0 MiB/8.0 MiB  2.0 MiB/s  ETA 0:03",
  );
  assertEquals(
    formatProgressDone(state({ done: 100 }), "best 0.9"),
    "epoch 1/3  100/100  10.0 batch/s  10.0s  best 0.9",
  );
});

Deno.test("shouldPrintPlain: a line per quarter at most every 10 s, or after 30 s of slow progress", () => {
  const last = { fraction: 0.1, atMs: 0, done: 10 };
  const at = (done: number, nowMs: number) =>
    shouldPrintPlain(last, { state: state({ done }), nowMs });
  assertEquals(at(90, 9_999), false); // too soon, however far it got
  assertEquals(at(40, 10_000), true); // a quarter further after 10 s
  assertEquals(at(30, 10_000), false); // less than a quarter
  assertEquals(at(11, 30_000), true); // slow progress still shows every 30 s
  assertEquals(at(10, 60_000), false); // no progress, no line
});

function progressEvent(
  done: number,
  finished = false,
): Extract<PipelineEvent, { type: "progress" }> {
  return {
    type: "progress",
    instance: "train@0",
    id: 1,
    label: "epoch 1",
    done,
    total: 100,
    unit: "batch",
    fields: { loss: 1 },
    elapsedMs: 1000,
    finished,
  };
}

/** A plain (log file) renderer writing into `out`, on a clock (`now`, ms) the test moves. */
class Captured {
  out = "";
  now = 0;
  readonly renderer: TerminalRenderer;

  constructor() {
    this.renderer = new TerminalRenderer({
      write: (t) => (this.out += t),
      tty: false,
      color: false,
      now: () => this.now,
    });
  }

  /** Sends progress 1..count of one bar, moving the clock `stepMs` before each. */
  feed(count: number, stepMs: number): void {
    for (let done = 1; done <= count; done++) {
      this.now += stepMs;
      this.renderer.handle(progressEvent(done));
    }
  }
}

Deno.test("non-TTY renderer: a short bar prints only its final line, a long one a few", () => {
  const c = new Captured();
  c.feed(100, 10); // 1 s in all
  c.renderer.handle(progressEvent(100, true));
  assertEquals(c.out.trim().split("\n").length, 1);
  c.out = "";
  c.feed(100, 1000); // 100 s in all: a line per quarter, at most every 10 s
  c.renderer.handle(progressEvent(100, true));
  const lines = c.out.trim().split("\n");
  assert(lines.length >= 4 && lines.length <= 5, `${lines.length} lines`);
  assert(!c.out.includes("\r"), "no carriage returns in logs");
  assertMatch(lines.at(-1) ?? "", /epoch 1 {2}100\/100/);
});

Deno.test("non-TTY renderer, two instances at once: whole lines, no escapes, each labelled", () => {
  const c = new Captured();
  const handle = labelParallel((event) => c.renderer.handle(event));
  for (const instance of ["a@0", "b@0"]) {
    handle({ type: "start", instance, reasons: [] });
  }
  for (let done = 1; done <= 100; done++) {
    for (const instance of ["a@0", "b@0"]) {
      c.now += 500;
      handle({ ...progressEvent(done), instance, elapsedMs: done * 1000 });
    }
  }
  handle({ ...progressEvent(100, true), instance: "a@0" });
  handle({ type: "finish", instance: "a@0", outcome: "ran", seconds: 100 });
  handle({ ...progressEvent(100, true), instance: "b@0" });
  assert(
    !c.out.includes("\r") && !c.out.includes("\x1b"),
    JSON.stringify(c.out),
  );
  const lines = c.out.split("\n");
  assertEquals(lines.pop(), "");
  assertEquals(lines.slice(0, 2), ["running a@0", "running b@0"]);
  const bars = lines.slice(2, -3);
  assert(bars.length >= 6, bars.join("\n"));
  for (const line of bars) {
    assertMatch(
      line,
      /^ {2}[ab]@0 epoch 1 {2}\d+\/100 \(\d+%\) {2}1\.00 batch\/s/,
    );
  }
  assertMatch(lines.at(-3) ?? "", /^ {2}a@0 epoch 1 {2}100\/100 {2}/);
  assertEquals(lines.at(-2), "ran     a@0  100.00s");
  assertMatch(lines.at(-1) ?? "", /^ {2}b@0 epoch 1 {2}100\/100 {2}/);
});

Deno.test("colors only when asked (NO_COLOR turns them off in the CLI)", () => {
  const finish: PipelineEvent = {
    type: "finish",
    instance: "a",
    outcome: "ran",
    seconds: 1.5,
  };
  let plain = "";
  new TerminalRenderer({ write: (t) => (plain += t), tty: true, color: false })
    .handle(finish);
  assertEquals(plain, "ran     a  1.50s\n");
  let colored = "";
  new TerminalRenderer({ write: (t) => (colored += t), tty: true, color: true })
    .handle(finish);
  assert(colored.includes("\x1b[32mran"), "green ran");
});

Deno.test("briefReasons keeps the run log to one line per stage", () => {
  assertEquals(briefReasons([]), "");
  assertEquals(briefReasons([{ kind: "not-in-cache" }]), " (not in cache)");
  assertEquals(
    briefReasons(["a", "b", "c", "d"].map((file) => ({ kind: "code", file }))),
    " (code changed (a); code changed (b); +2 more)",
  );
});

Deno.test("RateMeter: no rate from the first update; the rate leaves out the warm-up", () => {
  // As the engine reports a training epoch: the bar is created after step 1 (so step 1 shows
  // ~0 ms), steps 2..5 are slow (kernels compile), then 10 ms per step.
  const meter = new RateMeter(1000);
  let elapsedMs = 0.05;
  meter.observe({ done: 1, elapsedMs });
  assertEquals(meter.rate(), null); // 1 step in 0.05 ms is not 20000 steps/s
  for (let done = 2; done <= 1000; done++) {
    elapsedMs += done <= 5 ? 500 : 10;
    meter.observe({ done, elapsedMs });
    const rate = meter.rate();
    if (rate !== null) {
      assert(rate > 90 && rate < 110, `step ${done}: ${rate} steps/s`);
    }
  }
  assert(meter.rate() !== null, "a rate once past the warm-up");
  // The average would have said ~44 steps/s, the first update 20000.
  assertEquals(Math.round(meter.rate()!), 100);
});

Deno.test("formatProgress fits the columns: bar shrinks, then rate, last fields, ETA, bar go", () => {
  const s = state({
    label: "epoch 10/10",
    done: 1234,
    total: 1875,
    unit: "steps",
    fields: { loss: 0.41234, accuracy: 0.85121, "samples/s": 3950 },
  });
  const wide = formatProgress(s, { bar: true, columns: 200, rate: 80 });
  assertEquals(
    wide,
    "epoch 10/10  [" + "=".repeat(19) + ">" + ".".repeat(10) + "]  1234/1875" +
      "  80.0 steps/s  ETA 0:08  loss: 0.4123  accuracy: 0.8512  samples/s: 3950",
  );
  for (let columns = 1; columns <= 140; columns++) {
    const line = formatProgress(s, { bar: true, columns, rate: 80 });
    assert(line.length <= columns, `${columns}: ${line}`);
  }
  const at78 = formatProgress(s, { bar: true, columns: 78, rate: 80 });
  assertMatch(at78, /^epoch 10\/10 {2}\[=+>\.+\] {2}1234\/1875 {2}ETA 0:08/);
  assertMatch(at78, /loss: 0\.4123 {2}accuracy: 0\.8512$/);
  assertEquals(
    formatProgress(s, { bar: true, columns: 12, rate: 80 }),
    "epoch 10/10…",
  );
});

Deno.test("wrapParts breaks between parts, then words, never past the columns", () => {
  assertEquals(wrapParts(["ab", "cd", "ef"], 6, "  "), ["ab  cd", "  ef"]);
  const long = wrapParts(
    ["epoch 1/10", "1875/1875", "test acc 86.12 %  test loss 0.3821"],
    24,
  );
  assertEquals(long, [
    "epoch 1/10  1875/1875",
    "    test acc 86.12 %",
    "    test loss 0.3821",
  ]);
});

Deno.test("a field sent only now and then keeps its last value until the bar ends", () => {
  const c = new Captured();
  const send = (
    done: number,
    fields: Record<string, number>,
    finished = false,
  ) => c.renderer.handle({ ...progressEvent(done, finished), fields });
  send(1, { loss: 0.9, "samples/s": 10 });
  send(2, { "samples/s": 12 }); // the loss was not read on this step
  send(2, { "samples/s": 12 }, true);
  assertMatch(c.out, /loss: 0\.9000 {2}samples\/s: 12\n$/);
  c.out = "";
  // A new bar starts without the old bar's fields.
  c.renderer.handle({ ...progressEvent(1, true), id: 2, fields: {} });
  assert(!c.out.includes("loss"), c.out);
});
