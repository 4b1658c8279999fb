/**
 * The command line's words: the `--help` text, commands, flags and where each flag applies.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { ExecutorName } from "./scale.ts";
import { type ParamOverride, parseOverride } from "../plan/params.ts";

export { commandHelp, HELP } from "../cli_help.ts";

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
  | "help"
  | "version";

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
  /** `COMMAND --help` or `help COMMAND`: whose help to print. */
  helpFor?: Command;
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
  // Help comes before every other check: `gc --help --bogus` still helps.
  if (args.includes("-h") || args.includes("--help")) {
    return { ...parsed, command: "help", helpFor: commandNamed(args) };
  }
  if (args.includes("--version")) return { ...parsed, command: "version" };
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
  if (parsed.command === "help") {
    return { ...parsed, helpFor: commandNamed(parsed.targets), targets: [] };
  }
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
    parsed.json &&
      !["status", "worker", "verify", "gc", "run"].includes(parsed.command),
    "--json",
    "status, run --dry-run, verify, gc and worker",
  );
  if (parsed.json && parsed.command === "run" && !parsed.dryRun) {
    throw new UserError(
      "run --json prints the plan and needs --dry-run (a run prints its progress); see run --help",
    );
  }
  if (parsed.json && parsed.command === "gc" && !parsed.dryRun && !parsed.yes) {
    throw new UserError(
      "gc --json cannot ask before deleting: add --dry-run to list what would go, or --yes to delete",
    );
  }
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

/** The first command name among `words` (other than `help`), if any. */
function commandNamed(words: readonly string[]): Command | undefined {
  return words.find((word): word is Command =>
    word !== "help" && (COMMANDS as readonly string[]).includes(word)
  );
}
