/**
 * The command line: `run` (default), `status`, `dag`, `gc`, `verify`, `push`, `pull`, `worker`,
 * `help` (the words are parsed in `cli_args.ts`; executors, the remote and workers in
 * `cli_scale.ts`).
 *
 * Exit codes: 0 success, 1 stage failure / busy lock / verify found corruption, 2 usage or
 * config error, 130 interrupted (Ctrl-C).
 *
 * @module
 */
import {
  type EngineOptions,
  pipelineStatus,
  planPipeline,
  rootPath,
  type StatusEntry,
} from "../engine.ts";
import { chooseExecutor, openSite, transferCli, workerCli } from "./scale.ts";
import { openRemote, readSiteConfig } from "../config.ts";
import {
  checkRemoteForLookups,
  type Decided,
  remoteNotChecked,
} from "../plan/decide.ts";
import { labelParallel } from "./parallel_labels.ts";
import { runExpCli } from "./exp.ts";
import type { WorkerCommandOptions } from "../executor/worker_command.ts";
import type { S3Hooks } from "../store/s3.ts";
import {
  DiskFullError,
  fileSystemError,
  isUserError,
  permissionError,
  UserError,
} from "../errors.ts";
import { collectGarbage, type GcResult } from "../gc.ts";
import { verifyPipeline } from "../verify.ts";
import { toText } from "../plan/graph.ts";
import { formatBytes } from "../progress.ts";
import {
  formatReason,
  formatReasons,
  type StaleReason,
} from "../plan/reasons.ts";
import { roundLine, TerminalRenderer } from "./render.ts";
import {
  roundsStatus,
  type RoundStatus,
  runRounds,
  runsInRounds,
  statusOf,
} from "../plan/rounds.ts";
import type { PipelineDeclaration } from "../types.ts";
import type { PipelineEvent } from "../events.ts";
import { type CliArgs, commandHelp, parseCliArgs } from "./args.ts";
import { dryRunJson, gcJson, statusJson, verifyJson } from "./json.ts";

export { type CliArgs, type Command, HELP, parseCliArgs } from "./args.ts";
import {
  describeHolder,
  type RemoteStore,
  RunLockBusyError,
} from "../store/mod.ts";

/** Options of {@link runCli}. */
export interface CliOptions {
  /** Project root (path or file: URL). */
  root: string | URL;
  /** Standard output; default Deno.stdout. */
  stdout?: (text: string) => void;
  /** Standard error; default Deno.stderr. */
  stderr?: (text: string) => void;
  /** Whether stdout is a terminal; default Deno.stdout.isTerminal(). */
  tty?: boolean;
  /** Whether to use colors; default: tty and NO_COLOR unset. */
  color?: boolean;
  /** Abort signal; when omitted, runCli listens for SIGINT itself. */
  signal?: AbortSignal;
  /** Import map for code hashing (default: `<root>/deno.json`). */
  importMap?: Record<string, string>;
  /**
   * When the stage modules were imported (ms since the epoch): a program's entry module passes
   * its process start (`performance.timeOrigin`), so that a code file edited after it makes a
   * result unpublishable (see EngineOptions.codeLoadedSince).
   */
  codeLoadedSince?: number;
  /** Whether stdin is a terminal (gc asks there); default Deno.stdin.isTerminal(). */
  stdinTty?: boolean;
  /** Asks a yes/no question on the terminal; default reads a line from stdin. */
  ask?: (question: string) => Promise<boolean>;
  /** How workers start (default: deno.json's `pipeline` task flags and this entry module). */
  worker?: WorkerCommandOptions;
  /** Fault injection for the remote store (tests). */
  remoteHooks?: S3Hooks;
  /** What `--version` prints before the Deno version, e.g. `rdrop-pipeline 0.1.0`. */
  version?: string;
  /** The remote store that `status` and `run --dry-run` look results up in (tests; default: configured). */
  remote?: RemoteStore;
}

