/**
 * The DAG: validates declarations, expands foreach into instances, orders them, selects targets
 * and draws the graph.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { canonicalJson } from "./hash.ts";
import { resolveItems, unknownItemMessage } from "./items.ts";
import { didYouMean } from "../suggest.ts";
import {
  applyCombination,
  combinations,
  itemLabel,
  matrixAxes,
  type MatrixAxis,
  stageAxes,
} from "./matrix.ts";
import type { AnyStage, Item, ItemRecord, JsonValue } from "../types.ts";

/** One runnable instance of a declaration. */
export interface Instance {
  /** `stage` or `stage@item`. */
  name: string;
  /** Its declaration. */
  stage: AnyStage<unknown>;
  /** The item (foreach value, or a record of swept values), if the declaration fans out. */
  item?: Item;
  /** The item as a record (foreach key and swept paths -> values), `{}` if none; matches deps. */
  values: ItemRecord;
  /** Resolved params (JSON-serialisable). */
  params: unknown;
  /** Direct upstream instance names. */
  deps: string[];
  /** Root-relative directory where its outputs are checked out. */
  workspace: string;
  /** The files it writes (its declaration's `outputs`, resolved for its params). */
  outputs: readonly string[];
}

const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Checks what does not depend on params: stage names, duplicates, unknown deps, cycles, outputs.
 * Throws a {@link UserError} naming the stage.
 */
export function validateDeclarations(
  stages: readonly AnyStage<unknown>[],
): void {
  const byName = new Map<string, AnyStage<unknown>>();
  for (const stage of stages) {
    if (typeof stage.name !== "string" || !NAME.test(stage.name)) {
      throw new UserError(
        `stage name ${
          JSON.stringify(stage.name)
        } is invalid: use lower-case letters, digits and _ (starting with a letter)`,
      );
    }
    if (byName.has(stage.name)) {
      throw new UserError(`stage ${stage.name} is declared twice`);
    }
    byName.set(stage.name, stage);
    if (typeof stage.code !== "string" || stage.code === "") {
      throw new UserError(
        `stage ${stage.name}: code is missing; set code: import.meta.url`,
      );
    }
    checkOutputList(stage.name, stage.outputs);
    for (const file of stage.files ?? []) {
      checkRelativePath(stage.name, "file", file);
    }
    if (stage.workspace !== undefined) {
      checkRelativePath(stage.name, "workspace", stage.workspace);
    }
  }
  for (const stage of stages) {
    for (const dep of stage.deps ?? []) {
      if (!byName.has(dep)) {
        throw new UserError(
          `stage ${stage.name} depends on unknown stage ${dep}; known stages: ${
            [...byName.keys()].join(", ")
          }`,
        );
      }
    }
  }
  for (const stage of stages) checkReads(stage, byName);
  const cycle = findCycle(stages);
  if (cycle !== undefined) {
    throw new UserError(`dependency cycle: ${cycle.join(" -> ")}`);
  }
}

function checkReads(
  stage: AnyStage<unknown>,
  byName: ReadonlyMap<string, AnyStage<unknown>>,
): void {
  for (const [dep, files] of Object.entries(stage.reads ?? {})) {
    if (!(stage.deps ?? []).includes(dep)) {
      throw new UserError(
        `stage ${stage.name}: reads names ${dep}, which is not in its deps; add it to deps or remove it from reads`,
      );
    }
    const outputs = (byName.get(dep) as AnyStage<unknown>).outputs;
    for (const file of files) {
      if (!outputs.includes(file)) {
        throw new UserError(
          `stage ${stage.name}: reads ${dep}'s ${file}, which ${dep} does not write (its outputs: ${
            outputs.join(", ")
          })`,
        );
      }
    }
  }
}

function checkOutputList(stage: string, outputs: unknown): void {
  if (!Array.isArray(outputs)) {
    throw new UserError(
      `stage ${stage}: outputs must be a list of file names`,
    );
  }
  const seen = new Set<string>();
  for (const output of outputs) checkOutputPath(stage, output, seen);
}

