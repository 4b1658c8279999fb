/**
 * README cannot rot: every `deno task` command it shows runs (with `--dry-run`, or `--help`
 * for the commands that would change or re-hash things), its params table is the params
 * schema, and it points only at files in the repository.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { flattenParams } from "../../pipeline/plan/params.ts";
import { Params } from "../../stages/params.ts";
import { readTask } from "../pipeline/task_command.ts";
import { ROOT, runTask, scratchProject } from "./_scratch.ts";

const README = await Deno.readTextFile(join(ROOT, "README.md"));

/** Splits a command line into words: whitespace-separated, single quotes kept together. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/'([^']*)'|(\S+)/g)) {
    words.push(match[1] ?? match[2]);
  }
  return words;
}

/** `a [--json]` -> `a` and `a --json`. */
function expandOptional(command: string): string[] {
  const optional = /\s\[([^\]]+)\]/.exec(command);
  if (optional === null) return [command];
  const without = command.replace(optional[0], "");
  const withIt = command.replace(optional[0], ` ${optional[1]}`);
  return [...expandOptional(without), ...expandOptional(withIt)];
}

/** Every `deno task ...` command of README: table cells in backticks and lines of sh blocks. */
function readmeCommands(): string[] {
  const commands = new Set<string>();
  for (const match of README.matchAll(/^\| `(deno task [^`]+)`/gm)) {
    for (const command of expandOptional(match[1])) commands.add(command);
  }
  for (const block of README.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1].split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim();
      if (command.startsWith("deno task ")) commands.add(command);
    }
  }
  return [...commands];
}

const PIPELINE_COMMANDS = [
  "run",
  "status",
  "dag",
  "gc",
  "verify",
  "help",
  "exp",
  "push",
  "pull",
];

/** The arguments to run a README pipeline command with, so that it changes nothing. */
function safeArgs(args: string[]): string[] {
  if (args.includes("--help") || args.includes("--dry-run")) return args;
  const command = args.find((a) => !a.startsWith("-") && !a.includes("="));
  switch (PIPELINE_COMMANDS.includes(command ?? "") ? command : "run") {
    case "status":
    case "dag":
      return args; // read-only
    case "exp": // show is read-only; diff needs real ids: only check it parses
      return args[1] === "show" ? args : [...args, "--help"];
    case "gc":
    case "verify":
    case "push":
    case "pull":
      // would delete, re-hash or reach a remote: only check it parses
      return [...args, "--help"];
    default:
      return [...args, "--dry-run"];
  }
}

Deno.test("README shows the commands of both tables and of the quick look", () => {
  const commands = readmeCommands();
  for (
    const expected of [
      "deno task pipeline",
      "deno task pipeline --set preprocess.limit=5000 --set train.epochs=2",
      "deno task pipeline status --json",
      "deno task pipeline dag --mermaid",
      "deno task test",
      "deno task bench --help",
    ]
  ) assert(commands.includes(expected), `${expected} in ${commands}`);
});

Deno.test("every pipeline command of README runs (dry-run, read-only, or --help)", async () => {
  const dir = await scratchProject("readme_");
  try {
    const commands = readmeCommands().filter((c) =>
      c.startsWith("deno task pipeline")
    );
    assert(commands.length >= 12, `${commands.length} pipeline commands`);
    for (const command of commands) {
      const words = shellWords(command).slice(3);
      const args = safeArgs(words);
      const ran = await runTask(dir, "pipeline", args);
      assertEquals(
        ran.code,
        0,
        `${command} (run as ${args.join(" ")}):\n${ran.out}`,
      );
      if (args.at(-1) === "--help" && !words.includes("--help")) {
        // The command exists: it has its own --help.
        assert(
          ran.out.includes(`Usage: deno task pipeline ${words[0]} `),
          `${words[0]} --help:\n${ran.out}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README's other tasks exist in deno.json, and bench answers --help", async () => {
  const commands = readmeCommands().filter((c) =>
    !c.startsWith("deno task pipeline")
  );
  for (const command of commands) {
    const [, , name, ...args] = shellWords(command);
    const config = JSON.parse(
      await Deno.readTextFile(join(ROOT, "deno.json")),
    );
    assert(name in config.tasks, `task ${name} of README is in deno.json`);
    if (args.includes("--help")) {
      const dir = await scratchProject("readme_bench_");
      try {
        const ran = await runTask(dir, name, args);
        assertEquals(ran.code, 0, `${command}:\n${ran.out}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  }
  // The task flags the tests use are the task's own.
  assert((await readTask("pipeline")).entry.endsWith("main.ts"));
});

Deno.test("README's params table is the params schema, defaults included", () => {
  const defaults = flattenParams(Params.parse({}));
  const rows = [...README.matchAll(/^\| `([a-zA-Z.]+)` +\| ([^|]+?) +\|/gm)]
    .map((m) => ({ key: m[1], cell: m[2] }));
  assertEquals(rows.map((r) => r.key).sort(), Object.keys(defaults).sort());
  for (const { key, cell } of rows) {
    const code = /^`(.*)`$/.exec(cell);
    if (code === null) continue; // described in words, e.g. the default sources
    assertEquals(
      JSON.parse(code[1]),
      defaults[key],
      `default of ${key} in README`,
    );
  }
});

Deno.test("README points only at files in the repository", async () => {
  assert(!README.includes("../shared"), "no path outside the repository");
  assert(!/\/work\//.test(README), "no absolute path of a developer machine");
  for (const match of README.matchAll(/\]\(([^)#]+)\)/g)) {
    const target = match[1];
    if (/^[a-z]+:/.test(target)) continue; // https: links
    const stat = await Deno.stat(join(ROOT, target)).catch(() => null);
    assert(stat !== null, `README links ${target}, which is not in the repo`);
  }
});
