/**
 * Data-dependent instances: a pipeline that declares `rounds` runs in rounds. Round 1 plans
 * with the given params; each round is a normal cached run of the decision stage and its
 * upstream; the decision stage's output (a JSON file, cached like any result) gives the
 * overrides of the next round, whose plan then has more instances (the declarations' `include`
 * reads the overrides), or says the question is decided, and then the whole pipeline runs once
 * with the last round's params.
 *
 * Because every round is planned from params and cached results only, a rerun replays the same
 * rounds from the cache and computes nothing, and a clone with the remote restores them. Status
 * and dry runs replay the rounds whose decision is in the local cache, and say "decided after
 * round k" for the instances that are not known yet. Workers (`--jobs`, Slurm) get the round's
 * overrides as `--set` flags, so they plan the same keys.
 *
 * Between rounds the run lock is released and taken again: another run may slip in, but every
 * round re-plans and re-decides, so it can only find more in the cache.
 *
 * @module
 */
import { type Decided, decideInstances, selectInstances } from "./decide.ts";
import type { StatusEntry } from "./decide.ts";
import { type RunOptions, runPipeline, type RunResult } from "../engine.ts";
import { UserError } from "../errors.ts";
import type { PipelineEvent, PlanEntry } from "../events.ts";
import { readLockFile } from "../lock.ts";
import type { ParamOverride } from "./params.ts";
import { expandPipeline, planPipeline } from "./mod.ts";
import { openStore } from "../store/open.ts";
import type { RemoteStore } from "../store/mod.ts";
import type { PipelineDeclaration, RoundsDeclaration } from "../types.ts";
import { join } from "node:path";

/** One round as a run or a replay saw it. */
export interface RoundInfo {
  round: number;
  /**
   * `next`: the decision asks for another round; `decided`: it is decided (the last round);
   * `unknown`: this round's decision is not in the cache yet (status and dry runs).
   */
  state: "next" | "decided" | "unknown";
  /** The declaration's line about the decision, when known. */
  note?: string;
}

/** A run of a pipeline with rounds: the whole run's result plus its rounds. */
export interface RoundsRunResult extends RunResult {
  rounds: RoundInfo[];
}

/** The `--set` flags that give a worker the same overrides. */
export function overrideArgs(overrides: readonly ParamOverride[]): string[] {
  return overrides.flatMap((o) => [
    "--set",
    `${o.path.join(".")}=${JSON.stringify(o.value)}`,
  ]);
}

function declarationOf(pipeline: PipelineDeclaration): RoundsDeclaration {
  const rounds = pipeline.rounds as RoundsDeclaration;
  const stage = pipeline.stages.find((s) => s.name === rounds.stage);
  if (stage === undefined) {
    throw new UserError(
      `rounds.stage ${rounds.stage} is not a stage of this pipeline; name the decision stage`,
    );
  }
  if (!stage.outputs.includes(rounds.file)) {
    throw new UserError(
      `rounds.file ${rounds.file} is not an output of ${rounds.stage} (its outputs: ${
        stage.outputs.join(", ")
      })`,
    );
  }
  return rounds;
}

function parseDecision(bytes: Uint8Array, rounds: RoundsDeclaration): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new UserError(
      `${rounds.stage}'s ${rounds.file} is not JSON (${
        (error as Error).message
      }); a decision stage writes its round plan as JSON`,
    );
  }
}

function decisionInstance(names: Iterable<string>, stage: string): string {
  const matches = [...names].filter((n) => n === stage);
  if (matches.length !== 1) {
    throw new UserError(
      `rounds: the decision stage ${stage} must have exactly one instance (no foreach or matrix)`,
    );
  }
  return matches[0];
}

/**
 * Whether this run goes in rounds: the pipeline declares `rounds` and, with these params, its
 * decision stage has an instance (a decision stage whose `include` says no makes a plain run).
 */
export async function runsInRounds<S extends PipelineDeclaration>(
  pipeline: S,
  options: RunOptions,
): Promise<boolean> {
  if (pipeline.rounds === undefined) return false;
  const stage = pipeline.rounds.stage;
  // Expanding is enough to see whether the decision stage has an instance; hashing every
  // stage's code here would be done again by the run itself.
  const { instances } = await expandPipeline(pipeline, options);
  return instances.some((i) => i.stage.name === stage);
}

/**
 * Runs a pipeline round by round (see the module doc); without rounds (see
 * {@link runsInRounds}) it is one {@link runPipeline}. A dry run replays what the cache knows
 * and runs nothing.
 */
