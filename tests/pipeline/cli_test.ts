import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import {
  formatReason,
  HELP,
  isUserError,
  parseCliArgs,
  runCli,
  StaleReason,
  UserError,
} from "../../pipeline/mod.ts";
import { demoPipeline, makeRig, type Rig } from "./helpers.ts";

async function cli(
  rig: Rig,
  args: string[],
  switches?: Parameters<typeof demoPipeline>[1],
  terminal?: { answer: boolean; questions: string[] },
) {
  const { pipeline } = demoPipeline(rig, switches);
  let stdout = "";
  let stderr = "";
  const code = await runCli(pipeline, args, {
    root: rig.root,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    tty: false,
    signal: new AbortController().signal,
    stdinTty: terminal !== undefined,
    ask: (question) => {
      terminal?.questions.push(question);
      return Promise.resolve(terminal?.answer ?? false);
    },
  });
  return { code, stdout, stderr };
}

Deno.test("parseCliArgs: commands, bare targets, repeatable flags, inline values", () => {
  const parsed = parseCliArgs([
    "train",
    "--set",
    "a.b=1",
    "--set=c=x",
    "--force",
    "source",
    "--dry-run",
  ]);
  assertEquals(parsed.command, "run");
  assertEquals(parsed.targets, ["train"]);
  assertEquals(parsed.overrides, [{ path: ["a", "b"], value: 1 }, {
    path: ["c"],
    value: "x",
  }]);
  assertEquals(parsed.force, ["source"]);
  assertEquals(parsed.dryRun, true);
  assertEquals(parseCliArgs(["status", "--json"]).json, true);
  assertEquals(parseCliArgs(["dag", "--mermaid"]).mermaid, true);
  assertEquals(parseCliArgs(["--help"]).command, "help");
});

Deno.test("parseCliArgs: unknown or misplaced flags name the flag and point to --help", () => {
  for (
    const [args, message] of [
      [["--frobnicate"], "unknown flag --frobnicate; see --help"],
      [
        ["status", "--dry-run"],
        "--dry-run only applies to run and gc; see --help",
      ],
      [["verify", "--wait"], "--wait only applies to run and gc; see --help"],
      [["--yes"], "--yes only applies to gc; see --help"],
      [["--set"], "--set needs a value; see --help"],
      [["gc", "train"], "gc takes no stage names (got train); see --help"],
    ] as const
  ) {
    let got = "";
    try {
      parseCliArgs(args);
    } catch (error) {
      if (error instanceof UserError) got = error.message;
    }
    assertEquals(got, message);
  }
});

Deno.test("CLI: --help lists commands and flags; unknown flag exits 2 without a stack", async () => {
  await using rig = await makeRig();
  const help = await cli(rig, ["--help"]);
  assertEquals(help.code, 0);
  for (
    const word of [
      "run",
      "status",
      "dag",
      "gc",
      "verify",
      "--set",
      "--params",
      "--force",
      "--dry-run",
      "--json",
      "--mermaid",
    ]
  ) {
    assert(help.stdout.includes(word), word);
  }
  assertEquals(help.stdout, HELP + "\n");
  const bad = await cli(rig, ["--nope"]);
  assertEquals([bad.code, bad.stderr], [
    2,
    "error: unknown flag --nope; see --help\n",
  ]);
});

Deno.test("CLI: bad params exit 2 naming the key, before anything runs", async () => {
  await using rig = await makeRig();
  const result = await cli(rig, ["--set", "train.alhpa=0.1"]);
  assertEquals(result.code, 2);
  assertMatch(result.stderr, /unknown key train\.alhpa/);
  assert(!result.stderr.includes("    at "), "no stack trace");
  assertEquals(rig.count("source"), 0);
});

