/**
 * What a worker tells its coordinator: one JSON event per line on stdout (log, progress,
 * warning, and at the end `failed` or `done`). Errors cross as their message only, so a failed
 * worker prints like a failed in-process stage, without a stack.
 *
 * @module
 */
import { errorMessage } from "../errors.ts";
import type { PipelineEvent } from "../events.ts";
import type { ExecTask, JobSpec } from "./mod.ts";

/** An event as it crosses the process boundary. */
export type WireEvent =
  | Extract<PipelineEvent, { type: "log" | "progress" | "warning" }>
  | { type: "failed"; message: string }
  | { type: "done"; outcome: "ran" | "cached" };

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

/** Reads a worker's stdout line by line; lines that are not events become log lines. */
export async function readWorkerEvents(
  stream: ReadableStream<Uint8Array>,
  instance: string,
  onEvent: (event: WireEvent) => void,
): Promise<void> {
  const lines = stream.pipeThrough(new TextDecoderStream());
  let buffered = "";
  const handle = (line: string) => {
    if (line.trim() === "") return;
    try {
      const event = JSON.parse(line) as WireEvent;
      if (typeof event?.type === "string") return onEvent(event);
    } catch {
      // Not an event: a stage printed directly.
    }
    onEvent({ type: "log", instance, line });
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
      ) => [name, { seconds: info.seconds, cached: info.cached }]),
    ),
    args: task.args,
  };
  return JSON.stringify(spec, null, 2) + "\n";
}
