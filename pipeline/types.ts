/**
 * The declaration types: stages, pipelines and the context a stage's `run()` receives.
 *
 * @module
 */
import type { z } from "zod";

/** A JSON value (what params and matrix values are made of). */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * The item of a swept instance: each swept param path (and the foreach key, e.g. `seed`)
 * with this instance's value, e.g. `{ "train.alpha": 0.01, seed: 3 }`.
 */
export type ItemRecord = Readonly<Record<string, JsonValue>>;

/**
 * What an instance was fanned out over: the foreach value (a seed) for a stage that no matrix
 * axis sweeps, else an {@link ItemRecord}. A stage that a sweep does not touch keeps its plain
 * item, and so its key.
 */
export type Item = string | number | ItemRecord;

/** A progress bar handle returned by {@link StageContext.progress}. */
export interface Progress {
  /** Reports `done` units out of the total, with optional fields such as `{ loss: 0.41 }`. */
  update(done: number, fields?: Record<string, string | number>): void;
  /** Ends the bar; `summary` becomes its final line. */
  done(summary?: string): void;
}

/** Options of {@link StageContext.progress}. */
export interface ProgressOptions {
  /** What is counted, e.g. `epoch 3/10` or `download train-images`. */
  label: string;
  /** Units in all. */
  total: number;
  /** Unit name; `"bytes"` renders KiB/MiB and MiB/s. Default `"it"`. */
  unit?: string;
}

/** What an upstream instance looks like to a downstream stage. */
export interface UpstreamInfo {
  /** The upstream instance's key. */
  key: string;
  /**
   * Absolute directory of the outputs this stage reads from it (verified copies of exactly the
   * files its key names); only for DIRECT upstream instances, since only they are in its key.
   */
  dir?: string;
  /** Seconds its computation took when it ran (from its manifest). */
  seconds: number;
  /** Whether this run took it from the cache (true) rather than running it (false). */
  cached: boolean;
  /** Its declaration's name, e.g. `train_rdrop`. */
  stage: string;
  /** Its item (see {@link Item}); undefined for a stage that does not fan out. */
  item?: Item;
}

/** What a stage's `run()` receives. */
export interface StageContext<P> {
  /** Instance name, e.g. `train_rdrop@0`. */
  name: string;
  /** This stage's params, as its `params` selector returned them. */
  params: P;
  /**
   * The item of this instance (see {@link Item}); undefined for a stage that does not fan out.
   * Read it with `itemValue(ctx.item, "seed")` rather than parsing the instance name.
   */
  item?: Item;
  /** The whole validated params. */
  allParams: unknown;
  /** DIRECT upstream instance name -> absolute dir of its outputs. */
  inputs: Record<string, string>;
  /** ALL transitive upstream instances by instance name. */
  upstream: Record<string, UpstreamInfo>;
  /** The DAG (instances) as a Mermaid flowchart, without the ``` fence. */
  mermaid: string;
  /**
   * The arguments the user gave the pipeline command (`deno task pipeline ARGS`), the same in a
   * worker process or a Slurm job (whose own `Deno.args` are the worker's); undefined when the
   * engine was called without them.
   */
  args?: readonly string[];
  /** Absolute fresh temp dir; run() writes its declared outputs here. */
  outDir: string;
  /** Persistent per stage key (checkpoints); kept when the run fails, deleted on success. */
  scratchDir: string;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  /** A line of stage output. */
  log(line: string): void;
  /** Starts a progress bar. */
  progress(options: ProgressOptions): Progress;
}

/**
 * One stage declaration. `A` is the pipeline's validated params type, `P` this stage's params.
 * Members are declared as methods so that a list of stages with different `P` is assignable to
 * the pipeline's stage list.
 */
