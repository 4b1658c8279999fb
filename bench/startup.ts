/**
 * `deno task bench --startup`: the wall time of the commands a user runs most, on a project
 * whose cache is full: the no-op `deno task pipeline` (everything up to date), `--help` and
 * `status`. Each is the real task (deno.json's flags) in a scratch copy of the tracked files,
 * run `runs` times in turn (so a busy moment of the machine hits all three alike); the table
 * gives the median and the fastest, beside `deno eval 0` (what any Deno process costs here).
 *
 * @module
 */
import { runTask, scratchProject } from "./scratch_project.ts";

/** A tiny run whose cache the timed commands find full (1 epoch on 2000 examples, wasm). */
export const STARTUP_RUN = [
  "--set",
  "preprocess.limit=2000",
  "--set",
  "train.epochs=1",
  "--set",
  "train.backend=wasm",
] as const;

/** The targets of issue 17: the no-op at most 0.15 s, `--help` at most 0.1 s. */
export const STARTUP_TARGETS: Readonly<Record<string, number>> = {
  "no-op run": 0.15,
  "--help": 0.1,
};

/** One timed command. */
export interface StartupRow {
  /** What was timed, as the table names it. */
  name: string;
  /** `deno task pipeline` arguments (empty for the `deno eval 0` row). */
  args: readonly string[];
  /** Median wall seconds. */
  median: number;
  /** Fastest wall seconds. */
  fastest: number;
}

const COMMANDS: readonly { name: string; args: readonly string[] }[] = [
  { name: "no-op run", args: STARTUP_RUN },
  { name: "--help", args: ["--help"] },
  { name: "status", args: ["status", ...STARTUP_RUN] },
];

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timeEval(): Promise<number> {
  const started = performance.now();
  await new Deno.Command(Deno.execPath(), {
    args: ["eval", "0"],
    stdout: "null",
    stderr: "null",
  }).output();
  return (performance.now() - started) / 1000;
}

/** Times the commands `options.runs` times each in a scratch project with a full cache. */
export async function benchStartup(
  options: { runs: number; log: (line: string) => void },
): Promise<StartupRow[]> {
  const dir = await scratchProject("bench_startup_");
  try {
    options.log("filling the cache of the tiny run...");
    const fill = await runTask(dir, "pipeline", STARTUP_RUN);
    if (fill.code !== 0) throw new Error(`the tiny run failed:\n${fill.out}`);
    const times = new Map<string, number[]>(
      [...COMMANDS.map((c) => c.name), "deno eval 0"].map((n) => [n, []]),
    );
    for (let i = 0; i < options.runs; i++) {
      for (const command of COMMANDS) {
        const started = performance.now();
        const ran = await runTask(dir, "pipeline", command.args);
        const seconds = (performance.now() - started) / 1000;
        if (ran.code !== 0) {
          throw new Error(`${command.name} failed:\n${ran.out}`);
        }
        if (command.name === "no-op run" && /^\s*ran\b/m.test(ran.out)) {
          throw new Error(`the no-op run ran a stage:\n${ran.out}`);
        }
        times.get(command.name)?.push(seconds);
      }
      times.get("deno eval 0")?.push(await timeEval());
    }
    return [...times].map(([name, values]) => ({
      name,
      args: COMMANDS.find((c) => c.name === name)?.args ?? [],
      median: median(values),
      fastest: Math.min(...values),
    }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The markdown table of {@link benchStartup}'s rows, with the targets where there are some. */
export function startupTable(
  rows: readonly StartupRow[],
  runs: number,
): string {
  const lines = [
    `| command (full cache) | median of ${runs} | fastest | target |`,
    "| --- | --- | --- | --- |",
  ];
  for (const row of rows) {
    const target = STARTUP_TARGETS[row.name];
    const verdict = target === undefined
      ? ""
      : `<= ${target} s: ${row.median <= target ? "met" : "missed"}`;
    lines.push(
      `| ${row.name} | ${row.median.toFixed(3)} s | ${
        row.fastest.toFixed(3)
      } s | ${verdict} |`,
    );
  }
  return lines.join("\n");
}