/**
 * Exit code when the reader of stdout went away (`... | head -2`): what a shell reports for a
 * process that SIGPIPE ended (128 + 13), quietly, as other command-line tools end there.
 */
export const BROKEN_PIPE_EXIT = 141;

function writer(stream: { writeSync(p: Uint8Array): number }) {
  const encoder = new TextEncoder();
  return (text: string) => {
    let data = encoder.encode(text);
    try {
      while (data.length > 0) data = data.subarray(stream.writeSync(data));
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe) Deno.exit(BROKEN_PIPE_EXIT);
      throw error;
    }
  };
}

function noColorSet(): boolean {
  try {
    // Read live where allowed (without --allow-env, reading would prompt on a terminal)...
    const state =
      Deno.permissions.querySync({ name: "env", variable: "NO_COLOR" }).state;
    if (state === "granted") return (Deno.env.get("NO_COLOR") ?? "") !== "";
  } catch {
    // fall through
  }
  // ...else what NO_COLOR was at startup, which needs no permission.
  return Deno.noColor;
}

/** Runs the CLI; returns the exit code (pass it to Deno.exit). */
export async function runCli<S extends PipelineDeclaration>(
  pipeline: S,
  args: readonly string[],
  options: CliOptions,
): Promise<number> {
  const stdout = options.stdout ?? writer(Deno.stdout);
  const stderr = options.stderr ?? writer(Deno.stderr);
  const tty = options.tty ?? Deno.stdout.isTerminal();
  const color = options.color ?? (tty && !noColorSet());
  const renderer = new TerminalRenderer({ write: stdout, tty, color });
  // `exp` has its own flags (exp_cli.ts); nothing else here changes for it.
  if (args[0] === "exp") {
    try {
      return await runExpCli(pipeline, args.slice(1), {
        root: rootPath(options.root),
        stdout,
      });
    } catch (error) {
      return reportError(error, stderr);
    }
  }
  let parsed: CliArgs;
  try {
    parsed = parseCliArgs(args);
  } catch (error) {
    return reportError(error, stderr);
  }
  const engine: EngineOptions = {
    root: options.root,
    args,
    paramsFile: parsed.paramsFile,
    overrides: parsed.overrides,
    onEvent: parsed.json
      // With --json, stdout is the JSON alone: the plan is printed from the result, anything
      // else (a warning) goes to stderr.
      ? (() => {
        const toStderr = new TerminalRenderer({
          write: stderr,
          tty: false,
          color: false,
        });
        return (event: PipelineEvent) => {
          if (event.type !== "plan") toStderr.handle(event);
        };
      })()
      : labelParallel((event) => renderer.handle(event)),
    importMap: options.importMap,
    codeLoadedSince: options.codeLoadedSince,
  };
  try {
    switch (parsed.command) {
      case "help":
        stdout(`${commandHelp(parsed.helpFor)}\n`);
        return 0;
      case "version":
        stdout(
          `${options.version ?? "pipeline"} (deno ${Deno.version.deno})\n`,
        );
        return 0;
      case "dag": {
        const plan = await planPipeline(pipeline, engine);
        stdout(
          parsed.mermaid
            ? "```mermaid\n" + plan.mermaid + "\n```\n"
            : toText(plan.instances) + "\n",
        );
        return 0;
      }
      case "status": {
        const warn = (message: string) => stderr(`warning: ${message}\n`);
        const statusOptions = {
          ...engine,
          targets: parsed.targets,
          remote: await remoteForLookups(rootPath(options.root), {
            hooks: options.remoteHooks,
            remote: options.remote,
            warn,
          }),
          onWarning: warn,
        };
        if (await runsInRounds(pipeline, statusOptions)) {
          return await roundsStatusCommand(pipeline, statusOptions, {
            json: parsed.json,
            stdout,
          });
        }
        const entries = await pipelineStatus(pipeline, statusOptions);
        if (parsed.json) {
          stdout(statusJson(entries));
        } else {
          printStatus(entries, stdout);
        }
        return 0;
      }
      case "gc":
        return await gcCommand(pipeline, parsed, engine, options, stdout);
      case "verify": {
        const result = await verifyPipeline(pipeline, engine);
        if (parsed.json) {
          stdout(verifyJson(result));
          return result.problems.length === 0 ? 0 : 1;
        }
        const where = {
          store: "cached object",
          workspace: "checked-out file",
          manifest: "cache entry",
        } as const;
        for (const problem of result.problems) {
          const detail = problem.detail === undefined
            ? ""
            : `: ${problem.detail}`;
          stdout(
            `${problem.problem}  ${problem.instance}  ${problem.output}  (${
              where[problem.where]
            }${detail})\n`,
          );
        }
        stdout(
          result.problems.length === 0
            ? `verify: ${result.checked} file(s) checked, all match their hashes\n`
            : `verify: ${result.problems.length} of ${result.checked} file(s) missing or corrupt; run the pipeline to restore or recompute them\n`,
        );
        return result.problems.length === 0 ? 0 : 1;
      }
      case "run":
        return await runCommand(pipeline, parsed, engine, options, {
          stdout,
          // A message on stderr (Ctrl-C) must not be glued to a bar drawn on stdout.
          stderr: (text) => {
            renderer.breakLine();
            stderr(text);
          },
        });
      case "push":
      case "pull":
        return await transferCli(pipeline, parsed.command, {
          engine,
          stdout,
          hooks: options.remoteHooks,
        });
      case "worker":
        return await withSigint(
          options,
          stderr,
          (signal) =>
            workerCli(pipeline, parsed.targets[0], {
              engine,
              json: parsed.json,
              recompute: parsed.recompute,
              signal,
              stdout,
              hooks: options.remoteHooks,
            }),
        );
      default: {
        const unknown: never = parsed.command;
        throw new Error(`unhandled command ${unknown}`);
      }
    }
  } catch (error) {
    return reportError(error, stderr);
  }
}

