/**
 * The TTY renderer as a user sees it: its output goes through a virtual terminal (vterm.ts) and
 * the tests assert the screen, not the bytes.
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import type { PipelineEvent } from "../../pipeline/events.ts";
import { labelParallel } from "../../pipeline/cli/parallel_labels.ts";
import { TerminalRenderer } from "../../pipeline/cli/render.ts";
import { VirtualTerminal } from "./vterm.ts";

/** A TTY renderer of a fake size on a fake clock, drawing on a virtual terminal. */
class Term {
  now = 0;
  size: { columns: number; rows: number };
  writes: string[] = [];
  readonly vt: VirtualTerminal;
  readonly renderer: TerminalRenderer;
  /** What the CLI passes events through: the renderer behind {@link labelParallel}. */
  readonly handle: (event: PipelineEvent) => void;

  constructor(
    options: { columns?: number; rows?: number; color?: boolean } = {},
  ) {
    this.size = { columns: options.columns ?? 120, rows: options.rows ?? 30 };
    this.vt = new VirtualTerminal(this.size);
    this.renderer = new TerminalRenderer({
      write: (text) => {
        this.writes.push(text);
        this.vt.write(text);
      },
      tty: true,
      color: options.color ?? false,
      now: () => this.now,
      columns: () => this.size.columns,
      rows: () => this.size.rows,
    });
    this.handle = labelParallel((event) => this.renderer.handle(event));
  }

  /** The lines on screen that show a progress bar. */
  bars(): string[] {
    return this.vt.screen().filter(isBar);
  }
}

function isBar(line: string): boolean {
  return /\[[=>.]+\]/.test(line);
}

/** A progress event of bar `id` of `instance`: `done` of `total` steps after `elapsedMs`. */
function progress(
  instance: string,
  done: number,
  options: {
    id?: number;
    label?: string;
    total?: number;
    elapsedMs?: number;
    finished?: boolean;
    fields?: Record<string, string | number>;
    summary?: string;
  } = {},
): PipelineEvent {
  const total = options.total ?? 1875;
  return {
    type: "progress",
    instance,
    id: options.id ?? 1,
    label: options.label ?? "epoch 1/1",
    done,
    total,
    unit: "steps",
    fields: options.fields ?? { loss: 0.5, acc: 0.85 },
    elapsedMs: options.elapsedMs ?? done * 12.8,
    finished: options.finished ?? false,
    summary: options.summary,
  };
}

const A = "train_baseline@0";
const B = "train_rdrop@0";

/** Both trainings started, then `steps` steps of each, interleaved, 12.8 ms a step each. */
function twoTrainings(term: Term, steps: number): void {
  term.handle({
    type: "start",
    instance: A,
    reasons: [{ kind: "not-in-cache" }],
  });
  term.handle({
    type: "start",
    instance: B,
    reasons: [{ kind: "not-in-cache" }],
  });
  for (let done = 1; done <= steps; done++) {
    term.now += 6.4;
    term.handle(progress(A, done));
    term.now += 6.4;
    term.handle(progress(B, done));
  }
}

