import { assertEquals } from "../assert.ts";
import {
  readWorkerEvents,
  type WireEvent,
  wireLine,
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
