import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  formatBar,
  formatBytes,
  formatDuration,
  formatProgress,
  formatProgressDone,
  type ProgressState,
  shouldPrintPlain,
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

function progressEvent(done: number, finished = false): PipelineEvent {
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

  constructor(tty: boolean) {
    this.renderer = new TerminalRenderer({
      write: (t) => (this.out += t),
      tty,
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
        "]  5 B/10 B  5 B/s  ETA 0:01",
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