Deno.test("CLI: run prints one line per instance and the summary; status text and --json", async () => {
  await using rig = await makeRig();
  const run = await cli(rig, []);
  assertEquals(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n");
  assertEquals(
    lines.filter((l) => /^ran {5}/.test(l)).map((l) => l.split(/ +/)[1]),
    ["source", "train@0", "report"],
  );
  assertEquals(lines.at(-1), `report at ${join(rig.root, "results")}`);
  const again = await cli(rig, []);
  assertEquals(
    again.stdout.split("\n").filter((l) => l.startsWith("cached")).length,
    3,
  );
  await rig.write("params.json", JSON.stringify({ train: { alpha: 0.1 } }));
  const status = await cli(rig, ["status"]);
  assertEquals(
    status.stdout,
    [
      "fresh  source",
      "stale  train@0: params changed (alpha 0.05 -> 0.1)",
      "pending report: runs if train@0's outputs change",
      "1 stale, 1 pending (run only if an upstream's outputs change), 1 fresh",
      "",
    ].join("\n"),
  );
  const json = await cli(rig, ["status", "--json"]);
  const entries = JSON.parse(json.stdout);
  assertEquals(entries, [
    { stage: "source", state: "fresh", reasons: [], why: [] },
    {
      stage: "train@0",
      state: "stale",
      reasons: ["params changed (alpha 0.05 -> 0.1)"],
      why: [{ kind: "params", path: "alpha", from: 0.05, to: 0.1 }],
    },
    {
      stage: "report",
      state: "pending",
      reasons: ["runs if train@0's outputs change"],
      why: [{ kind: "upstream-pending", names: ["train@0"] }],
    },
  ]);
  // `why` reads back through the schema, and its words are `reasons`.
  for (const entry of entries) {
    const why = StaleReason.array().parse(entry.why);
    assertEquals(why.map(formatReason), entry.reasons);
  }
});

Deno.test("CLI: --params uses another file; dag prints text and a Mermaid block", async () => {
  await using rig = await makeRig();
  await rig.write("other.json", JSON.stringify({ seeds: [7, 8] }));
  const dag = await cli(rig, ["dag", "--params", join(rig.root, "other.json")]);
  assertMatch(
    dag.stdout,
    /^source +# make numbers\ntrain@7 +<- source\ntrain@8 +<- source\nreport +<- train@7, train@8\n$/,
  );
  const mermaid = await cli(rig, ["dag", "--mermaid"]);
  assertMatch(
    mermaid.stdout,
    /^```mermaid\nflowchart TD\n[\s\S]*train_0 --> report\n```\n$/,
  );
});

Deno.test("CLI: a failing stage exits 1 naming it; verify exits 1 on corruption; gc reports", async () => {
  await using rig = await makeRig();
  const failed = await cli(rig, [], { fail: new Set(["train@0"]) });
  assertEquals(failed.code, 1);
  assertMatch(failed.stdout, /failed {2}train@0/);
  assertMatch(
    failed.stdout,
    /error: stage train@0 failed: Error: train@0 exploded/,
  );
  assertEquals((await cli(rig, [])).code, 0);
  assertEquals((await cli(rig, ["verify"])).code, 0);
  const path = join(rig.root, "results/report.md");
  await Deno.chmod(path, 0o644);
  await Deno.writeTextFile(path, "edited by hand\n");
  const verify = await cli(rig, ["verify"]);
  assertEquals(verify.code, 1);
  assertMatch(
    verify.stdout,
    /corrupt {2}report {2}report\.md {2}\(checked-out file\)/,
  );
});

async function manifestCount(rig: Rig): Promise<number> {
  return (await Array.fromAsync(Deno.readDir(join(rig.root, ".pipeline/runs"))))
    .length;
}

Deno.test("CLI: gc --dry-run lists what would go and its size; gc asks on a terminal, needs --yes elsewhere", async () => {
  await using rig = await makeRig();
  assertEquals((await cli(rig, [])).code, 0);
  assertEquals((await cli(rig, ["--set", "train.alpha=0.2"])).code, 0);
  assertEquals(await manifestCount(rig), 5);
  const same = ["--set", "train.alpha=0.2"];

  const dry = await cli(rig, ["gc", "--dry-run", ...same]);
  assertEquals(dry.code, 0, dry.stderr);
  assertMatch(
    dry.stdout,
    /manifest \(train@0\) {2}\.pipeline\/runs\/[0-9a-f]{64}\.json/,
  );
  assertMatch(dry.stdout, /manifest \(report\)/);
  assertMatch(
    dry.stdout,
    /\ngc --dry-run: would delete 2 manifest\(s\), 2 object\(s\), 0 scratch\/temp item\(s\), [\d.]+ K?i?B\n$/,
  );
  assertEquals(await manifestCount(rig), 5);

  const refused = await cli(rig, ["gc", ...same]);
  assertEquals(refused.code, 2);
  assertMatch(refused.stderr, /stdin is not a terminal; rerun with --yes/);
  assertEquals(await manifestCount(rig), 5);

  const no = { answer: false, questions: [] as string[] };
  const declined = await cli(rig, ["gc", ...same], undefined, no);
  assertEquals(declined.code, 0);
  assertMatch(
    no.questions[0],
    /^gc: delete 2 manifest\(s\), 2 object\(s\).*\? \[y\/N\] $/,
  );
  assertMatch(
    declined.stdout,
    /manifest \(train@0\)[\s\S]*gc: nothing deleted\n$/,
  );
  assertEquals(await manifestCount(rig), 5);

  const yes = { answer: true, questions: [] as string[] };
  const confirmed = await cli(rig, ["gc", ...same], undefined, yes);
  assertEquals(confirmed.code, 0);
  assertMatch(confirmed.stdout, /gc: deleted 2 manifest\(s\), 2 object\(s\)/);
  assertEquals(await manifestCount(rig), 3);

  // What is checked out is kept even when gc runs with other params.
  const other = await cli(rig, ["gc", "--yes", "--set", "train.alpha=0.7"]);
  assertEquals(other.code, 0, other.stderr);
  assertMatch(other.stdout, /^gc: nothing to delete\n$/);
  assertEquals(await manifestCount(rig), 3);
  const rerun = await cli(rig, same);
  assertMatch(rerun.stdout, /cached {2}train@0 {2}up to date/);
});

Deno.test("CLI: colors on a terminal unless NO_COLOR is set", async () => {
  await using rig = await makeRig();
  const { pipeline } = demoPipeline(rig);
  const run = async () => {
    let stdout = "";
    await runCli(pipeline, ["--force", "source"], {
      root: rig.root,
      stdout: (t) => (stdout += t),
      stderr: () => {},
      tty: true,
      signal: new AbortController().signal,
    });
    return stdout;
  };
  const previous = Deno.env.get("NO_COLOR");
  try {
    Deno.env.delete("NO_COLOR");
    assert((await run()).includes("\x1b[32mran"), "colored without NO_COLOR");
    Deno.env.set("NO_COLOR", "1");
    assert(!(await run()).includes("\x1b["), "no escape codes with NO_COLOR");
  } finally {
    if (previous === undefined) Deno.env.delete("NO_COLOR");
    else Deno.env.set("NO_COLOR", previous);
  }
});

Deno.test("isUserError: engine UserErrors and errors marked userFacing, not plain errors", () => {
  class LayerError extends Error {
    readonly userFacing = true;
  }
  assert(isUserError(new UserError("bad param")));
  assert(isUserError(new LayerError("bad file")));
  assert(!isUserError(new TypeError("bug")));
  assert(!isUserError("a string"));
});