async function runCommand<S extends PipelineDeclaration>(
  pipeline: S,
  parsed: CliArgs,
  engine: EngineOptions,
  options: CliOptions,
  { stdout, stderr }: {
    stdout: (text: string) => void;
    stderr: (text: string) => void;
  },
): Promise<number> {
  const root = rootPath(options.root);
  // Credentials, the bucket and conditional writes are checked before anything runs.
  // A dry run only reads the remote (to say what the run would pull), and never fails on it.
  const site = parsed.dryRun
    ? {
      config: await readSiteConfig(root),
      remote: await remoteForLookups(root, {
        hooks: options.remoteHooks,
        remote: options.remote,
        warn: (message) => stderr(`warning: ${message}\n`),
      }),
    }
    : await openSite(root, { publish: true, hooks: options.remoteHooks });
  const executor = parsed.dryRun ? undefined : await chooseExecutor(pipeline, {
    root,
    scale: parsed,
    site,
    worker: options.worker,
  });
  return await withSigint(options, stderr, async (signal) => {
    const result = await runRounds(pipeline, {
      ...engine,
      remote: site.remote,
      executor,
      targets: parsed.targets,
      force: parsed.force,
      dryRun: parsed.dryRun,
      wait: parsed.wait,
      signal,
      command: ["run", ...parsed.targets].join(" "),
    });
    if (parsed.json) stdout(dryRunJson(result.plan));
    switch (result.outcome) {
      case "success":
      case "dry-run":
        return 0;
      case "failed":
        return 1;
      case "interrupted":
        return 130;
    }
  });
}

/**
 * The remote store for status and dry-run lookups, when one is configured and answers; else
 * undefined, after one `remote not checked (…)` warning (a missing credential or an unreachable
 * server must not fail a command that only informs).
 */
async function remoteForLookups(
  root: string,
  options: {
    hooks?: S3Hooks;
    remote?: RemoteStore;
    warn: (message: string) => void;
  },
): Promise<RemoteStore | undefined> {
  let remote: RemoteStore | undefined;
  try {
    remote = options.remote ??
      await openRemote(await readSiteConfig(root), options.hooks);
  } catch (error) {
    if (!isUserError(error)) throw error;
    options.warn(remoteNotChecked((error as Error).message));
    return undefined;
  }
  if (remote === undefined) return undefined;
  const problem = await checkRemoteForLookups(remote);
  if (problem === undefined) return remote;
  options.warn(remoteNotChecked(problem));
  return undefined;
}