/** The files an instance of `stage` writes, for the params its instance runs with. */
function resolveOutputs(
  stage: AnyStage<unknown>,
  allParams: unknown,
): readonly string[] {
  if (stage.outputsFor === undefined) return stage.outputs;
  const outputs = stage.outputsFor(allParams);
  checkOutputList(stage.name, outputs);
  const undeclared = outputs.filter((output) =>
    !stage.outputs.includes(output)
  );
  if (undeclared.length > 0) {
    throw new UserError(
      `stage ${stage.name}: outputsFor returned ${
        undeclared.join(", ")
      }, which outputs does not list; add it to outputs`,
    );
  }
  return outputs;
}

function checkOutputPath(stage: string, output: unknown, seen: Set<string>) {
  if (typeof output !== "string") {
    throw new UserError(
      `stage ${stage}: output ${String(output)} is not a string`,
    );
  }
  checkRelativePath(stage, "output", output);
  if (seen.has(output)) {
    throw new UserError(`stage ${stage}: output ${output} is listed twice`);
  }
  seen.add(output);
}

function checkRelativePath(stage: string, what: string, path: string) {
  const parts = path.split("/");
  if (
    path === "" || path.startsWith("/") || path.includes("\\") ||
    parts.some((part) => part === ".." || part === "." || part === "")
  ) {
    throw new UserError(
      `stage ${stage}: ${what} ${
        JSON.stringify(path)
      } must be a relative path without . or .. parts`,
    );
  }
}

