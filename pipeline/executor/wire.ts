/**
 * What a worker tells its coordinator: one JSON event per line on stdout (log, progress,
 * warning, and at the end `failed` or `done`). Errors cross as their message only, so a failed
 * worker prints like a failed in-process stage, without a stack.
 *
 * @module
 */
import { z } from "zod";
import { errorMessage } from "../errors.ts";
import type { PipelineEvent } from "../events.ts";
import type { ExecTask, JobSpec } from "./mod.ts";

/** An event as it crosses the process boundary. */
export type WireEvent =
  | Extract<PipelineEvent, { type: "log" | "progress" | "warning" }>
  | { type: "failed"; message: string }
  | { type: "done"; outcome: "ran" | "cached" };

/** A wire event as read back: what a worker may send, checked field by field. */
const WireEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("log"), instance: z.string(), line: z.string() }),
  z.object({
    type: z.literal("progress"),
    instance: z.string(),
    id: z.number(),
    finished: z.boolean(),
    summary: z.string().optional(),
    label: z.string(),
    done: z.number(),
    total: z.number(),
    unit: z.string(),
    fields: z.record(z.string(), z.union([z.string(), z.number()])),
    elapsedMs: z.number(),
  }),
  z.object({
    type: z.literal("warning"),
    instance: z.string().optional(),
    message: z.string(),
  }),
  z.object({ type: z.literal("failed"), message: z.string() }),
  z.object({ type: z.literal("done"), outcome: z.enum(["ran", "cached"]) }),
]) satisfies z.ZodType<WireEvent>;

/** The line a worker prints for `event` (undefined: not sent). */
export function wireLine(event: PipelineEvent): string | undefined {
  switch (event.type) {
    case "log":
    case "progress":
    case "warning":
      return JSON.stringify(event);
    case "failed":
      return JSON.stringify({
        type: "failed",
        message: errorMessage(event.error),
      });
    default:
      return undefined;
  }
}

/**
 * A worker's event writer: each event as its {@link wireLine}, except that a bar's progress is
 * sent at most every `minIntervalMs` (default 50). A training reports after every step, hundreds
 * of times a second, while the terminal redraws ten times a second. A step reports only the
 * fields it has (loss and accuracy every few steps), so each event sent carries every field the
 * bar has reported so far, and a bar's final event is always sent: nothing shown is lost.
 */
export function wireSender(
  write: (line: string) => void,
  options: { minIntervalMs?: number; now?: () => number } = {},
): (event: PipelineEvent) => void {
  const minIntervalMs = options.minIntervalMs ?? 50;
  const now = options.now ?? (() => performance.now());
  const bars = new Map<
    string,
    { sentAt: number; fields: Record<string, string | number> }
  >();
  return (event) => {
    if (event.type === "progress") {
      const key = `${event.instance}#${event.id}`;
      const bar = bars.get(key) ?? { sentAt: -Infinity, fields: {} };
      bar.fields = { ...bar.fields, ...event.fields };
      bars.set(key, bar);
      const at = now();
      if (event.finished) bars.delete(key);
      else if (at - bar.sentAt < minIntervalMs) return;
      else bar.sentAt = at;
      event = { ...event, fields: bar.fields };
    }
    const line = wireLine(event);
    if (line !== undefined) write(line + "\n");
  };
}

/**
 * Reads a worker's stdout line by line; each line is checked against the event schema, and a
 * line that is not a valid event becomes a log line of `instance`.
 */
export async function readWorkerEvents(
  stream: ReadableStream<Uint8Array>,
  instance: string,
  onEvent: (event: WireEvent) => void,
): Promise<void> {
  const lines = stream.pipeThrough(new TextDecoderStream());
  let buffered = "";
  const handle = (line: string) => {
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      // Not JSON: a stage printed directly.
    }
    const event = WireEventSchema.safeParse(json);
    // Anything that is not a whole event (a stage's own output) is shown as it came.
    onEvent(event.success ? event.data : { type: "log", instance, line });
  };
  for await (const chunk of lines) {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    for (const line of parts) handle(line);
  }
  handle(buffered);
}

/** The job spec a coordinator leaves for the worker of `task`. */
export function jobSpec(task: ExecTask): string {
  const spec: JobSpec = {
    instance: task.instance.name,
    key: task.instance.key,
    record: task.instance.record,
    upstream: Object.fromEntries(
      Object.entries(task.upstream).map((
        [name, info],
      ) => [name, {
        seconds: info.seconds,
        cached: info.cached,
        key: info.key,
      }]),
    ),
    args: task.args,
  };
  return JSON.stringify(spec, null, 2) + "\n";
}
