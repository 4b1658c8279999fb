/**
 * Planning: params -> instances -> what goes into their keys. Status, run, gc, verify and
 * workers all plan the same way, so a worker on another machine can tell whether it computes the
 * key it was sent. An instance's key also holds its upstream outputs' content hashes, so it is
 * known only once those exist: {@link keyInstance} computes it then (`keys.ts` keeps track).
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CodeHasher, type FileStamp } from "./code_hash.ts";
import type { PipelineEvent } from "../events.ts";
import type { WriteFile } from "../fs.ts";
import {
  expandInstances,
  type Instance,
  toMermaid,
  validateDeclarations,
} from "./graph.ts";
import {
  type InputHashes,
  type InstanceRecord,
  keyOf,
  type KeyRecord,
} from "./key_record.ts";
import { codeMemoPath } from "../store/local.ts";
import { loadParams, type ParamOverride } from "./params.ts";
import type { RemoteStore } from "../store/mod.ts";
import type { AnyStage, PipelineDeclaration } from "../types.ts";

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
  /**
   * When the stage modules may first have been loaded (ms since the epoch; the CLI: its process
   * start): a code file changed after it makes a result unpublishable (`plan/code_stability.ts`).
   */
  codeLoadedSince?: number;
}

/** A planned instance: everything in its key but its upstream outputs. */
export interface PlannedInstance extends Instance {
  /** Stage, item, params and code: what its key holds besides its upstream outputs. */
  input: InstanceRecord;
  /** Direct upstream instance -> the outputs of it that the stage reads (null: all). */
  reads: Readonly<Record<string, readonly string[] | null>>;
}

/** A planned instance whose upstream outputs are known, and so its key. */
export interface KeyedInstance extends PlannedInstance {
  /** The instance's key. */
  key: string;
  /** What went into the key. */
  record: KeyRecord;
}

/** The resolved pipeline: validated params, instances in run order. */
export interface Plan {
  /** Absolute root. */
  root: string;
  /** The validated params. */
  params: unknown;
  /** Instances in topological order. */
  instances: PlannedInstance[];
  /** The instance DAG as a Mermaid flowchart. */
  mermaid: string;
  /**
   * How every hashed code and data file looked when it was hashed (root-relative path ->
   * stamp), so that a run can tell whether the code that ran is still the code in its keys.
   */
  codeStamps: ReadonlyMap<string, FileStamp>;
  /** See {@link EngineOptions.codeLoadedSince}. */
  codeLoadedSince?: number;
}

/** The content hashes of an instance's outputs, as a manifest or the lock file records them. */
export type OutputHashes = Readonly<Record<string, { sha256: string }>>;

/**
 * The key of `instance` from its direct upstream instances' outputs (`outputsOf(dep)`), keeping
 * of each only the files its declaration `reads`; undefined while an upstream's outputs are not
 * known.
 */
export function keyInstance(
  instance: PlannedInstance,
  outputsOf: (dep: string) => OutputHashes | undefined,
): KeyedInstance | undefined {
  const inputs: InputHashes = {};
  for (const dep of [...instance.deps].sort()) {
    const outputs = outputsOf(dep);
    if (outputs === undefined) return undefined;
    inputs[dep] = readInputs(instance, dep, outputs);
  }
  const record: KeyRecord = { ...instance.input, inputs };
  return { ...instance, key: keyOf(record), record };
}

function readInputs(
  instance: PlannedInstance,
  dep: string,
  outputs: OutputHashes,
): Record<string, string> {
  const reads = instance.reads[dep] ?? null;
  const out: Record<string, string> = {};
  for (const file of Object.keys(outputs).sort()) {
    if (reads === null || reads.includes(file)) {
      out[file] = outputs[file].sha256;
    }
  }
  return out;
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
 * Validates the declaration and params and expands the instances, hashing nothing: what a
 * caller needs that only asks which instances exist (e.g. whether a run goes in rounds).
 */
export async function expandPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: EngineOptions,
): Promise<{ params: unknown; instances: Instance[] }> {
  const root = rootPath(options.root);
  const stages = pipeline.stages as readonly AnyStage<unknown>[];
  validateDeclarations(stages);
  const paramsFile = options.paramsFile === undefined
    ? join(root, pipeline.paramsFile)
    : resolve(options.paramsFile);
  const loaded = await loadParams(pipeline.params, paramsFile, {
    overrides: options.overrides,
    displayName: options.paramsFile ?? pipeline.paramsFile,
    required: options.paramsFile !== undefined,
  });
  const params = await pipeline.resolveParams?.(loaded) ?? loaded;
  return { params, instances: expandInstances(stages, params) };
}

/**
 * Validates the declaration and params, expands instances and hashes their code.
 * Throws a {@link UserError} for bad params, unknown deps, cycles or mismatched foreach items.
 */
export async function planPipeline<S extends PipelineDeclaration>(
  pipeline: S,
  options: EngineOptions,
): Promise<Plan> {
  const root = rootPath(options.root);
  const { params, instances } = await expandPipeline(pipeline, options);
  const exclude = ["pipeline/", engineDirRelative(root)].filter(
    (entry): entry is string => entry !== undefined,
  );
  const hasher = new CodeHasher({
    root,
    importMap: options.importMap,
    exclude: [...new Set(exclude)],
    memoPath: codeMemoPath(root),
  });
  const codes = new Map<string, Promise<InstanceRecord["code"]>>();
  const stageOf = new Map(instances.map((i) => [i.name, i.stage.name]));
  const planned: PlannedInstance[] = [];
  for (const instance of instances) {
    const entries = codeEntries(instance);
    const codeId = JSON.stringify([instance.stage.name, entries]);
    let code = codes.get(codeId);
    if (code === undefined) {
      code = fingerprintStage(hasher, instance.stage, entries);
      codes.set(codeId, code);
    }
    planned.push({
      ...instance,
      input: {
        stage: instance.stage.name,
        item: instance.item ?? null,
        params: instance.params,
        code: await code,
      },
      reads: Object.fromEntries(
        instance.deps.map((dep) => [
          dep,
          instance.stage.reads?.[stageOf.get(dep) as string] ?? null,
        ]),
      ),
    });
  }
  await hasher.saveMemo();
  return {
    root,
    params,
    instances: planned,
    mermaid: toMermaid(instances),
    codeStamps: await hasher.stamps(),
    codeLoadedSince: options.codeLoadedSince,
  };
}

/** The modules whose graphs are an instance's code: its declaration's, then `codeFor`'s. */
function codeEntries(instance: Instance): string[] {
  const extra = instance.stage.codeFor?.(instance.params) ?? [];
  return [instance.stage.code, ...extra.map((entry) => String(entry))];
}

async function fingerprintStage(
  hasher: CodeHasher,
  stage: AnyStage<unknown>,
  entries: readonly string[],
): Promise<InstanceRecord["code"]> {
  const code = await hasher.fingerprint(entries);
  if (stage.files === undefined || stage.files.length === 0) return code;
  const files = {
    ...code.files,
    ...await hasher.dataFiles(stage.name, stage.files),
  };
  const sorted: Record<string, string> = {};
  for (const path of Object.keys(files).sort()) sorted[path] = files[path];
  return { files: sorted, packages: code.packages };
}
