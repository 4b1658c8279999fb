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
import { briefReasons, TerminalRenderer } from "../../pipeline/render.ts";
import type { PipelineEvent } from "../../pipeline/events.ts";

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

/** A renderer writing into `out`, on a clock (`now`, ms) the test moves by hand. */
class Captured {
  out = "";
  now = 0;
  readonly renderer: TerminalRenderer;

  constructor(tty: boolean, columns?: () => number | undefined) {
    this.renderer = new TerminalRenderer({
      write: (t) => (this.out += t),
      tty,
      color: false,
      now: () => this.now,
      // Never the width of the terminal the tests happen to run in.
      columns: columns ?? (() => undefined),
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
  const c = new Captured(false);
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

Deno.test("TTY renderer redraws in place, throttled, and keeps log lines above the bar", () => {
  const c = new Captured(true);
  c.feed(50, 10); // 500 ms in all, throttle 100 ms -> about 5 redraws
  const redraws = c.out.split("\r\x1b[K").length - 1;
  assert(redraws >= 4 && redraws <= 6, `${redraws} redraws`);
  c.renderer.handle({
    type: "log",
    instance: "train@0",
    line: "checkpoint saved",
  });
  assert(
    c.out.includes("\r\x1b[K  checkpoint saved\n  epoch 1  ["),
    "log line printed above a redrawn bar",
  );
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

Deno.test("TTY renderer: parallel bars share one line, oldest first, and each ends with its own line", () => {
  const c = new Captured(true);
  const bar = (
    id: number,
    label: string,
    done: number,
    finished = false,
  ): PipelineEvent => ({
    type: "progress",
    instance: "download",
    id,
    label,
    done,
    total: 10,
    unit: "bytes",
    fields: {},
    elapsedMs: 1000,
    finished,
  });
  c.renderer.handle(bar(1, "images", 1));
  c.now += 200;
  c.renderer.handle(bar(2, "labels", 5));
  assert(c.out.endsWith("(+1 more)"), c.out);
  assert(!c.out.includes("labels"), "the newer bar waits its turn");
  c.now += 200;
  c.renderer.handle(bar(1, "images", 10, true));
  assert(c.out.includes("  images  10 B/10 B"), "final line of the first bar");
  assert(
    c.out.endsWith(
      "\r\x1b[K  labels  [" + "=".repeat(15) + ">" + ".".repeat(14) +
        "]  5 B/10 B",
    ),
    c.out,
  );
});

Deno.test("briefReasons keeps the run log to one line per stage", () => {
  assertEquals(briefReasons([]), "");
  assertEquals(briefReasons(["never run"]), " (never run)");
  assertEquals(
    briefReasons(["a", "b", "c", "d"]),
    " (a; b; +2 more)",
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

/** Every line a terminal would show: split at newlines and carriage returns. */
function screenLines(out: string): string[] {
  return out.replaceAll("\x1b[K", "").split(/[\r\n]/).filter((l) => l !== "");
}

/** One training epoch as the train stage reports it, through a TTY renderer of `columns`. */
function renderEpoch(columns: () => number): Captured {
  const c = new Captured(true, columns);
  const total = 1875;
  const fields = (done: number) => ({
    loss: 2.3 / Math.sqrt(done),
    acc: 0.85,
    "samples/s": 2500,
  });
  const event = (done: number, elapsedMs: number, finished = false) => ({
    type: "progress" as const,
    instance: "train_rdrop@0",
    id: 7,
    label: "epoch 10/10",
    done,
    total,
    unit: "steps",
    fields: fields(done),
    elapsedMs,
    finished,
    summary: finished ? "test acc 86.12 %  test loss 0.3821" : undefined,
  });
  c.renderer.handle({
    type: "start",
    instance: "train_rdrop@0",
    reasons: ["never run"],
  });
  c.renderer.handle({
    type: "log",
    instance: "train_rdrop@0",
    line:
      "backend auto: wasm (no hardware WebGPU adapter: navigator.gpu offers only a software adapter, llvmpipe)",
  });
  for (let done = 1; done <= total; done++) {
    c.now += 12.8;
    c.renderer.handle(event(done, done * 12.8));
  }
  c.renderer.handle(event(total, total * 12.8, true));
  return c;
}

for (const columns of [80, 120]) {
  Deno.test(`TTY renderer at ${columns} columns: no line reaches the edge, loss and accuracy shown`, () => {
    const c = renderEpoch(() => columns);
    const lines = screenLines(c.out);
    for (const line of lines) {
      assert(line.length < columns, `${line.length} chars: ${line}`);
    }
    const bars = lines.filter((l) => l.includes("["));
    assert(bars.length > 10, `${bars.length} redraws`);
    for (const bar of bars) assertMatch(bar, /loss: \d\.\d{4} {2}acc: 0\.8500/);
    // Never an absurd first rate: the true rate is 1000/12.8 = 78 steps/s.
    for (const m of c.out.matchAll(/([\d.]+) steps\/s/g)) {
      const rate = Number(m[1]);
      assert(rate > 70 && rate < 90, `rate ${rate}`);
    }
    assert(c.out.includes("test loss 0.3821"), "the summary is kept, wrapped");
  });
}

Deno.test("TTY renderer follows a resized terminal at the next redraw", () => {
  let columns = 120;
  const c = new Captured(true, () => columns);
  for (let done = 1; done <= 50; done++) {
    c.now += 50;
    c.renderer.handle({
      ...progressEvent(done),
      fields: { loss: 0.5, accuracy: 0.75, extra: "a long field value" },
    });
    if (done === 25) {
      columns = 60;
      c.out = "";
    }
  }
  for (const line of screenLines(c.out)) {
    assert(line.length < 60, `${line.length}: ${line}`);
  }
});

Deno.test("breakLine: a message written around the renderer starts on its own line", () => {
  const c = new Captured(true);
  c.feed(10, 200);
  assert(!c.out.endsWith("\n"), "a bar is drawn, no newline after it");
  c.renderer.breakLine();
  c.out += "Ctrl-C: stopping the running stage\n"; // what the CLI writes to stderr
  c.feed(12, 200);
  const lines = c.out.split("\n");
  assert(
    lines.includes("Ctrl-C: stopping the running stage"),
    JSON.stringify(lines),
  );
  c.renderer.breakLine();
  c.renderer.breakLine(); // without an active bar: nothing
  assert(
    c.out.endsWith("]  12/100  loss: 1\n"),
    JSON.stringify(c.out.slice(-40)),
  );
});

Deno.test("a field sent only now and then keeps its last value until the bar ends", () => {
  const c = new Captured(false);
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