export interface StageDeclaration<A, P> {
  /** Unique name, `/^[a-z][a-z0-9_]*$/`. */
  name: string;
  /** One line saying what the stage does (shown by `dag`). */
  description?: string;
  /** Names of upstream declarations. */
  deps?: readonly string[];
  /** Selects/derives this stage's params from the validated params; JSON-serialisable. */
  params?(all: A): P;
  /** Optional fan-out: one instance per item, named `name@item`. */
  foreach?(all: A): readonly (string | number)[];
  /**
   * The param (dotted key path, e.g. `seeds`) that `foreach` takes its items from, so that
   * messages about items speak of the param the user sets (`no seeds item 7 (seeds are [0])`).
   */
  foreachParam?: string;
  /** The foreach value's name in a swept instance's item (`seed`); default `item`. */
  foreachKey?: string;
  /**
   * The params matrix this stage may be swept by (see `matrix.ts`): a nested object whose
   * leaves list values, e.g. `(p) => p.matrix`. The stage gets one instance per combination
   * of the axes that change its params (and of its upstream's axes), each cached on its own.
   */
  matrix?(all: A): unknown;
  /**
   * Which items of the fan-out (foreach x matrix) exist, when not all of them do: a sequential
   * design grows its instances round by round (more seeds for some arms only), e.g.
   * `include: (p, item) => Number(item.seed) < p.rounds.seeds`. Default: every item. A stage
   * that depends on this one should include the same items (it needs one upstream per item).
   */
  include?(all: A, item: ItemRecord): boolean;
  /** Files (relative paths) run() must write in outDir: every file it may write. */
  outputs: readonly string[];
  /**
   * The subset of `outputs` an instance writes, when that depends on the params (a report
   * without a sweep draws no sweep charts); default all of `outputs`.
   */
  outputsFor?(all: A): readonly string[];
  /**
   * Which of `outputs` holds this stage's metrics (flat JSON object of numbers, or nested):
   * `exp show` lists it for every finished instance in the cache.
   */
  metrics?: string;
  /** Module whose local import graph is this stage's code (use `import.meta.url`). */
  code: string;
  /**
   * Further modules an instance runs that no import in `code`'s graph names literally (a module
   * loaded through a computed specifier, such as a training backend chosen by a param), from this
   * instance's params. Their graphs join the instance's code in its key.
   */
  codeFor?(params: P): readonly (string | URL)[];
  /**
   * Which outputs of each upstream stage `run()` reads (upstream declaration name -> files);
   * default all of them. Only these are in the key and only these are in the stage's input
   * directories, so an upstream output the stage ignores (a timing record) does not rerun it.
   */
  reads?: Readonly<Record<string, readonly string[]>>;
  /**
   * Root-relative files the stage reads without importing them (small configs, hash lists).
   * They are hashed into the key like code, so status names them as `code changed (path)`.
   * Large data should come from an upstream stage instead: these are re-hashed on every run.
   */
  files?: readonly string[];
  /** Directory relative to root where outputs are checked out; default `.pipeline/out/<instance>`. */
  workspace?: string;
  /**
   * What one instance needs to run, from the params (threads may be a param), e.g.
   * `resources: (p) => ({ cpus: p.train.threads })`: the default `--jobs` is the cores divided
   * by the most `cpus` an instance needs, and the Slurm executor asks for all of it
   * (overridable per stage in `pipeline.config.json`).
   */
  resources?(all: A): StageResources;
  /** Does the work. */
  run(ctx: StageContext<P>): Promise<void> | void;
}

/** What one instance of a stage needs. */
export interface StageResources {
  /** CPU cores (threads) one instance keeps busy. Default 1. */
  cpus?: number;
  /** Memory, in Slurm's notation (`4G`, `500M`). */
  memory?: string;
  /** GPUs. */
  gpus?: number;
  /** Wall-time limit, in Slurm's notation (`1:00:00`). */
  time?: string;
}

/** A stage declaration whose own params type is erased (as a pipeline holds it). */
// deno-lint-ignore no-explicit-any
export type AnyStage<A> = StageDeclaration<A, any>;

/** A pipeline declaration. */
export interface PipelineDeclaration<S extends z.ZodType = z.ZodType> {
  /** zod schema of the whole params file (with defaults). */
  params: S;
  /** Params file relative to root; a missing file means all defaults. */
  paramsFile: string;
  /** The stages, in any order. */
  stages: readonly AnyStage<z.output<S>>[];
  /**
   * Settles what a param means on this machine before anything is planned (e.g. which backend
   * `auto` is), so keys see the value that runs. Called once per command, only where params
   * are loaded; it may probe hardware, so it should skip what the params do not ask for.
   */
  resolveParams?(params: z.output<S>): Promise<z.output<S>>;
  /**
   * Data-dependent instances: a decision stage reads finished results and says what the next
   * round adds (see `rounds.ts`). Without it a run is one round.
   */
  rounds?: RoundsDeclaration;
  /** Lines printed after a successful run; `outputs` maps instance name -> output dir. */
  summary?(
    outputs: Record<string, string>,
  ): Promise<string | string[]> | string | string[];
}

/**
 * A pipeline that runs in rounds (cf. Snakemake's `checkpoint`): each round is a normal cached
 * run up to the decision stage; the decision stage's output (cached like any result) gives the
 * param overrides of the next round, or says it is decided, and then the whole pipeline runs.
 * A rerun replays the rounds from the cache and computes nothing.
 */
export interface RoundsDeclaration {
  /** The decision stage (a declaration with one instance). */
  stage: string;
  /** Its output (JSON) that holds the decision. */
  file: string;
  /**
   * The `--set`-style overrides of the next round from the decision (the parsed `file`), or
   * null once it is decided. Must be a pure function of the decision.
   */
  next(decision: unknown): readonly { path: string[]; value: unknown }[] | null;
  /** One line about a round's decision, for status and the run's output. */
  describe?(decision: unknown): string;
  /** At most this many rounds (default 100): a guard against a decision that never decides. */
  maxRounds?: number;
}
