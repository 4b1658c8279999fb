/**
 * `status` and `run --dry-run` with a remote store: results another machine published are
 * reported as in the remote (and the dry run says it would restore them), absent ones as not run
 * yet, and a remote that fails degrades to one `remote not checked (…)` warning.
 */
import { assert, assertEquals } from "../assert.ts";
import { pipelineStatus, runCli } from "../../pipeline/mod.ts";
import { demoPipeline, makeRig, type Rig, runCollect } from "./helpers.ts";
import { MemoryRemote } from "./memory_remote.ts";

const IN_REMOTE = "in the remote cache (mem://test/; run pulls it)";

async function cli(rig: Rig, args: string[], remote?: MemoryRemote) {
  const { pipeline } = demoPipeline(rig);
  let stdout = "";
  let stderr = "";
  const code = await runCli(pipeline, args, {
    root: rig.root,
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    tty: false,
    signal: new AbortController().signal,
    remote,
  });
  return { code, stdout, stderr };
}

/** A remote holding what another clone computed with `params`. */
async function publishedRemote(params: unknown): Promise<MemoryRemote> {
  await using other = await makeRig();
  await other.write("params.json", JSON.stringify(params));
  const remote = new MemoryRemote();
  const { pipeline } = demoPipeline(other);
  const { result } = await runCollect(pipeline, { root: other.root, remote });
  assertEquals(result.outcome, "success");
  return remote;
}

Deno.test("status and dry run: results in the remote say so, absent ones say not run yet; the run pulls", async () => {
  const remote = await publishedRemote({ seeds: [0] });
  await using rig = await makeRig();
  await rig.write("params.json", JSON.stringify({ seeds: [0, 1] }));
  const status = await cli(rig, ["status"], remote);
  assertEquals(status.code, 0, status.stderr);
  assertEquals(status.stderr, "");
  assertEquals(
    status.stdout,
    [
      `stale  source: ${IN_REMOTE}`,
      `stale  train@0: ${IN_REMOTE}`,
      "stale  train@1: not run yet",
      "stale  report: not run yet",
      "4 stale, 0 pending (run only if an upstream's outputs change), 0 fresh",
      "",
    ].join("\n"),
  );
  const json = await cli(rig, ["status", "--json"], remote);
  assertEquals(JSON.parse(json.stdout)[0], {
    stage: "source",
    state: "stale",
    reasons: [IN_REMOTE],
    why: [{ kind: "in-remote", remote: "mem://test/" }],
  });
  const dry = await cli(rig, ["--dry-run"], remote);
  assertEquals(dry.code, 0, dry.stderr);
  const plan = dry.stdout.trim().split("\n").map((l) => l.replace(/ +/g, " "));
  assertEquals(plan, [
    `would restore source: ${IN_REMOTE}`,
    `would restore train@0: ${IN_REMOTE}`,
    "would run train@1: not run yet",
    "would run report: not run yet",
    "2 to run, 2 to restore, 0 pending (run only if an upstream's outputs change), 0 fresh",
  ]);
  // What the dry run promised: the run pulls source and train@0 and computes the rest.
  const { pipeline } = demoPipeline(rig);
  const { result } = await runCollect(pipeline, { root: rig.root, remote });
  assertEquals(result.outcome, "success");
  assertEquals([rig.count("source"), rig.count("train@0")], [0, 0]);
  assertEquals([rig.count("train@1"), rig.count("report")], [1, 1]);
});

