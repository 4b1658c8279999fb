import { assertEquals } from "../assert.ts";
import {
  readWorkerEvents,
  type WireEvent,
  wireLine,
  wireSender,
} from "../../pipeline/executor/wire.ts";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

Deno.test("a worker's lines come back as events only when they are whole, valid events", async () => {
  const progress = wireLine({
    type: "progress",
    instance: "train@0",
    id: 1,
    finished: false,
    label: "epoch 1/2",
    done: 10,
    total: 157,
    unit: "steps",
    fields: { loss: 0.5, acc: "80 %" },
    elapsedMs: 120,
  }) as string;
  const lines = [
    progress,
    JSON.stringify({ type: "progress", instance: "train@0", done: "ten" }),
    "plain text a stage printed",
    JSON.stringify({ type: "reboot" }),
    JSON.stringify({ type: "done", outcome: "ran" }),
  ];
  // Split mid-line, as pipes do; the last line has no newline.
  const text = lines.join("\n");
  const events: WireEvent[] = [];
  await readWorkerEvents(
    streamOf([text.slice(0, 17), text.slice(17, 90), text.slice(90)]),
    "train@0",
    (event) => events.push(event),
  );
  assertEquals(events.map((e) => e.type), [
    "progress",
    "log",
    "log",
    "log",
    "done",
  ]);
  assertEquals(events[0], JSON.parse(progress));
  assertEquals(events[1], { type: "log", instance: "train@0", line: lines[1] });
  assertEquals(events[2], { type: "log", instance: "train@0", line: lines[2] });
  assertEquals(events[4], { type: "done", outcome: "ran" });
});

Deno.test("a worker sends a bar's progress at most every 50 ms, and always its final event", () => {
  const lines: string[] = [];
  let clock = 0;
  const send = wireSender((line) => lines.push(line), { now: () => clock });
  const step = (instance: string, done: number, finished = false) =>
    send({
      type: "progress",
      instance,
      id: 1,
      finished,
      label: "epoch 1/1",
      done,
      total: 100,
      unit: "steps",
      // Accuracy only now and then (as the trainer reads it every few steps).
      fields: done === 30 ? { loss: done, acc: "80 %" } : { loss: done },
      elapsedMs: clock,
    });
  for (let done = 1; done <= 100; done++) {
    step("a", done);
    step("b", done);
    clock += 2; // 500 steps a second
  }
  step("a", 100, true);
  send({ type: "log", instance: "a", line: "kept" });
  const sent = lines.map((line) => JSON.parse(line));
  const of = (instance: string) =>
    sent.filter((e) => e.type === "progress" && e.instance === instance);
  // 200 ms of steps: one event per 50 ms per bar (t = 0, 50, 100, 150), each bar on its own.
  assertEquals(of("b").map((e) => e.done), [1, 26, 51, 76]);
  assertEquals(of("a").map((e) => e.done), [1, 26, 51, 76, 100]);
  assertEquals(of("a").at(-1).finished, true);
  // The dropped step 30 had the accuracy: the next event sent carries it, and so does the last.
  assertEquals(of("b").map((e) => e.fields.acc), [
    undefined,
    undefined,
    "80 %",
    "80 %",
  ]);
  assertEquals(of("a").at(-1).fields, { loss: 100, acc: "80 %" });
  assertEquals(sent.at(-1), { type: "log", instance: "a", line: "kept" });
  // Events that are not sent (plan, start) stay unsent.
  send({ type: "interrupted", instance: "a" });
  assertEquals(lines.length, sent.length);
});