Deno.test("two parallel trainings: both bars on screen at once, a line each, under the log", () => {
  const term = new Term({ color: true });
  twoTrainings(term, 300);
  const screen = term.vt.screen();
  assertEquals(screen.length, 4, screen.join("\n"));
  assertMatch(screen[0], /^running train_baseline@0 \(not in cache\)$/);
  assertMatch(screen[1], /^running train_rdrop@0 \(not in cache\)$/);
  assertMatch(
    screen[2],
    /^ {2}train_baseline@0 epoch 1\/1 {2}\[=+>\.+\] {2}\d+\/1875 {2}[\d.]+ steps\/s {2}ETA 0:\d\d {2}loss: 0\.5000 {2}acc: 0\.8500$/,
  );
  assertMatch(
    screen[3],
    /^ {2}train_rdrop@0 epoch 1\/1 {5}\[=+>\.+\] {2}\d+\/1875/,
  );
  // Labels padded to one width: the bars start in one column.
  assertEquals(screen[2].indexOf("["), screen[3].indexOf("["));
  // The cursor rests at the end of the last bar (so a newline there never leaves a blank line).
  assertEquals(term.vt.cursor, { row: 3, col: screen[3].length });
  // A log line goes above the bars; they are redrawn below it, nothing is left behind.
  term.handle({ type: "log", instance: B, line: "checkpoint saved" });
  term.now += 6.4;
  term.handle(progress(A, 301));
  const after = term.vt.history();
  assertEquals(after[2], "  [train_rdrop@0] checkpoint saved");
  assertEquals(after.length, 5, after.join("\n"));
  assertEquals(after.slice(3).map((l) => l.split(" epoch")[0]), [
    `  ${A}`,
    `  ${B}`,
  ]);
  assertEquals(term.vt.clippedMoves, 0);
});

Deno.test("TTY bars redraw in place, throttled (100 ms), whatever the number of bars", () => {
  const term = new Term();
  twoTrainings(term, 40); // 512 ms of events, 80 of them
  const redraws = term.writes.filter((w) => w.includes("/1875")).length;
  assert(redraws >= 5 && redraws <= 7, `${redraws} redraws`);
  assertEquals(term.vt.history().filter(isBar).length, 2);
});

Deno.test("a training that ends leaves the other's bar live, rate and all; none left after both", () => {
  const term = new Term();
  twoTrainings(term, 1000);
  term.now += 6.4;
  term.handle(
    progress(A, 1875, { finished: true, summary: "test acc 85.00 %" }),
  );
  term.handle({ type: "finish", instance: A, outcome: "ran", seconds: 24 });
  const screen = term.vt.screen();
  assertMatch(
    screen.at(-3) ?? "",
    /^ {2}train_baseline@0 epoch 1\/1 {2}1875\/1875 .*test acc 85\.00 %$/,
  );
  assertEquals(screen.at(-2), "ran     train_baseline@0  24.00s");
  assertMatch(
    screen.at(-1) ?? "",
    /^ {2}train_rdrop@0 epoch 1\/1 {2}\[=+>\.+\] {2}1000\/1875 {2}78\.1 steps\/s {2}ETA 0:11/,
  );
  assertEquals(term.bars().length, 1);
  // The next redraw keeps the rate measured so far (the other stage's end does not reset it).
  term.now += 200;
  term.handle(progress(B, 1001));
  assertMatch(term.bars()[0], /1001\/1875 {2}78\.\d steps\/s/);
  term.handle(progress(B, 1875, { finished: true }));
  term.handle({ type: "finish", instance: B, outcome: "ran", seconds: 25 });
  const history = term.vt.history();
  assertEquals(history.filter(isBar), []);
  assertEquals(history.at(-1), "ran     train_rdrop@0  25.00s");
  assertEquals(term.vt.cursor.col, 0);
  assertEquals(term.vt.cursor.row, term.vt.screen().length);
});

Deno.test("a failed stage takes its bars with it; the summary clears every bar", () => {
  const term = new Term();
  twoTrainings(term, 50);
  term.handle({
    type: "failed",
    instance: B,
    error: new Error("out of memory"),
    seconds: 1,
  });
  assertEquals(term.bars().map((l) => l.split(" epoch")[0]), [`  ${A}`]);
  assertEquals(
    term.vt.screen().filter((l) => l.includes("out of memory")).length,
    1,
  );
  term.handle({ type: "summary", lines: ["1 failed"] });
  assertEquals(term.vt.history().filter(isBar), []);
  assertEquals(term.vt.screen().at(-1), "1 failed");
});

