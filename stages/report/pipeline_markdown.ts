/**
 * The report's Pipeline section: one row per stage (instances, how many ran, total and median
 * time), with the DAG and every instance's time collapsed below it, so a sweep's 70 instances
 * do not fill half the report.
 *
 * @module
 */
import { cell, table } from "./format.ts";
import type { StageTiming } from "./input.ts";

/** One stage (a declaration) summed over its instances. */
export interface StageSummary {
  /** The declaration's name: the instance name before `@`. */
  stage: string;
  instances: number;
  ran: number;
  cached: number;
  totalSeconds: number;
  medianSeconds: number;
}

/** The declaration an instance belongs to: `train_rdrop@alpha=0.01,seed=0` -> `train_rdrop`. */
export function stageOf(instance: string): string {
  const at = instance.indexOf("@");
  return at < 0 ? instance : instance.slice(0, at);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The instance names in the order the Mermaid text declares its nodes (the DAG's order). */
function dagOrder(mermaid: string): string[] {
  return [...mermaid.matchAll(/\["([^"\]]+)"\]/g)].map((m) => m[1]);
}

/** Sorts timings into DAG order (upstream first); instances the DAG does not name go last. */
export function sortByDag(
  stages: readonly StageTiming[],
  mermaid: string,
): StageTiming[] {
  const order = new Map(dagOrder(mermaid).map((name, i) => [name, i]));
  const rank = (s: StageTiming) => order.get(s.name) ?? Number.MAX_SAFE_INTEGER;
  return [...stages].sort((a, b) =>
    rank(a) - rank(b) || a.name.localeCompare(b.name)
  );
}

/** One summary per declaration, in DAG order. */
export function summarizeStages(
  stages: readonly StageTiming[],
  mermaid: string,
): StageSummary[] {
  const groups = new Map<string, StageTiming[]>();
  for (const s of sortByDag(stages, mermaid)) {
    const name = stageOf(s.name);
    groups.set(name, [...(groups.get(name) ?? []), s]);
  }
  return [...groups].map(([stage, list]) => ({
    stage,
    instances: list.length,
    ran: list.filter((s) => !s.cached).length,
    cached: list.filter((s) => s.cached).length,
    totalSeconds: list.reduce((a, s) => a + s.seconds, 0),
    medianSeconds: median(list.map((s) => s.seconds)),
  }));
}

function seconds(s: number): string {
  return `${s.toFixed(s < 1 ? 2 : 1)} s`;
}

/**
 * The DAG folded to one node per declaration ("train_rdrop ×30"), from the instance-level
 * Mermaid text: its node declarations `id["label"]` and edges `a --> b`.
 */
export function stageGraph(
  mermaid: string,
  summaries: readonly StageSummary[],
): string {
  const labelOf = new Map(
    [...mermaid.matchAll(/^\s*([A-Za-z0-9_]+)\["([^"\]]+)"\]/gm)].map((
      m,
    ) => [m[1], m[2]]),
  );
  const stage = (id: string) => stageOf(labelOf.get(id) ?? id);
  const edges = new Set<string>();
  for (
    const m of mermaid.matchAll(/^\s*([A-Za-z0-9_]+)\s*-->\s*([A-Za-z0-9_]+)/gm)
  ) {
    const [from, to] = [stage(m[1]), stage(m[2])];
    if (from !== to) edges.add(`  ${from} --> ${to}`);
  }
  const count = new Map(summaries.map((s) => [s.stage, s.instances]));
  const nodes = [...new Set([...labelOf.values()].map(stageOf))].map((name) => {
    const n = count.get(name) ?? 1;
    return `  ${name}["${name}${n > 1 ? ` ×${n}` : ""}"]`;
  });
  return ["flowchart LR", ...nodes, ...edges].join("\n");
}

/** The Pipeline section: the per-stage summary, then the DAG and instance times collapsed. */
export function pipelineSection(
  stages: readonly StageTiming[],
  mermaidText: string,
): string {
  const summaries = summarizeStages(stages, mermaidText);
  const rows = summaries.map((s) => [
    cell(s.stage),
    String(s.instances),
    String(s.ran),
    String(s.cached),
    seconds(s.totalSeconds),
    seconds(s.medianSeconds),
  ]);
  const instances = sortByDag(stages, mermaidText).map((s) => [
    cell(s.name),
    seconds(s.seconds),
    s.cached ? "cache" : "ran",
  ]);
  const ran = stages.filter((s) => !s.cached).length;
  const total = stages.reduce((a, s) => a + s.seconds, 0);
  // A fence inside the body would end the block early; the DAG text never needs one.
  let body = mermaidText.trim().replaceAll("```", "'''");
  // Accept a bare edge list too: Mermaid needs the diagram type on the first line.
  if (!/^(flowchart|graph)\b/.test(body)) body = `flowchart TD\n${body}`;
  return [
    "## Pipeline",
    "",
    "```mermaid",
    stageGraph(body, summaries),
    "```",
    "",
    table(
      ["Stage", "Instances", "Ran", "From cache", "Total time", "Median time"],
      rows,
      "lrrrrr",
    ),
    "",
    `${ran} of ${stages.length} stage instances ran in this invocation and ` +
    `${
      stages.length - ran
    } came from the cache (a cached instance shows the time of ` +
    `the run that produced it); ${total.toFixed(1)} s of stage time in all.`,
    "",
    "<details>",
    `<summary>The DAG and the time of each of the ${stages.length} stage instances</summary>`,
    "",
    "```mermaid",
    body,
    "```",
    "",
    table(["Stage instance", "Time", "Result"], instances, "lrl"),
    "",
    "</details>",
  ].join("\n");
}