Deno.test("status with a remote: one lookup per keyed instance missing locally, at most 8 at once", async () => {
  await using rig = await makeRig();
  const seeds = Array.from({ length: 20 }, (_, i) => i);
  await rig.write("params.json", JSON.stringify({ seeds }));
  // Another clone published only the source: its outputs key the 20 trainings below it.
  await using other = await makeRig();
  await other.write("params.json", JSON.stringify({ seeds }));
  const remote = new MemoryRemote();
  await runCollect(demoPipeline(other).pipeline, {
    root: other.root,
    remote,
    targets: ["source"],
  });
  remote.readDelay = () => new Promise((resolve) => setTimeout(resolve, 5));
  remote.reads = 0; // the publishing run's own lookup
  const status = await cli(rig, ["status"], remote);
  assertEquals(status.code, 0, status.stderr);
  const lines = status.stdout.trim().split("\n");
  assertEquals(lines.length, 23);
  assertEquals(lines[0], `stale  source: ${IN_REMOTE}`);
  assert(
    lines.slice(1, 22).every((l) => l.endsWith(": not run yet")),
    status.stdout,
  );
  // The source, then its 20 trainings; the report has no key before they have outputs.
  assertEquals(remote.reads, 21);
  assert(
    remote.maxInFlight > 1 && remote.maxInFlight <= 8,
    `${remote.maxInFlight} lookups in flight at once`,
  );
});

Deno.test("a remote that fails: one 'remote not checked' warning, status and dry run still answer", async () => {
  await using rig = await makeRig();
  await rig.write("params.json", JSON.stringify({ seeds: [0, 1, 2] }));
  const expected = [
    "stale  source: not run yet",
    "stale  train@0: not run yet",
    "stale  train@1: not run yet",
    "stale  train@2: not run yet",
    "stale  report: not run yet",
    "5 stale, 0 pending (run only if an upstream's outputs change), 0 fresh",
    "",
  ].join("\n");
  const failing = new MemoryRemote();
  failing.readError = new Error("connection reset by peer");
  const status = await cli(rig, ["status"], failing);
  assertEquals(status.code, 0);
  assertEquals(status.stdout, expected);
  assertEquals(
    status.stderr,
    "warning: remote not checked (connection reset by peer)\n",
  );
  assert(failing.reads <= 8, `${failing.reads} lookups after the first failed`);
  const denied = new MemoryRemote();
  denied.checkError = new Error(
    "the remote store mem://test/ rejected the signature: check AWS_SECRET_ACCESS_KEY",
  );
  for (const args of [["status"], ["--dry-run"]]) {
    const ran = await cli(rig, args, denied);
    assertEquals(ran.code, 0, ran.stderr);
    assertEquals(
      ran.stderr,
      "warning: remote not checked (the remote store mem://test/ rejected the signature: check AWS_SECRET_ACCESS_KEY)\n",
    );
  }
  assertEquals(denied.reads, 0);
  const dry = await cli(rig, ["--dry-run"], failing);
  assertEquals(dry.code, 0, dry.stderr);
  assert(
    dry.stdout.includes("remote not checked (connection reset by peer)"),
    dry.stdout,
  );
  assertEquals(dry.stdout.match(/remote not checked/g)?.length, 1);
  assert(!dry.stdout.includes("would restore"), dry.stdout);
});

Deno.test("a remote that does not answer: the lookup gives up after its timeout", async () => {
  await using rig = await makeRig();
  const silent = new MemoryRemote();
  let release = () => {};
  const never = new Promise<void>((resolve) => (release = resolve));
  silent.readDelay = () => never;
  const { pipeline } = demoPipeline(rig);
  const warnings: string[] = [];
  const entries = await pipelineStatus(pipeline, {
    root: rig.root,
    remote: silent,
    remoteTimeoutMs: 50,
    onWarning: (message) => warnings.push(message),
  });
  release();
  assertEquals(warnings, ["remote not checked (no answer within 0.05 s)"]);
  assert(
    entries.every((e) => e.reasons.every((r) => r.kind === "not-run-yet")),
  );
});

Deno.test("no remote configured: status unchanged, nothing looked up, no warning", async () => {
  await using rig = await makeRig();
  const status = await cli(rig, ["status"]);
  assertEquals(status.code, 0, status.stderr);
  assertEquals(status.stderr, "");
  assertEquals(
    status.stdout,
    [
      "stale  source: not run yet",
      "stale  train@0: not run yet",
      "stale  report: not run yet",
      "3 stale, 0 pending (run only if an upstream's outputs change), 0 fresh",
      "",
    ].join("\n"),
  );
  const dry = await cli(rig, ["--dry-run"]);
  assert(!dry.stdout.includes("remote"), dry.stdout);
});
