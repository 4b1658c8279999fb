/**
 * Each command's own `--help`, `--version`, and the `--json` output of `run --dry-run`,
 * `verify` and `gc`, parsed with the schemas the README documents.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { HELP, runCli } from "../../pipeline/mod.ts";
import { DryRunJson, GcJson, VerifyJson } from "../../pipeline/cli/json.ts";
import { demoPipeline, makeRig, type Rig } from "./helpers.ts";

async function cli(rig: Rig, args: string[]) {
  const { pipeline } = demoPipeline(rig);
  let stdout = "";
  let stderr = "";
  const code = await runCli(pipeline, args, {
    root: rig.root,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    tty: false,
    signal: new AbortController().signal,
    stdinTty: false,
    version: "demo 1.2.3",
  });
  return { code, stdout, stderr };
}

Deno.test("COMMAND --help and help COMMAND print that command's own help", async () => {
  await using rig = await makeRig();
  const seen = new Set<string>();
  for (
    const command of ["run", "status", "dag", "gc", "verify", "push", "pull"]
  ) {
    const own = await cli(rig, [command, "--help"]);
    assertEquals(own.code, 0, own.stderr);
    const usage = command === "run" ? "[run]" : command;
    assert(
      own.stdout.startsWith(`Usage: deno task pipeline ${usage} `),
      `${command} --help:\n${own.stdout}`,
    );
    assert(own.stdout !== HELP + "\n", `${command} --help is the overview`);
    assert(!seen.has(own.stdout), `${command} --help repeats another's`);
    seen.add(own.stdout);
    // Help wins over a flag the command does not take.
    const alsoBad = await cli(rig, [command, "--help", "--mermaid"]);
    assertEquals(alsoBad.stdout, own.stdout);
    assertEquals((await cli(rig, ["help", command])).stdout, own.stdout);
  }
  assertMatch((await cli(rig, ["gc", "--help"])).stdout, /--yes/);
  assertMatch((await cli(rig, ["dag", "--help"])).stdout, /--mermaid/);
  assertEquals((await cli(rig, ["--help"])).stdout, HELP + "\n");
  assertEquals((await cli(rig, ["help"])).stdout, HELP + "\n");
});

Deno.test("--version prints the version the entry point gives and Deno's", async () => {
  await using rig = await makeRig();
  const shown = await cli(rig, ["--version"]);
  assertEquals(shown.code, 0);
  assertEquals(shown.stdout, `demo 1.2.3 (deno ${Deno.version.deno})\n`);
});

Deno.test("run --dry-run --json prints the plan alone on stdout, in the documented shape", async () => {
  await using rig = await makeRig();
  const before = await cli(rig, ["--dry-run", "--json"]);
  assertEquals(before.code, 0, before.stderr);
  const plan = DryRunJson.parse(JSON.parse(before.stdout));
  assert(plan.plan.length > 0);
  assertEquals(
    plan.counts.run,
    plan.plan.filter((entry) => entry.action === "run").length,
  );
  assert(plan.plan.every((entry) => entry.reasons.length === entry.why.length));
  assert(plan.plan.some((entry) => entry.reasons.includes("not run yet")));
  assertEquals(rig.count("source"), 0, "a dry run ran a stage");
  assertEquals((await cli(rig, [])).code, 0);
  const after = DryRunJson.parse(
    JSON.parse((await cli(rig, ["--dry-run", "--json"])).stdout),
  );
  assertEquals(after.counts.fresh, plan.plan.length);
  const refused = await cli(rig, ["--json"]);
  assertEquals(refused.code, 2);
  assertMatch(refused.stderr, /needs --dry-run/);
});

Deno.test("verify --json lists problems in the documented shape and exits 1 on one", async () => {
  await using rig = await makeRig();
  assertEquals((await cli(rig, [])).code, 0);
  const clean = await cli(rig, ["verify", "--json"]);
  assertEquals(clean.code, 0, clean.stderr);
  const ok = VerifyJson.parse(JSON.parse(clean.stdout));
  assert(ok.checked > 0);
  assertEquals(ok.problems, []);
  const path = join(rig.root, "results/report.md");
  await Deno.chmod(path, 0o644);
  await Deno.writeTextFile(path, "edited by hand\n");
  const bad = await cli(rig, ["verify", "--json"]);
  assertEquals(bad.code, 1);
  const found = VerifyJson.parse(JSON.parse(bad.stdout)).problems;
  assert(
    found.some((problem) =>
      problem.stage === "report" && problem.output === "report.md" &&
      problem.where === "workspace" && problem.problem === "corrupt"
    ),
    bad.stdout,
  );
});

Deno.test("gc --json: --dry-run lists, --yes deletes, without either it refuses", async () => {
  await using rig = await makeRig();
  assertEquals((await cli(rig, [])).code, 0);
  assertEquals((await cli(rig, ["--set", "train.alpha=0.2"])).code, 0);
  const same = ["--set", "train.alpha=0.2"];
  const dry = await cli(rig, ["gc", "--dry-run", "--json", ...same]);
  assertEquals(dry.code, 0, dry.stderr);
  const listed = GcJson.parse(JSON.parse(dry.stdout));
  assertEquals([listed.dryRun, listed.deleted], [true, false]);
  assertEquals(listed.manifests, 2);
  assert(listed.items.some((item) => item.stage === "train@0"));
  assertEquals(
    listed.bytes,
    listed.items.reduce((sum, item) => sum + item.bytes, 0),
  );
  const refused = await cli(rig, ["gc", "--json", ...same]);
  assertEquals(refused.code, 2);
  assertMatch(refused.stderr, /--dry-run .* or --yes/);
  const gone = await cli(rig, ["gc", "--json", "--yes", ...same]);
  assertEquals(gone.code, 0, gone.stderr);
  const deleted = GcJson.parse(JSON.parse(gone.stdout));
  assertEquals([deleted.dryRun, deleted.deleted], [false, true]);
  assertEquals(deleted.items, listed.items);
});