Deno.test("more bars than the terminal has lines: capped, the last says how many more", () => {
  const term = new Term({ columns: 80, rows: 8 });
  const names = Array.from({ length: 10 }, (_, i) => `sweep@${i}`);
  for (const name of names) {
    term.handle({ type: "start", instance: name, reasons: [] });
  }
  for (let done = 1; done <= 20; done++) {
    for (const name of names) {
      term.now += 20;
      term.handle(progress(name, done));
    }
  }
  let bars = term.bars();
  assertEquals(bars.length, 6); // 8 rows less a margin of 2
  assertMatch(bars[0], /^ {2}sweep@0 epoch/);
  assertMatch(
    bars[5],
    /^ {2}sweep@5 epoch .*\] {2}20\/1875.* {2}\(\+4 more\)$/,
  );
  for (const line of term.vt.history()) assert(line.length < 80, line);
  // Bars that end make room for the hidden ones; the count goes, then the region shrinks.
  for (const name of names.slice(0, 5)) {
    term.handle(progress(name, 1875, { finished: true }));
    term.handle({ type: "finish", instance: name, outcome: "ran", seconds: 1 });
  }
  bars = term.bars();
  assertEquals(
    bars.map((l) => l.split(" epoch")[0]),
    names.slice(5).map((n) => `  ${n}`),
  );
  assert(!bars.some((l) => l.includes("more")), bars.join("\n"));
  for (const name of names.slice(5)) {
    term.handle({ type: "interrupted", instance: name });
  }
  assertEquals(term.vt.history().filter(isBar), []);
  assertEquals(term.vt.clippedMoves, 0);
  // Nothing that was printed for good was drawn over: every done and ran line is readable.
  const history = term.vt.history();
  for (const name of names.slice(0, 5)) {
    assert(history.includes(`ran     ${name}  1.00s`), name);
  }
});

for (const columns of [100, 60, 30, 14]) {
  Deno.test(`TTY bars at ${columns} columns: each fits on its line, none wraps or garbles`, () => {
    const term = new Term({ columns });
    twoTrainings(term, 200);
    term.handle({ type: "log", instance: A, line: "a log line ".repeat(12) });
    term.now += 200;
    term.handle(progress(B, 201));
    const screen = term.vt.screen();
    const live = screen.slice(-2);
    for (const line of live) {
      // Two columns to spare: the "^C" a terminal echoes on Ctrl-C must not wrap the line.
      assert(line.length <= columns - 3, `${line.length}: ${line}`);
    }
    // Each line starts with its instance however narrow (the rest is cut, not wrapped), and
    // each is on screen once: no copy left over from an earlier redraw.
    const starts = (name: string) => `  ${name}`.slice(0, columns - 4);
    assert(live[0].startsWith(starts(A)), live[0]);
    assert(live[1].startsWith(starts(B)), live[1]);
    const history = term.vt.history();
    for (const name of [A, B]) {
      assertEquals(history.filter((l) => l.startsWith(starts(name))).length, 1);
    }
    assertMatch(screen.at(-3) ?? "", /\b(log|line)$/); // the end of the log line
    // Permanent lines wrap at 20 columns at the least (narrower, the terminal wraps them).
    if (columns > 20) {
      for (const line of history) {
        assert(line.length < columns, `${line.length}: ${line}`);
      }
    }
    assertEquals(term.vt.clippedMoves, 0);
  });
}

Deno.test("TTY bars follow a resized terminal at the next redraw", () => {
  const term = new Term({ columns: 120 });
  twoTrainings(term, 100);
  term.size.columns = 60;
  term.now += 200;
  term.handle(progress(A, 101));
  const bars = term.bars();
  assertEquals(bars.length, 2);
  for (const line of bars) assert(line.length < 60, `${line.length}: ${line}`);
});

