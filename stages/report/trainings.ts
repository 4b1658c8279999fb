/**
 * The report's first line: how many trainings it covers and how they divide into models,
 * alphas and seeds ("35 trainings: 6 alphas + baseline × 5 seeds (0, 1, 2, 3, 4)").
 *
 * @module
 */
import type { ReportRun } from "./input.ts";

/** A set of trainings that share a model and alpha. */
interface Group {
  label: string;
  seeds: number[];
}

function groupsOf(runs: readonly ReportRun[]): Group[] {
  const byLabel = new Map<string, Group>();
  const sorted = [...runs].sort((a, b) =>
    (a.model === b.model ? 0 : a.model === "baseline" ? -1 : 1) ||
    a.history.alpha - b.history.alpha || a.seed - b.seed
  );
  for (const run of sorted) {
    const label = run.model === "baseline"
      ? "baseline"
      : `R-Drop α=${run.history.alpha}`;
    const group = byLabel.get(label) ?? { label, seeds: [] };
    group.seeds.push(run.seed);
    byLabel.set(label, group);
  }
  return [...byLabel.values()];
}

function seedsText(seeds: readonly number[]): string {
  return `${seeds.length} seed${seeds.length === 1 ? "" : "s"} (${
    seeds.join(", ")
  })`;
}

/**
 * "35 trainings: 6 alphas + baseline × 5 seeds (0, 1, 2, 3, 4)"; when the groups ran
 * different seeds, each group with its own seeds.
 */
export function trainingsLine(runs: readonly ReportRun[]): string {
  const groups = groupsOf(runs);
  const count = `${runs.length} training${runs.length === 1 ? "" : "s"}`;
  const seeds = groups[0]?.seeds ?? [];
  const sameSeeds = groups.every((g) => g.seeds.join() === seeds.join());
  if (!sameSeeds) {
    return `${count}: ${
      groups.map((g) => `${g.label} × ${seedsText(g.seeds)}`).join("; ")
    }`;
  }
  const alphas = groups.filter((g) => g.label !== "baseline");
  const hasBaseline = groups.length > alphas.length;
  const models = alphas.length > 1
    ? `${alphas.length} alphas${hasBaseline ? " + baseline" : ""}`
    : groups.map((g) => g.label).join(" + ");
  return `${count}: ${models} × ${seedsText(seeds)}`;
}
