/**
 * The command line: `run` (default), `status`, `dag`, `gc`, `verify`, `help`.
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
  runPipeline,
} from "./engine.ts";
import {
  DiskFullError,
  isUserError,
  permissionError,
  UserError,
} from "./errors.ts";
import { collectGarbage, type GcResult } from "./gc.ts";
import { verifyPipeline } from "./verify.ts";
import { toText } from "./graph.ts";
import { type ParamOverride, parseOverride } from "./params.ts";
import { formatBytes } from "./progress.ts";
import { TerminalRenderer } from "./render.ts";
import type { PipelineDeclaration } from "./types.ts";
import { describeHolder, RunLockBusyError } from "./run_lock.ts";
import { runExpCli } from "./exp_cli.ts";

/** The `--help` text. */
export const HELP = `Usage: deno task pipeline [COMMAND] [STAGE...] [FLAGS]

Commands:
  run [STAGE...]     run every stale stage in order (the default command); naming
                     STAGE (or STAGE@ITEM) runs only it and its upstream
  status [STAGE...]  list each stage instance as fresh or stale, with every reason
  dag                print the stage graph (one instance per line)
  gc                 delete cached results that neither the current params nor the
                     checked-out results use; lists them and asks first
  verify             re-hash checked-out outputs and cached objects of the current
                     stages and check their manifests; exit 1 if any is corrupt
  exp show|diff|remove  every finished experiment in the cache (see exp --help)
  help               print this text

Flags:
  --set KEY.PATH=VALUE  override a param (repeatable); VALUE is parsed as JSON
                        where it parses, else taken as a string
  --params FILE         use FILE instead of the pipeline's params file
  --force STAGE         rerun STAGE (or STAGE@ITEM) and everything downstream of
                        it, cached or not (repeatable)
  --dry-run             run: say what would run and why, run nothing;
                        gc: list what would be deleted and its size
  --wait                run, gc: if another run holds .pipeline/run.lock, wait
                        for it to finish instead of refusing
  --yes                 gc: delete without asking (required when stdin is not
                        a terminal)
  --json                status: print JSON [{"stage","state","reasons"}]
  --mermaid             dag: print a Mermaid flowchart block
  -h, --help            print this text

Exit codes: 0 ok, 1 stage failed / lock busy / verify found corruption,
2 usage or config error, 130 interrupted.`;

/** A CLI command name. */
export type Command = "run" | "status" | "dag" | "gc" | "verify" | "help";

const COMMANDS: readonly Command[] = [
  "run",
  "status",
  "dag",
  "gc",
  "verify",
  "help",
];

/** Parsed command line. */
export interface CliArgs {
  /** The command. */
  command: Command;
  /** Positional stage names. */
  targets: string[];
  /** `--set` overrides. */
  overrides: ParamOverride[];
  /** `--params FILE`. */
  paramsFile?: string;
  /** `--force STAGE`. */
  force: string[];
  /** `--dry-run`. */
  dryRun: boolean;
  /** `--json`. */
  json: boolean;
  /** `--mermaid`. */
  mermaid: boolean;
  /** `--wait`. */
  wait: boolean;
  /** `--yes`. */
  yes: boolean;
}

