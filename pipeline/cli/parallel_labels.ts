/**
 * While more than one instance runs (`--jobs N`, Slurm), log lines and progress bars of
 * different instances interleave on one terminal; this names the instance in each of them.
 * With one instance running, events pass unchanged.
 *
 * @module
 */
import type { PipelineEvent } from "../events.ts";

/** Wraps `handle` so that log and progress events name their instance when several run. */
export function labelParallel(
  handle: (event: PipelineEvent) => void,
): (event: PipelineEvent) => void {
  const running = new Set<string>();
  let parallel = false;
  return (event) => {
    switch (event.type) {
      case "start":
        running.add(event.instance);
        // Once instances overlap, keep naming them until all are done (no flip-flopping).
        if (running.size > 1) parallel = true;
        break;
      case "finish":
      case "failed":
      case "interrupted":
        if (event.instance !== undefined) running.delete(event.instance);
        if (running.size === 0) parallel = false;
        break;
      case "log":
        if (parallel) {
          return handle({
            ...event,
            line: `[${event.instance}] ${event.line}`,
          });
        }
        break;
      case "progress":
        if (parallel) {
          return handle({
            ...event,
            label: `${event.instance} ${event.label}`,
          });
        }
        break;
    }
    handle(event);
  };
}