Deno.test("Ctrl-C: the message starts on its own line under intact bars; the bars end cleanly", () => {
  const term = new Term();
  twoTrainings(term, 100);
  const before = term.bars();
  term.renderer.breakLine();
  term.vt.write("Ctrl-C: stopping the running stages\n"); // the CLI, on stderr
  // Workers may still report before they stop.
  term.now += 200;
  term.handle(progress(A, 101));
  term.handle({ type: "interrupted", instance: A });
  term.handle({ type: "interrupted", instance: B });
  const history = term.vt.history();
  const at = history.indexOf("Ctrl-C: stopping the running stages");
  assert(at > 0, history.join("\n"));
  assertEquals(history.slice(at - 2, at), before);
  assertEquals(history.slice(at + 1).filter(isBar), []);
  assertEquals(history.slice(at + 1).map((l) => l.split(":")[0]), [
    "interrupted",
    "interrupted",
  ]);
  term.renderer.breakLine(); // no bars: nothing written
  assertEquals(term.vt.history(), history);
});

Deno.test("a bar that ends prints its final line above the others and frees its line", () => {
  const term = new Term();
  term.handle({ type: "start", instance: "download", reasons: [] });
  for (
    const [id, label] of [[1, "images"], [2, "labels"], [
      3,
      "checksums",
    ]] as const
  ) {
    term.now += 200;
    term.handle(progress("download", 1, { id, label, total: 10 }));
  }
  assertEquals(term.bars().length, 3);
  term.handle(
    progress("download", 10, {
      id: 2,
      label: "labels",
      total: 10,
      finished: true,
    }),
  );
  const screen = term.vt.screen();
  assertEquals(screen.length, 4, screen.join("\n"));
  assertMatch(screen[1], /^ {2}labels {2}10\/10 /);
  assertEquals(screen.slice(2).map((l) => l.trim().split(" ")[0]), [
    "images",
    "checksums",
  ]);
});

Deno.test("capped on a narrow terminal: the line with the count still fits", () => {
  const term = new Term({ columns: 12, rows: 4 });
  for (let id = 1; id <= 5; id++) {
    term.now += 200;
    term.handle(progress("sweep@0", 10, { id, label: `bar ${id}` }));
  }
  const live = term.vt.screen();
  assertEquals(live.length, 2, live.join("\n"));
  for (const line of live) assert(line.length < 12, `${line.length}: ${line}`);
  assertEquals(term.vt.clippedMoves, 0);
});

for (const columns of [80, 120]) {
  Deno.test(`a training epoch at ${columns} columns: loss and accuracy shown, a sane rate, the summary kept`, () => {
    const term = new Term({ columns });
    term.handle({
      type: "start",
      instance: B,
      reasons: [{ kind: "not-in-cache" }],
    });
    term.handle({
      type: "log",
      instance: B,
      line:
        "backend auto: wasm (no hardware WebGPU adapter: navigator.gpu offers only a software adapter, llvmpipe)",
    });
    const fields = (done: number) => ({
      loss: 2.3 / Math.sqrt(done),
      acc: 0.85,
      "samples/s": 2500,
    });
    let shown = 0;
    for (let done = 1; done <= 1875; done++) {
      term.now += 12.8;
      term.handle(progress(B, done, { fields: fields(done) }));
      const bars = term.bars();
      assert(bars.length <= 1, bars.join("\n"));
      if (bars.length === 1 && done % 100 === 0) {
        shown++;
        assertMatch(bars[0], /loss: \d\.\d{4} {2}acc: 0\.8500/);
        // Never an absurd rate: the true one is 1000/12.8 = 78 steps/s.
        for (const m of bars[0].matchAll(/([\d.]+) steps\/s/g)) {
          assert(Number(m[1]) > 70 && Number(m[1]) < 90, bars[0]);
        }
      }
    }
    assert(shown >= 18, `${shown}`);
    term.handle(
      progress(B, 1875, {
        finished: true,
        fields: fields(1875),
        summary: "test acc 86.12 %  test loss 0.3821",
      }),
    );
    const history = term.vt.history();
    for (const line of history) {
      assert(line.length < columns, `${line.length}: ${line}`);
    }
    assert(history.some((l) => l.includes("test loss 0.3821")), "summary");
    assertEquals(history.filter(isBar), []);
  });
}