function findCycle(stages: readonly AnyStage<unknown>[]): string[] | undefined {
  const deps = new Map(stages.map((stage) => [stage.name, stage.deps ?? []]));
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === "done") return undefined;
    if (state.get(name) === "visiting") {
      return [...path.slice(path.indexOf(name)), name];
    }
    state.set(name, "visiting");
    path.push(name);
    for (const dep of deps.get(name) ?? []) {
      const cycle = visit(dep);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const stage of stages) {
    const cycle = visit(stage.name);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

/** The instance name of declaration `stage` for `item`: `stage`, `stage@3`, `stage@alpha=0.01,seed=3`. */
export function instanceName(stage: string, item?: Item): string {
  if (item === undefined) return stage;
  return `${stage}@${typeof item === "object" ? itemLabel(item) : item}`;
}

/** A planned fan-out of one declaration: its axes and its normalised items. */
interface Fanout {
  /** Matrix axes (own and inherited), in matrix order. */
  axes: MatrixAxis[];
  /** The foreach values, or undefined. */
  foreach: (string | number)[] | undefined;
  /** Each instance's item (as keys and names see it) and its values record (for matching). */
  instances: {
    item: Item | undefined;
    values: ItemRecord;
    combo: ItemRecord;
  }[];
}

/**
 * Expands declarations into instances in topological order (declaration order breaks ties).
 * A declaration fans out over its foreach values and over the matrix axes that change its params
 * or its upstream's items; an instance depends on the upstream instances whose items agree
 * with its own on every name they share. Call {@link validateDeclarations} first.
 */
export function expandInstances(
  stages: readonly AnyStage<unknown>[],
  allParams: unknown,
): Instance[] {
  const fanouts = new Map<string, Fanout>();
  const instances = new Map<string, Instance[]>();
  for (const stage of orderDeclarations(stages)) {
    const fanout = planFanout(stage, allParams, fanouts);
    fanouts.set(stage.name, fanout);
    const list: Instance[] = [];
    for (const { item, values, combo } of fanout.instances) {
      const deps: string[] = [];
      for (const dep of stage.deps ?? []) {
        const upstream = instances.get(dep) as Instance[];
        const matches = upstream.filter((other) => agree(values, other.values));
        if (matches.length === 0) {
          const own = fanout.foreach;
          const theirs = fanouts.get(dep)?.foreach;
          throw new UserError(
            `stage ${stage.name} (foreach ${
              JSON.stringify(own)
            }) depends on ${dep} (foreach ${
              JSON.stringify(theirs)
            }): foreach stages that depend on each other need the same items`,
          );
        }
        deps.push(...matches.map((other) => other.name));
      }
      const name = instanceName(stage.name, item);
      const params = applyCombination(allParams, combo);
      list.push({
        name,
        stage,
        item,
        values,
        params: resolveParams(stage, params, name),
        deps,
        workspace: workspaceOf(stage, item),
        outputs: resolveOutputs(stage, params),
      });
    }
    instances.set(stage.name, list);
  }
  const all = [...instances.values()].flat();
  checkOutputCollisions(all);
  return all;
}

function planFanout(
  stage: AnyStage<unknown>,
  allParams: unknown,
  fanouts: Map<string, Fanout>,
): Fanout {
  const foreach = resolveItems(stage, allParams);
  // Only a stage that declares `matrix` is swept; any other one aggregates its upstream's
  // instances (all of them, or those of its own foreach value).
  const axes: MatrixAxis[] = [];
  // A one-value axis is an override, not a fan-out: it sets the value, the item stays plain.
  const fixed: Record<string, JsonValue> = {};
  if (stage.matrix !== undefined) {
    for (const axis of matrixAxes(stage.matrix(allParams))) {
      if (axis.values.length === 1) fixed[axis.path] = axis.values[0];
    }
    const own = new Set(
      stageAxes(stage, allParams).map((axis) => axis.path),
    );
    for (const dep of stage.deps ?? []) {
      for (const axis of fanouts.get(dep)?.axes ?? []) own.add(axis.path);
    }
    axes.push(
      ...matrixAxes(stage.matrix(allParams)).filter((axis) =>
        own.has(axis.path)
      ),
    );
  }
  const key = stage.foreachKey ?? "item";
  const out: Fanout["instances"] = [];
  for (const combo of combinations(axes)) {
    for (const value of foreach ?? [undefined]) {
      const values: Record<string, JsonValue> = { ...combo };
      if (value !== undefined) values[key] = value;
      // No axis: the plain foreach value, so that a sweep leaves this stage's keys alone.
      const item = axes.length === 0 ? value : values;
      if (typeof item === "object") checkItemLabel(stage.name, item);
      if (stage.include !== undefined && !stage.include(allParams, values)) {
        continue;
      }
      out.push({ item, values, combo: { ...fixed, ...combo } });
    }
  }
  return { axes, foreach, instances: out };
}

const LABEL = /^[^/\\\s]+$/;

function checkItemLabel(stage: string, item: ItemRecord): void {
  const label = itemLabel(item);
  if (!LABEL.test(label)) {
    throw new UserError(
      `stage ${stage}: swept value in ${
        JSON.stringify(label)
      } cannot name an instance (no /, \\ or spaces); sweep other values`,
    );
  }
}

/** Whether two items' values agree on every name they share. */
function agree(a: ItemRecord, b: ItemRecord): boolean {
  for (const key of Object.keys(a)) {
    if (key in b && canonicalJson(a[key]) !== canonicalJson(b[key])) {
      return false;
    }
  }
  return true;
}

function checkOutputCollisions(instances: readonly Instance[]): void {
  const owners = new Map<string, string>();
  for (const instance of instances) {
    for (const output of instance.outputs) {
      const path = `${instance.workspace}/${output}`;
      const owner = owners.get(path);
      if (owner !== undefined) {
        throw new UserError(
          `stages ${owner} and ${instance.name} both write ${path}; give one of them another workspace or output name`,
        );
      }
      owners.set(path, instance.name);
    }
  }
}

function workspaceOf(stage: AnyStage<unknown>, item: Item | undefined) {
  const name = instanceName(stage.name, item);
  if (stage.workspace === undefined) return `.pipeline/out/${name}`;
  if (item === undefined) return stage.workspace;
  return `${stage.workspace}/${
    typeof item === "object" ? itemLabel(item) : item
  }`;
}

function resolveParams(
  stage: AnyStage<unknown>,
  allParams: unknown,
  name: string,
): unknown {
  const params = stage.params === undefined ? {} : stage.params(allParams);
  const value = params === undefined ? {} : params;
  try {
    const json = canonicalJson(value);
    return JSON.parse(json);
  } catch (error) {
    throw new UserError(
      `stage ${name}: params must be JSON-serialisable (${
        (error as Error).message
      })`,
    );
  }
}

function orderDeclarations(
  stages: readonly AnyStage<unknown>[],
): AnyStage<unknown>[] {
  const done = new Set<string>();
  const out: AnyStage<unknown>[] = [];
  const byName = new Map(stages.map((stage) => [stage.name, stage]));
  const visit = (stage: AnyStage<unknown>) => {
    if (done.has(stage.name)) return;
    done.add(stage.name);
    for (const dep of stage.deps ?? []) {
      const upstream = byName.get(dep);
      if (upstream !== undefined) visit(upstream);
    }
    out.push(stage);
  };
  for (const stage of stages) visit(stage);
  return out;
}

/** Instance names matching `target`: a declaration name (all its instances) or `stage@item`. */
export function matchTarget(
  instances: readonly Instance[],
  target: string,
): string[] {
  const matches = instances
    .filter((instance) =>
      instance.name === target || instance.stage.name === target
    )
    .map((instance) => instance.name);
  if (matches.length > 0) return matches;
  const at = target.indexOf("@");
  const stageName = at < 0 ? target : target.slice(0, at);
  const own = instances.filter((i) => i.stage.name === stageName);
  if (own.length === 0) {
    const names = [...new Set(instances.map((i) => i.stage.name))];
    throw new UserError(
      `unknown stage ${stageName}${didYouMean(stageName, names)} stages: ${
        names.join(", ")
      } (run "dag" to list instances)`,
    );
  }
  const items = own.map((i) => i.item).filter((i) => i !== undefined);
  if (items.some((item) => typeof item === "object")) {
    // A swept stage: its items are combinations; name instances, not the param.
    const names = own.map((i) => i.name);
    const shown = names.slice(0, 6).join(", ");
    throw new UserError(
      `no instance ${target}${
        didYouMean(target, names)
      } ${stageName} has ${names.length}: ${shown}${
        names.length > 6 ? ", ..." : ""
      } (run "dag" to list them)`,
    );
  }
  throw new UserError(
    unknownItemMessage(own[0].stage, items, target.slice(at + 1)),
  );
}

/** `names` and everything upstream of them. */
export function upstreamClosure(
  instances: readonly Instance[],
  names: Iterable<string>,
): Set<string> {
  const byName = new Map(instances.map((i) => [i.name, i]));
  const out = new Set<string>();
  const stack = [...names];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (out.has(name)) continue;
    out.add(name);
    stack.push(...(byName.get(name)?.deps ?? []));
  }
  return out;
}

