/**
 * The help texts: the overview (`--help`) and one per command (`status --help`, `help gc`).
 *
 * @module
 */

const PLAN_FLAGS =
  `  --set KEY.PATH=VALUE  override a param (repeatable); VALUE is parsed as JSON
                        where it parses, else taken as a string
  --params FILE         use FILE instead of the pipeline's params file`;

const REMOTE = `Remote store: PIPELINE_REMOTE=s3://BUCKET/PREFIX (or "remote" in
pipeline.config.json), credentials and endpoint from AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION.`;

const EXIT_CODES =
  `Exit codes: 0 ok, 1 stage failed / lock busy / verify found corruption,
2 usage or config error, 130 interrupted.`;

/** The `--help` text: every command, the flags most commands take, and where to read more. */
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
                     --jobs N and --executor slurm)
  help [COMMAND]     print this text, or COMMAND's own (same as COMMAND --help)

Flags (COMMAND --help lists the ones it takes):
${PLAN_FLAGS}
  --force STAGE         run: rerun STAGE and everything downstream of it
  --dry-run             run: say what would run and why; gc: list what would go
  --json                status, run --dry-run, verify, gc: print JSON
  --jobs N              run: instances at once, each in a worker process
  --mermaid             dag: print a Mermaid flowchart block
  -h, --help            print help (after a command: that command's)
  --version             print the version

${REMOTE}

${EXIT_CODES}`;

/** A command's own help text, by command name. */
const COMMAND_HELP: Record<string, string> = {
  run: `Usage: deno task pipeline [run] [STAGE...] [FLAGS]

Runs every stale stage instance in order (the default command). Naming STAGE (or
STAGE@ITEM, e.g. train_rdrop@alpha=0.1,seed=0) runs only it and its upstream.
Results come from the cache where they can; a stage whose code, params or inputs
changed is recomputed.

Flags:
${PLAN_FLAGS}
  --force STAGE         rerun STAGE (or STAGE@ITEM) and everything downstream of
                        it, cached or not (repeatable)
  --dry-run             say what would run and why, run nothing
  --json                with --dry-run: print the plan as JSON
                        {"plan": [{"stage","action","reasons","why"}], "counts"}
  --wait                if another run holds .pipeline/run.lock, wait for it
  --jobs N              instances at once, each in a worker process
                        (default: cores / the cpus one instance declares)
  --executor NAME       local (default) or slurm (one sbatch job per instance;
                        needs the remote store)

Ctrl-C stops the running stages and keeps their checkpoints (rerun to continue);
a second Ctrl-C exits at once.

${REMOTE}

${EXIT_CODES}`,
  status: `Usage: deno task pipeline status [STAGE...] [FLAGS]

Lists each stage instance (or only STAGE and its upstream) as fresh, stale or
pending, with every reason, and ends with the counts. Takes no lock; changes
nothing.

Flags:
${PLAN_FLAGS}
  --json                print [{"stage","state","reasons","why"}]: reasons in
                        words as status prints them, why the same as objects
                        with a "kind", e.g. {"kind":"code","file":"models/mlp.ts"}`,
  dag: `Usage: deno task pipeline dag [FLAGS]

Prints the stage graph of the current params, one instance per line with the
instances it reads.

Flags:
${PLAN_FLAGS}
  --mermaid             print a Mermaid flowchart block instead`,
  gc: `Usage: deno task pipeline gc [FLAGS]

Deletes cached results that neither the current params, the checked-out results
(pipeline.lock) nor a kept experiment (exp show) use, with leftover scratch dirs,
temp files and job specs. Lists them and asks first.

Flags:
${PLAN_FLAGS}
  --dry-run             list what would be deleted and its size, delete nothing
  --yes                 delete without asking (required when stdin is not a
                        terminal)
  --wait                if a run holds .pipeline/run.lock, wait for it
  --json                print {"dryRun","deleted","manifests","objects","dirs",
                        "bytes","items":[{"kind","path","bytes","stage"}]}
                        (needs --dry-run or --yes: it cannot ask)`,
  verify: `Usage: deno task pipeline verify [FLAGS]

Re-hashes the checked-out outputs and the cached objects of the current stage
instances and checks their cache entries. Exit 1 if any is missing or corrupt.
Takes no lock; changes nothing.

Flags:
${PLAN_FLAGS}
  --json                print {"checked","problems":[{"stage","output","where",
                        "problem","detail"}],"notRunHere"}`,
  push: `Usage: deno task pipeline push [FLAGS]

Uploads the current stage instances' cached results to the remote store.

Flags:
${PLAN_FLAGS}

${REMOTE}`,
  pull: `Usage: deno task pipeline pull [FLAGS]

Downloads the current stage instances' results from the remote store into the
cache (a later run restores them instead of computing).

Flags:
${PLAN_FLAGS}

${REMOTE}`,
  worker: `Usage: deno task pipeline worker KEY [FLAGS]

Computes the one instance with this key and leaves its result in the store.
Started by run --jobs N and --executor slurm; refuses if its own plan gives no
such key (its params or code differ from the coordinator's).

Flags:
${PLAN_FLAGS}
  --json                events as JSON lines (what the coordinator reads)
  --recompute           compute even if the store has the result`,
};

/** The help text of `command` (the overview for `help` or an unknown name). */
export function commandHelp(command: string | undefined): string {
  return (command === undefined ? undefined : COMMAND_HELP[command]) ?? HELP;
}