/**
 * SIGINTs closer together than this are one Ctrl-C. At a terminal Ctrl-C goes to the whole
 * foreground process group, so the same key press arrives twice: from the terminal and again
 * from `deno task`, which forwards it to its child (and a worker gets the terminal's and then its
 * coordinator's). Counting those as two skipped the graceful stop.
 */
export const SAME_CTRL_C_MS = 1000;

/**
 * Runs `work` with a signal that the first Ctrl-C or a SIGTERM aborts; a second Ctrl-C (at
 * least {@link SAME_CTRL_C_MS} after the first) exits at once.
 */
async function withSigint(
  options: CliOptions,
  stderr: (text: string) => void,
  work: (signal: AbortSignal) => Promise<number>,
): Promise<number> {
  if (options.signal !== undefined) return await work(options.signal);
  const controller = new AbortController();
  let firstAt: number | undefined;
  const onSigint = () => {
    const now = performance.now();
    if (firstAt !== undefined) {
      if (now - firstAt < SAME_CTRL_C_MS) return;
      stderr("second Ctrl-C: exiting now\n");
      Deno.exit(130);
    }
    firstAt = now;
    stderr(
      "Ctrl-C: stopping the running stages (Ctrl-C again to exit at once)\n",
    );
    controller.abort();
  };
  // SIGTERM (Slurm preempting or cancelling a job) stops as cleanly as Ctrl-C.
  const onSigterm = () => controller.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);
  try {
    return await work(controller.signal);
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    Deno.removeSignalListener("SIGTERM", onSigterm);
  }
}

async function gcCommand<S extends PipelineDeclaration>(
  pipeline: S,
  parsed: CliArgs,
  engine: EngineOptions,
  options: CliOptions,
  stdout: (text: string) => void,
): Promise<number> {
  const tty = options.stdinTty ?? Deno.stdin.isTerminal();
  if (!parsed.dryRun && !parsed.yes && !tty) {
    throw new UserError(
      "gc deletes cached results and asks first, but stdin is not a terminal; " +
        "rerun with --yes to delete without asking (or --dry-run to list what would go)",
    );
  }
  const ask = options.ask ?? askOnTerminal;
  const list = (result: GcResult) => {
    for (const item of result.items) {
      const what = item.instance === undefined
        ? item.kind
        : `${item.kind} (${item.instance})`;
      stdout(
        `  ${formatBytes(item.bytes).padStart(10)}  ${what}  ${item.path}\n`,
      );
    }
  };
  const summary = (result: GcResult) =>
    `${result.manifests} manifest(s), ${result.objects} object(s), ${result.dirs} scratch/temp item(s), ${
      formatBytes(result.bytes)
    }`;
  const result = await collectGarbage(pipeline, {
    ...engine,
    dryRun: parsed.dryRun,
    wait: parsed.wait,
    onWait: (holder) =>
      stdout(
        `waiting for the run holding .pipeline/run.lock (${
          describeHolder(holder)
        })\n`,
      ),
    confirm: parsed.yes ? undefined : async (found) => {
      list(found);
      return await ask(`gc: delete ${summary(found)}? [y/N] `);
    },
  });
  if (parsed.json) {
    stdout(gcJson(result, parsed.dryRun));
  } else if (parsed.dryRun) {
    list(result);
    stdout(`gc --dry-run: would delete ${summary(result)}\n`);
  } else if (result.items.length === 0) {
    stdout("gc: nothing to delete\n");
  } else if (result.kept) {
    stdout("gc: nothing deleted\n");
  } else {
    stdout(`gc: deleted ${summary(result)}\n`);
  }
  return 0;
}