/** `names` and everything downstream of them. */
export function downstreamClosure(
  instances: readonly Instance[],
  names: Iterable<string>,
): Set<string> {
  const out = new Set(names);
  for (const instance of instances) {
    if (instance.deps.some((dep) => out.has(dep))) out.add(instance.name);
  }
  return out;
}

function mermaidId(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "_");
}

/** The instance DAG as a Mermaid flowchart (no ``` fence). */
export function toMermaid(instances: readonly Instance[]): string {
  const lines = ["flowchart TD"];
  for (const instance of instances) {
    lines.push(`  ${mermaidId(instance.name)}["${instance.name}"]`);
  }
  for (const instance of instances) {
    for (const dep of instance.deps) {
      lines.push(`  ${mermaidId(dep)} --> ${mermaidId(instance.name)}`);
    }
  }
  return lines.join("\n");
}

/** The instance DAG as text: one line per instance, in run order, with its direct upstream. */
export function toText(instances: readonly Instance[]): string {
  const width = Math.max(...instances.map((i) => i.name.length));
  return instances.map((instance) => {
    const deps = instance.deps.length === 0
      ? ""
      : `  <- ${instance.deps.join(", ")}`;
    const description = instance.stage.description === undefined
      ? ""
      : `  # ${instance.stage.description}`;
    return `${instance.name.padEnd(width)}${deps}${description}`;
  }).join("\n");
}
