/**
 * Planning: params -> instances -> keys. Status, run, gc, verify and workers all plan the same
 * way, so a worker on another machine can tell whether it computes the key it was sent.
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CodeHasher } from "./code_hash.ts";
import type { PipelineEvent } from "./events.ts";
import type { WriteFile } from "./fs.ts";
import {
  expandInstances,
  type Instance,
  toMermaid,
  validateDeclarations,
} from "./graph.ts";
import { computeKey, type KeyRecord } from "./key.ts";
import { loadParams, type ParamOverride } from "./params.ts";
import type { RemoteStore } from "./store/mod.ts";
import type { AnyStage, PipelineDeclaration } from "./types.ts";

/** Options shared by every engine entry point. */
export interface EngineOptions {
  /** Project root (path or file: URL). */
  root: string | URL;
  /** Params file to use instead of the declaration's (absolute, or relative to the cwd). */
  paramsFile?: string;
  /** `--set` overrides. */
  overrides?: readonly ParamOverride[];
  /** Receives every event. */
  onEvent?: (event: PipelineEvent) => void;
  /** Import map for code hashing; read from `<root>/deno.json` when omitted. */
  importMap?: Record<string, string>;
  /** Writes the engine's own files (manifests, `pipeline.lock`); tests inject faults here. */
  writeFile?: WriteFile;
  /** The shared remote store (second level), if configured. */
  remote?: RemoteStore;
  /** The command's arguments as the user gave them (stages see them as `ctx.args`). */
  args?: readonly string[];
}

/** A planned instance with its key. */
export interface PlannedInstance extends Instance {
  /** The instance's key. */
  key: string;
  /** What went into the key. */
  record: KeyRecord;
}

/** The resolved pipeline: validated params, instances in run order with keys. */
export interface Plan {
  /** Absolute root. */
  root: string;
  /** The validated params. */
  params: unknown;
  /** Instances in topological order. */
  instances: PlannedInstance[];
  /** The instance DAG as a Mermaid flowchart. */
  mermaid: string;
}

/** Absolute root path from a path or URL. */
export function rootPath(root: string | URL): string {
  if (root instanceof URL) return fileURLToPath(root);
  if (root.startsWith("file:")) return fileURLToPath(root);
  return resolve(root);
}

function engineDirRelative(root: string): string | undefined {
  const rel = relative(root, fileURLToPath(new URL(".", import.meta.url)))
    .replaceAll("\\", "/");
  return rel.startsWith("..") || isAbsolute(rel) ? undefined : `${rel}/`;
}

/**
 * Validates the declaration and params, expands instances and computes every key.
 * Throws a {@link UserError} for bad params, unknown deps, cycles or mismatched foreach items.
 */
export async function planPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: EngineOptions,
): Promise<Plan> {
  const root = rootPath(options.root);
  const stages = pipeline.stages as readonly AnyStage<unknown>[];
  validateDeclarations(stages);
  const paramsFile = options.paramsFile === undefined
    ? join(root, pipeline.paramsFile)
    : resolve(options.paramsFile);
  const params = await loadParams(pipeline.params, paramsFile, {
    overrides: options.overrides,
    displayName: options.paramsFile ?? pipeline.paramsFile,
    required: options.paramsFile !== undefined,
  });
  const instances = expandInstances(stages, params);
  const exclude = ["pipeline/", engineDirRelative(root)].filter(
    (entry): entry is string => entry !== undefined,
  );
  const hasher = new CodeHasher({
    root,
    importMap: options.importMap,
    exclude: [...new Set(exclude)],
  });
  const codes = new Map<string, Promise<KeyRecord["code"]>>();
  const keys = new Map<string, string>();
  const planned: PlannedInstance[] = [];
  for (const instance of instances) {
    const codeId = `${instance.stage.name}\n${instance.stage.code}`;
    let code = codes.get(codeId);
    if (code === undefined) {
      code = fingerprintStage(hasher, instance.stage);
      codes.set(codeId, code);
    }
    const upstream: Record<string, string> = {};
    for (const dep of [...instance.deps].sort()) {
      upstream[dep] = keys.get(dep) as string;
    }
    const record: KeyRecord = {
      stage: instance.stage.name,
      item: instance.item ?? null,
      params: instance.params,
      upstream,
      code: await code,
    };
    const key = await computeKey(record);
    keys.set(instance.name, key);
    planned.push({ ...instance, key, record });
  }
  return { root, params, instances: planned, mermaid: toMermaid(instances) };
}

async function fingerprintStage(
  hasher: CodeHasher,
  stage: AnyStage<unknown>,
): Promise<KeyRecord["code"]> {
  const code = await hasher.fingerprint(stage.code);
  if (stage.files === undefined || stage.files.length === 0) return code;
  const files = {
    ...code.files,
    ...await hasher.dataFiles(stage.name, stage.files),
  };
  const sorted: Record<string, string> = {};
  for (const path of Object.keys(files).sort()) sorted[path] = files[path];
  return { files: sorted, packages: code.packages };
}