/** Prints `question` and reads one line from stdin: true for y/yes. */
async function askOnTerminal(question: string): Promise<boolean> {
  await Deno.stdout.write(new TextEncoder().encode(question));
  const buffer = new Uint8Array(1024);
  const n = await Deno.stdin.read(buffer);
  const answer = n === null
    ? ""
    : new TextDecoder().decode(buffer.subarray(0, n));
  return /^\s*y(es)?\s*$/i.test(answer);
}

function reportError(error: unknown, stderr: (text: string) => void): number {
  if (error instanceof RunLockBusyError || error instanceof DiskFullError) {
    stderr(`error: ${error.message}\n`);
    return 1;
  }
  const denied = permissionError(error);
  if (denied !== undefined) {
    stderr(`error: ${denied.message}\n`);
    return 2;
  }
  const refused = fileSystemError(error);
  if (refused instanceof DiskFullError) {
    stderr(`error: ${refused.message}\n`);
    return 1;
  }
  if (refused !== undefined) {
    stderr(`error: ${refused.message}\n`);
    return 2;
  }
  if (isUserError(error)) {
    stderr(`error: ${(error as Error).message}\n`);
    return 2;
  }
  stderr(
    `error: ${
      error instanceof Error ? error.stack ?? error.message : String(error)
    }\n`,
  );
  return 1;
}

/** One entry of `status --json`: `reasons` in words (as before), `why` as typed values. */
interface StatusJson {
  stage: string;
  state: StatusEntry["state"];
  reasons: string[];
  why: StaleReason[];
}

function roundStatusJson(entry: StatusEntry): StatusJson {
  return {
    stage: entry.stage,
    state: entry.state,
    reasons: entry.reasons.map(formatReason),
    why: entry.reasons,
  };
}

function printStatus(
  entries: readonly StatusEntry[],
  stdout: (text: string) => void,
): void {
  for (const entry of entries) {
    stdout(
      entry.state === "fresh"
        ? `fresh  ${entry.stage}\n`
        : `${entry.state.padEnd(6)} ${entry.stage}: ${
          formatReasons(entry.reasons)
        }\n`,
    );
  }
  const count = (state: StatusEntry["state"]) =>
    entries.filter((entry) => entry.state === state).length;
  stdout(
    `${count("stale")} stale, ${
      count("pending")
    } pending (run only if an upstream's outputs change), ${
      count("fresh")
    } fresh\n`,
  );
}

/** `status` of a pipeline with rounds: each round's new instances under its header. */
async function roundsStatusCommand<S extends PipelineDeclaration>(
  pipeline: S,
  options: Parameters<typeof roundsStatus>[1],
  io: { json: boolean; stdout: (text: string) => void },
): Promise<number> {
  const { rounds } = await roundsStatus(pipeline, options);
  // An earlier round's decision is in the cache (a run restores it as it replays the round);
  // that it is not the one checked out now is no reason to call it stale.
  const replayed = (round: RoundStatus, d: Decided): StatusEntry =>
    round.state === "next" && d.decision === "restore" &&
      d.instance.stage.name === pipeline.rounds?.stage
      ? { stage: d.instance.name, state: "fresh", reasons: [] }
      : statusOf(d);
  if (io.json) {
    io.stdout(
      JSON.stringify(
        rounds.flatMap((r) =>
          r.instances.map((d) => ({
            round: r.round,
            ...roundStatusJson(replayed(r, d)),
          }))
        ),
        null,
        2,
      ) + "\n",
    );
    return 0;
  }
  for (const round of rounds) {
    io.stdout(
      `${roundLine({ type: "round", round: round.round, state: "start" })}\n`,
    );
    printStatus(round.instances.map((d) => replayed(round, d)), io.stdout);
    io.stdout(
      `${
        roundLine({
          type: "round",
          round: round.state === "unknown" ? round.round + 1 : round.round,
          state: round.state === "unknown" ? "unknown" : "decided",
          note: round.note ??
            (round.state === "decided" ? "done" : "another round"),
        })
      }\n`,
    );
  }
  return 0;
}
