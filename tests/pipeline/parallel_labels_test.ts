import { assertEquals } from "../assert.ts";
import type { PipelineEvent } from "../../pipeline/events.ts";
import { labelParallel } from "../../pipeline/cli/parallel_labels.ts";

function progress(instance: string): PipelineEvent {
  return {
    type: "progress",
    instance,
    id: 1,
    finished: false,
    label: "epoch 1/1",
    done: 1,
    total: 2,
    unit: "it",
    fields: {},
    elapsedMs: 10,
  };
}

Deno.test("log lines and bars name their instance only while several instances run", () => {
  const seen: PipelineEvent[] = [];
  const handle = labelParallel((event) => seen.push(event));
  handle({ type: "start", instance: "a", reasons: [] });
  handle({ type: "log", instance: "a", line: "alone" });
  handle({ type: "start", instance: "b", reasons: [] });
  handle({ type: "log", instance: "a", line: "both" });
  handle(progress("b"));
  handle({ type: "finish", instance: "a", outcome: "ran", seconds: 1 });
  handle({ type: "log", instance: "b", line: "still labelled" });
  handle({ type: "failed", instance: "b", error: new Error("x"), seconds: 1 });
  handle({ type: "start", instance: "c", reasons: [] });
  handle({ type: "log", instance: "c", line: "alone again" });
  const lines = seen.flatMap((e) =>
    e.type === "log" ? [e.line] : e.type === "progress" ? [e.label] : []
  );
  assertEquals(lines, [
    "alone",
    "[a] both",
    "b epoch 1/1",
    "[b] still labelled",
    "alone again",
  ]);
});
