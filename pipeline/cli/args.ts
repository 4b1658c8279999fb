/**
 * The command line's words: the `--help` text, commands, flags and where each flag applies.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { ExecutorName } from "./scale.ts";
import { type ParamOverride, parseOverride } from "../plan/params.ts";

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
  push               upload the current stages' cached results to the remote store
  pull               download the current stages' results from the remote store
  worker KEY         compute the one instance with this key (started by run
                     --jobs N and --executor slurm; refuses if its plan differs;
                     --recompute: even if the store has its result)
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
  --jobs N              run: instances at once, each in a worker process
                        (default: cores / the cpus one instance declares)
  --executor NAME       run: local (default) or slurm (one sbatch job per
                        instance; needs the remote store)
  --json                status: print JSON [{"stage","state","reasons","why"}]
                        (reasons: as status prints them; why: the same as
                        objects with a "kind", e.g. {"kind":"code",
                        "file":"models/mlp.ts"}); worker: events as JSON lines
  --mermaid             dag: print a Mermaid flowchart block
  -h, --help            print this text

Remote store: PIPELINE_REMOTE=s3://BUCKET/PREFIX (or "remote" in
pipeline.config.json), credentials and endpoint from AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION.

Exit codes: 0 ok, 1 stage failed / lock busy / verify found corruption,
2 usage or config error, 130 interrupted.`;

/** A CLI command name. */
export type Command =
  | "run"
  | "status"
  | "dag"
  | "gc"
  | "verify"
  | "push"
  | "pull"
  | "worker"
  | "help";

const COMMANDS: readonly Command[] = [
  "run",
  "status",
  "dag",
  "gc",
  "verify",
  "push",
  "pull",
  "worker",
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
  /** `--jobs N`. */
  jobs?: number;
  /** `worker --recompute`. */
  recompute: boolean;
  /** `--executor`. */
  executor: ExecutorName;
  /** The `--set` and `--params` flags as given (passed on to workers). */
  planArgs: string[];
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
    executor: "local",
    recompute: false,
    planArgs: [],
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
      case "--set": {
        const text = value();
        parsed.overrides.push(parseOverride(text));
        parsed.planArgs.push("--set", text);
        break;
      }
      case "--params":
        parsed.paramsFile = value();
        parsed.planArgs.push("--params", parsed.paramsFile);
        break;
      case "--jobs": {
        const text = value();
        const jobs = Number(text);
        if (!Number.isInteger(jobs) || jobs < 1) {
          throw new UserError(
            `--jobs takes a whole number of at least 1, got ${text}`,
          );
        }
        parsed.jobs = jobs;
        break;
      }
      case "--recompute":
        noValue();
        parsed.recompute = true;
        break;
      case "--executor": {
        const name = value();
        if (name !== "local" && name !== "slurm") {
          throw new UserError(
            `--executor is local or slurm, got ${JSON.stringify(name)}`,
          );
        }
        parsed.executor = name;
        break;
      }
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
  misplaced(
    parsed.json && !["status", "worker"].includes(parsed.command),
    "--json",
    "status and worker",
  );
  misplaced(
    parsed.jobs !== undefined && parsed.command !== "run",
    "--jobs",
    "run",
  );
  misplaced(
    parsed.executor !== "local" && parsed.command !== "run",
    "--executor",
    "run",
  );
  misplaced(
    parsed.recompute && parsed.command !== "worker",
    "--recompute",
    "worker",
  );
  if (parsed.command === "worker" && parsed.targets.length !== 1) {
    throw new UserError("worker takes exactly one instance key; see --help");
  }
  misplaced(parsed.mermaid && parsed.command !== "dag", "--mermaid", "dag");
  if (
    parsed.targets.length > 0 &&
    !["run", "status", "worker"].includes(parsed.command)
  ) {
    throw new UserError(
      `${parsed.command} takes no stage names (got ${
        parsed.targets.join(" ")
      }); see --help`,
    );
  }
  return parsed;
}
