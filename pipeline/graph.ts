/**
 * The DAG: validates declarations, expands foreach into instances, orders them, selects targets
 * and draws the graph.
 *
 * @module
 */
import { UserError } from "./errors.ts";
import { canonicalJson } from "./hash.ts";
import { resolveItems, unknownItemMessage } from "./items.ts";
import { didYouMean } from "./suggest.ts";
import type { AnyStage, Item } from "./types.ts";

/** One runnable instance of a declaration. */
export interface Instance {
  /** `stage` or `stage@item`. */
  name: string;
  /** Its declaration. */
  stage: AnyStage<unknown>;
  /** The foreach item, if the declaration has foreach. */
  item?: Item;
  /** Resolved params (JSON-serialisable). */
  params: unknown;
  /** Direct upstream instance names. */
  deps: string[];
  /** Root-relative directory where its outputs are checked out. */
  workspace: string;
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
    if (!Array.isArray(stage.outputs)) {
      throw new UserError(
        `stage ${stage.name}: outputs must be a list of file names`,
      );
    }
    const seen = new Set<string>();
    for (const output of stage.outputs) {
      checkOutputPath(stage.name, output, seen);
    }
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
  const cycle = findCycle(stages);
  if (cycle !== undefined) {
    throw new UserError(`dependency cycle: ${cycle.join(" -> ")}`);
  }
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

/** The instance name of declaration `stage` for `item`. */
export function instanceName(stage: string, item?: Item): string {
  return item === undefined ? stage : `${stage}@${item}`;
}

/**
 * Expands declarations into instances in topological order (declaration order breaks ties).
 * Call {@link validateDeclarations} first.
 */
export function expandInstances(
  stages: readonly AnyStage<unknown>[],
  allParams: unknown,
): Instance[] {
  const items = new Map<string, Item[] | undefined>();
  for (const stage of stages) {
    items.set(stage.name, resolveItems(stage, allParams));
  }
  const instances = new Map<string, Instance[]>();
  for (const stage of orderDeclarations(stages)) {
    const own = items.get(stage.name);
    const list: Instance[] = [];
    for (const item of own ?? [undefined]) {
      const deps: string[] = [];
      for (const dep of stage.deps ?? []) {
        const depItems = items.get(dep);
        if (depItems === undefined) deps.push(dep);
        else if (own === undefined) {
          deps.push(...depItems.map((i) => instanceName(dep, i)));
        } else {
          if (!sameItems(own, depItems)) {
            throw new UserError(
              `stage ${stage.name} (foreach ${
                JSON.stringify(own)
              }) depends on ${dep} (foreach ${
                JSON.stringify(depItems)
              }): foreach stages that depend on each other need the same items`,
            );
          }
          deps.push(instanceName(dep, item));
        }
      }
      const name = instanceName(stage.name, item);
      list.push({
        name,
        stage,
        item,
        params: resolveParams(stage, allParams, name),
        deps,
        workspace: workspaceOf(stage, item),
      });
    }
    instances.set(stage.name, list);
  }
  const all = [...instances.values()].flat();
  checkOutputCollisions(all);
  return all;
}

function checkOutputCollisions(instances: readonly Instance[]): void {
  const owners = new Map<string, string>();
  for (const instance of instances) {
    for (const output of instance.stage.outputs) {
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
  return item === undefined ? stage.workspace : `${stage.workspace}/${item}`;
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

function sameItems(a: readonly Item[], b: readonly Item[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(b.map(String));
  return a.every((item) => set.has(String(item)));
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