export async function runRounds<S extends PipelineDeclaration>(
  pipeline: S,
  options: RunOptions,
): Promise<RoundsRunResult> {
  if (!await runsInRounds(pipeline, options)) {
    return { ...await runPipeline(pipeline, options), rounds: [] };
  }
  const rounds = declarationOf(pipeline);
  const emit = options.onEvent ?? (() => {});
  if (options.dryRun) return await dryRunRounds(pipeline, options, rounds);
  const max = rounds.maxRounds ?? 100;
  const base = options.overrides ?? [];
  const ran = new Set<string>();
  const cached = new Set<string>();
  const infos: RoundInfo[] = [];
  let extra: readonly ParamOverride[] = [];
  const merge = (result: RunResult): RoundsRunResult => {
    result.ran.forEach((n) => ran.add(n));
    result.cached.forEach((n) => cached.add(n));
    return {
      ...result,
      ran: [...ran],
      cached: [...cached].filter((n) => !ran.has(n)),
      rounds: infos,
    };
  };
  for (let round = 1; round <= max; round++) {
    emit({ type: "round", round, state: "start" });
    const roundOptions: RunOptions = {
      ...options,
      overrides: [...base, ...extra],
      planArgs: overrideArgs(extra),
    };
    const result = await runPipeline(pipeline, {
      ...roundOptions,
      targets: [rounds.stage],
    });
    if (result.outcome !== "success") return merge(result);
    const name = decisionInstance(Object.keys(result.outputs), rounds.stage);
    const decision = parseDecision(
      await Deno.readFile(join(result.outputs[name], rounds.file)),
      rounds,
    );
    const next = rounds.next(decision);
    const note = rounds.describe?.(decision);
    infos.push({ round, state: next === null ? "decided" : "next", note });
    emit({
      type: "round",
      round,
      state: "decided",
      note: note ?? (next === null ? "done" : "another round"),
    });
    if (next === null) {
      merge(result);
      return merge(await runPipeline(pipeline, roundOptions));
    }
    extra = next;
  }
  throw new UserError(
    `${rounds.stage} did not decide within ${max} rounds; raise rounds.maxRounds or give the decision a budget`,
  );
}

/** One replayed round: its instances (those first seen in this round) and its decision. */
export interface RoundStatus extends RoundInfo {
  instances: Decided[];
}

/** Options of {@link roundsStatus}. */
export interface RoundsStatusOptions extends RunOptions {
  /** The remote store results are looked up in (status, dry run). */
  remote?: RemoteStore;
}

/** A decided instance as `status` lists it. */
export function statusOf(d: Decided): StatusEntry {
  return {
    stage: d.instance.name,
    state: d.decision === "fresh"
      ? "fresh"
      : d.decision === "pending"
      ? "pending"
      : "stale",
    reasons: d.staleness.reasons,
  };
}

/**
 * Replays the rounds the local cache knows, without running or writing anything: per round the
 * status of the instances it adds, and its decision; the first round whose decision is not
 * cached is `unknown` (its instances and later rounds are decided after the round before).
 */
export async function roundsStatus<S extends PipelineDeclaration>(
  pipeline: S,
  options: RoundsStatusOptions,
): Promise<{ rounds: RoundStatus[]; decided: Decided[] }> {
  const rounds = declarationOf(pipeline);
  const max = rounds.maxRounds ?? 100;
  const shown = new Set<string>();
  const out: RoundStatus[] = [];
  let extra: readonly ParamOverride[] = [];
  const fresh = (decided: Decided[]) =>
    decided.filter((d) => {
      const seen = shown.has(d.instance.name);
      shown.add(d.instance.name);
      return !seen;
    });
  for (let round = 1; round <= max; round++) {
    const overrides = [...(options.overrides ?? []), ...extra];
    const plan = await planPipeline(pipeline, { ...options, overrides });
    const store = openStore(plan.root);
    const lock = await readLockFile(plan.root);
    const decide = (targets: readonly string[]) =>
      decideInstances(plan, {
        selected: selectInstances(plan, targets),
        lock,
        store,
        remote: options.remote,
      });
    const { decided } = await decide([rounds.stage]);
    const name = decisionInstance(
      plan.instances.map((i) => i.name),
      rounds.stage,
    );
    const mine = decided.find((d) => d.instance.name === name) as Decided;
    const known = mine.decision === "fresh" || mine.decision === "restore";
    const bytes = known && mine.keyed !== undefined
      ? await store.readOutput(mine.keyed.key, rounds.file)
      : undefined;
    if (bytes === undefined) {
      out.push({
        round,
        state: "unknown",
        instances: fresh(decided),
        note: `${name} has not run on this round's results`,
      });
      return { rounds: out, decided };
    }
    const decision = parseDecision(bytes, rounds);
    const next = rounds.next(decision);
    const note = rounds.describe?.(decision);
    if (next === null) {
      const all = await decide(options.targets ?? []);
      out.push({
        round,
        state: "decided",
        note,
        instances: fresh(all.decided),
      });
      return { rounds: out, decided: all.decided };
    }
    out.push({ round, state: "next", note, instances: fresh(decided) });
    extra = next;
  }
  throw new UserError(
    `${rounds.stage} did not decide within ${max} rounds; raise rounds.maxRounds or give the decision a budget`,
  );
}

async function dryRunRounds<S extends PipelineDeclaration>(
  pipeline: S,
  options: RunOptions,
  rounds: RoundsDeclaration,
): Promise<RoundsRunResult> {
  const emit = options.onEvent ?? ((_: PipelineEvent) => {});
  const { rounds: replay } = await roundsStatus(pipeline, options);
  const plan: PlanEntry[] = [];
  for (const round of replay) {
    emit({ type: "round", round: round.round, state: "start" });
    const entries: PlanEntry[] = round.instances.map((d) => ({
      instance: d.instance.name,
      action: d.decision,
      reasons: d.staleness.reasons,
    }));
    plan.push(...entries);
    emit({ type: "plan", entries, dryRun: true });
    emit({
      type: "round",
      round: round.state === "unknown" ? round.round + 1 : round.round,
      state: round.state === "unknown" ? "unknown" : "decided",
      note: round.note ??
        (round.state === "decided"
          ? "done"
          : `another round (${rounds.stage})`),
    });
  }
  return {
    outcome: "dry-run",
    ran: [],
    cached: [],
    failures: [],
    interrupted: [],
    outputs: {},
    plan,
    timings: { planMs: 0, decideMs: 0 },
    rounds: replay.map(({ round, state, note }) => ({ round, state, note })),
  };
}