/** Parses arguments; unknown flags and misplaced flags are a {@link UserError}. */
export function parseCliArgs(args: readonly string[]): CliArgs {
  const parsed: CliArgs = {
    command: "run",
    targets: [],
    overrides: [],
    force: [],
    dryRun: false,
    json: false,
    mermaid: false,
    wait: false,
    yes: false,
  };
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new UserError(`${flag} needs a value; see --help`);
      }
      i++;
      return next;
    };
    const noValue = () => {
      if (inline !== undefined) {
        throw new UserError(`${flag} takes no value; see --help`);
      }
    };
    switch (flag) {
      case "--set":
        parsed.overrides.push(parseOverride(value()));
        break;
      case "--params":
        parsed.paramsFile = value();
        break;
      case "--force":
        parsed.force.push(value());
        break;
      case "--dry-run":
        noValue();
        parsed.dryRun = true;
        break;
      case "--json":
        noValue();
        parsed.json = true;
        break;
      case "--mermaid":
        noValue();
        parsed.mermaid = true;
        break;
      case "--wait":
        noValue();
        parsed.wait = true;
        break;
      case "--yes":
        noValue();
        parsed.yes = true;
        break;
      case "-h":
      case "--help":
        parsed.command = "help";
        return parsed;
      default:
        if (arg.startsWith("-")) {
          throw new UserError(`unknown flag ${flag}; see --help`);
        }
        positionals.push(arg);
    }
  }
  if (
    positionals.length > 0 &&
    (COMMANDS as readonly string[]).includes(positionals[0])
  ) {
    parsed.command = positionals.shift() as Command;
  }
  parsed.targets = positionals;
  const misplaced = (cond: boolean, what: string, where: string) => {
    if (cond) {
      throw new UserError(`${what} only applies to ${where}; see --help`);
    }
  };
  misplaced(
    parsed.force.length > 0 && parsed.command !== "run",
    "--force",
    "run",
  );
  misplaced(
    parsed.dryRun && !["run", "gc"].includes(parsed.command),
    "--dry-run",
    "run and gc",
  );
  misplaced(
    parsed.wait && !["run", "gc"].includes(parsed.command),
    "--wait",
    "run and gc",
  );
  misplaced(parsed.yes && parsed.command !== "gc", "--yes", "gc");
  misplaced(parsed.json && parsed.command !== "status", "--json", "status");
  misplaced(parsed.mermaid && parsed.command !== "dag", "--mermaid", "dag");
  if (
    parsed.targets.length > 0 &&
    !["run", "status"].includes(parsed.command)
  ) {
    throw new UserError(
      `${parsed.command} takes no stage names (got ${
        parsed.targets.join(" ")
      }); see --help`,
    );
  }
  return parsed;
}

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
  /** Whether stdin is a terminal (gc asks there); default Deno.stdin.isTerminal(). */
  stdinTty?: boolean;
  /** Asks a yes/no question on the terminal; default reads a line from stdin. */
  ask?: (question: string) => Promise<boolean>;
}

function writer(stream: { writeSync(p: Uint8Array): number }) {
  const encoder = new TextEncoder();
  return (text: string) => {
    let data = encoder.encode(text);
    while (data.length > 0) data = data.subarray(stream.writeSync(data));
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
    paramsFile: parsed.paramsFile,
    overrides: parsed.overrides,
    onEvent: (event) => renderer.handle(event),
    importMap: options.importMap,
  };
  try {
    switch (parsed.command) {
      case "help":
        stdout(`${HELP}\n`);
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
        const entries = await pipelineStatus(pipeline, {
          ...engine,
          targets: parsed.targets,
        });
        if (parsed.json) {
          stdout(JSON.stringify(entries, null, 2) + "\n");
        } else {
          for (const entry of entries) {
            stdout(
              entry.state === "fresh"
                ? `fresh  ${entry.stage}\n`
                : `stale  ${entry.stage}: ${entry.reasons.join("; ")}\n`,
            );
          }
        }
        return 0;
      }
      case "gc":
        return await gcCommand(pipeline, parsed, engine, options, stdout);
      case "verify": {
        const result = await verifyPipeline(pipeline, engine);
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
        // A message on stderr (Ctrl-C) must not be glued to a bar drawn on stdout.
        return await runCommand(pipeline, parsed, engine, options, (text) => {
          renderer.breakLine();
          stderr(text);
        });
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
  stderr: (text: string) => void,
): Promise<number> {
  let signal = options.signal;
  let removeListener = () => {};
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    const onSigint = () => {
      if (controller.signal.aborted) {
        stderr("second Ctrl-C: exiting now\n");
        Deno.exit(130);
      }
      stderr(
        "Ctrl-C: stopping the running stage (Ctrl-C again to exit at once)\n",
      );
      controller.abort();
    };
    Deno.addSignalListener("SIGINT", onSigint);
    removeListener = () => Deno.removeSignalListener("SIGINT", onSigint);
  }
  try {
    const result = await runPipeline(pipeline, {
      ...engine,
      targets: parsed.targets,
      force: parsed.force,
      dryRun: parsed.dryRun,
      wait: parsed.wait,
      signal,
      command: ["run", ...parsed.targets].join(" "),
    });
    switch (result.outcome) {
      case "success":
      case "dry-run":
        return 0;
      case "failed":
        return 1;
      case "interrupted":
        return 130;
    }
  } finally {
    removeListener();
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
  if (parsed.dryRun) {
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
