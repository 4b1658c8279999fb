/**
 * More cores, more machines, against real servers (Slurm and Ceph radosgw on 127.0.0.1, started
 * by `.ci/services/services.sh`): a sweep through Slurm, a fresh clone restored from S3 without a
 * job, one manifest per key under two submissions, a result killed before its manifest
 * recomputed, a corrupt S3 object detected and healed, wrong credentials failing before
 * anything runs. Every run is the real CLI in a scratch copy, with deno.json's pipeline-task
 * permissions.
 */
import { testManifest } from "../pipeline/manifests.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { readPipelineTask } from "../pipeline/task_command.ts";
import { integrationHarness } from "./project.ts";
import {
  getBytes,
  getText,
  listKeys,
  putBytes,
  S3,
  SLURM_CONF,
} from "./services.ts";

/** A tiny sweep: 2 seeds x 2 models = 4 trainings (11 instances in all). */
const SWEEP = [
  "--set",
  "preprocess.limit=512",
  "--set",
  "train.epochs=1",
  "--set",
  "train.backend=wasm",
  "--set",
  "train.hidden=[32]",
  "--set",
  "seeds=[0,1]",
];
const {
  PREFIX,
  REMOTE,
  ENV,
  project,
  cli,
  names,
  lockKeys,
  step,
  cleanup,
} = integrationHarness("it");

const INSTANCES = [
  "download",
  "preprocess",
  "train_baseline@0",
  "train_baseline@1",
  "train_rdrop@0",
  "train_rdrop@1",
  "evaluate_baseline@0",
  "evaluate_baseline@1",
  "evaluate_rdrop@0",
  "evaluate_rdrop@1",
  "report",
].sort();

let sweepDir = "";

step(
  "a tiny sweep (2 seeds x 2 models) runs through Slurm, one job per instance, results in S3",
  async () => {
    sweepDir = await project();
    const run = await cli(sweepDir, ["--executor", "slurm", ...SWEEP]);
    assertEquals(run.code, 0, run.out);
    assertEquals(names(run.out, "ran"), INSTANCES, run.out);
    const jobs = run.out.match(/submitted as slurm job \d+/g) ?? [];
    assertEquals(jobs.length, INSTANCES.length, run.out);
    assert(
      (await Deno.readTextFile(join(sweepDir, "results/report.md"))).includes(
        "| R-Drop (α=0.05) |",
      ),
    );
    const keys = await lockKeys(sweepDir);
    const manifests = await listKeys(`${PREFIX}runs/`);
    assertEquals(
      manifests,
      Object.values(keys).map((key) => `${PREFIX}runs/${key}.json`).sort(),
    );
  },
);

step(
  "a fresh clone with an empty .pipeline/ restores everything from S3 and submits no job",
  async () => {
    const fresh = await project();
    const run = await cli(fresh, ["--executor", "slurm", ...SWEEP]);
    assertEquals(run.code, 0, run.out);
    assertEquals(names(run.out, "ran"), [], run.out);
    assertEquals(names(run.out, "cached"), INSTANCES, run.out);
    assert(!/submitted as slurm job/.test(run.out), run.out);
    assertEquals(await lockKeys(fresh), await lockKeys(sweepDir));
    assertEquals(
      await Deno.readTextFile(join(fresh, "results/metrics.json")),
      await Deno.readTextFile(join(sweepDir, "results/metrics.json")),
    );
  },
);

step(
  "two submissions of one key (two coordinators at once) give one manifest; the second job finds it",
  async () => {
    const [a, b] = [await project(), await project()];
    const args = ["--executor", "slurm", ...SWEEP, "--set", "train.alpha=0.5"];
    const [runA, runB] = await Promise.all([cli(a, args), cli(b, args)]);
    assertEquals(runA.code, 0, runA.out);
    assertEquals(runB.code, 0, runB.out);
    const keysA = await lockKeys(a);
    assertEquals(keysA, await lockKeys(b));
    // Both coordinators submitted train_rdrop@0 (same job name, --dependency=singleton) ...
    const key = keysA["train_rdrop@0"];
    const logs = async (dir: string) => {
      const out: string[] = [];
      for await (const entry of Deno.readDir(join(dir, ".pipeline/logs"))) {
        if (entry.name.startsWith("train_rdrop@0-")) {
          out.push(
            await Deno.readTextFile(join(dir, ".pipeline/logs", entry.name)),
          );
        }
      }
      return out;
    };
    const all = [...await logs(a), ...await logs(b)];
    assertEquals(all.length, 2, "each coordinator submitted one job");
    // ... the singleton made them run one after the other, and the second found the result.
    assertEquals(
      all.filter((log) => /already in the store/.test(log)).length,
      1,
    );
    assertEquals(
      (await listKeys(`${PREFIX}runs/${key}`)).length,
      1,
    );
    const manifest = JSON.parse(await getText(`${PREFIX}runs/${key}.json`));
    assertEquals(manifest.key, key);
  },
);

step(
  "push uploads results computed without the remote; pull brings them to another clone",
  async () => {
    const tiny = ["preprocess", ...SWEEP, "--set", "preprocess.limit=704"];
    const offline = { PIPELINE_REMOTE: "" };
    const a = await project();
    const local = await cli(a, ["--jobs", "1", ...tiny], { env: offline });
    assertEquals(local.code, 0, local.out);
    assertEquals(names(local.out, "ran"), ["download", "preprocess"]);
    const key = (await lockKeys(a)).preprocess;
    assertEquals(await listKeys(`${PREFIX}runs/${key}.json`), []);
    const push = await cli(a, ["push", ...tiny.slice(1)]);
    assertEquals(push.code, 0, push.out);
    assertMatch(push.out, /published\s+preprocess/);
    assertEquals(await listKeys(`${PREFIX}runs/${key}.json`), [
      `${PREFIX}runs/${key}.json`,
    ]);
    const again = await cli(a, ["push", ...tiny.slice(1)]);
    assertMatch(again.out, /present\s+preprocess/);
    // A fresh clone's status and dry run tell what the run would pull; bad keys only warn.
    const fresh = await project();
    const inRemote = `in the remote cache (${REMOTE}; run pulls it)`;
    const status = await cli(fresh, ["status", ...tiny]);
    assertEquals(status.code, 0, status.out);
    assert(
      status.stdout.includes(`stale  preprocess: ${inRemote}\n`),
      status.out,
    );
    const dry = await cli(fresh, ["--dry-run", ...tiny]);
    assertEquals(dry.code, 0, dry.out);
    assertMatch(dry.stdout, /would restore\s+preprocess: in the remote cache/);
    const denied = await cli(fresh, ["status", ...tiny], {
      env: { AWS_SECRET_ACCESS_KEY: "wrong" },
    });
    assertEquals(denied.code, 0, denied.out);
    assertMatch(
      denied.out,
      /warning: remote not checked \(.*AWS_SECRET_ACCESS_KEY\)/,
    );
    // Without the remote, a clone that never ran it has nothing to say but that.
    assert(
      denied.stdout.includes("stale  preprocess: not run yet\n"),
      denied.stdout,
    );
    const b = await project();
    const pull = await cli(b, ["pull", ...tiny.slice(1)]);
    assertEquals(pull.code, 0, pull.out);
    assertMatch(pull.out, /pulled\s+preprocess/);
    // Now local in b: a run without the remote restores it and computes nothing.
    const run = await cli(b, ["--jobs", "1", ...tiny], { env: offline });
    assertEquals(run.code, 0, run.out);
    assertEquals(names(run.out, "ran"), [], run.out);
    assertEquals((await lockKeys(b)).preprocess, key);
  },
);

step(
  "racing create-only manifests for one key: exactly one wins, the others are told it exists",
  async () => {
    const { S3RemoteStore } = await import("../../pipeline/store/s3.ts");
    const remote = new S3RemoteStore({
      bucket: S3.bucket,
      prefix: PREFIX,
      endpoint: S3.endpoint,
      region: "us-east-1",
      credentials: {
        accessKeyId: S3.accessKey,
        secretAccessKey: S3.secretKey,
      },
    });
    await remote.check({ publish: true });
    // One key, six writers: what tells them apart (seconds) is not in the key.
    const manifest = (writer: number) =>
      testManifest({ stage: "race", seconds: writer });
    const key = manifest(1).key;
    const outcomes = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((w) => remote.createManifest(manifest(w))),
    );
    assertEquals(
      outcomes.filter((o) => o === "created").length,
      1,
      outcomes.join(),
    );
    const stored = await remote.readManifest(key);
    assert(stored.state === "ok");
    assertEquals(stored.manifest.seconds, outcomes.indexOf("created") + 1);
  },
);

step(
  "a worker killed after uploading objects but before its manifest is recomputed on the next run",
  async () => {
    const dir = await project();
    const tiny = [...SWEEP, "--set", "preprocess.limit=640"];
    await Deno.writeTextFile(join(dir, "die-before-manifest"), "");
    const entry = "tests/integration/fixtures/fault_entry.ts";
    const before = new Set(await listKeys(`${PREFIX}objects/`));
    const killed = await cli(dir, ["preprocess", "--jobs", "2", ...tiny], {
      entry,
    });
    assertEquals(killed.code, 1, killed.out);
    assertMatch(killed.out, /failed\s+preprocess/);
    assertMatch(killed.out, /code 137/);
    const uploaded = (await listKeys(`${PREFIX}objects/`)).filter((k) =>
      !before.has(k)
    );
    assert(uploaded.length > 0, "the killed worker uploaded objects first");
    // Another machine (a fresh clone) finds no manifest for the key and recomputes it.
    const other = await project();
    const status = await cli(other, [
      "status",
      "--json",
      "preprocess",
      ...tiny,
    ]);
    const preprocess = JSON.parse(status.stdout).find((
      s: { stage: string },
    ) => s.stage === "preprocess");
    // The orphaned objects do not make a result: the clone has never run it and the remote has no
    // manifest (else the reason would be "in the remote cache").
    assertEquals(preprocess.reasons, ["not run yet"]);
    const again = await cli(other, ["preprocess", "--jobs", "2", ...tiny]);
    assertEquals(again.code, 0, again.out);
    assertEquals(names(again.out, "ran"), ["preprocess"], again.out);
    const key = (await lockKeys(other)).preprocess;
    assertEquals(await listKeys(`${PREFIX}runs/${key}.json`), [
      `${PREFIX}runs/${key}.json`,
    ]);
  },
);

step(
  "a corrupted object in S3 is detected, reported, recomputed and healed",
  async () => {
    const keys = await lockKeys(sweepDir);
    const victim = "evaluate_rdrop@1";
    const manifest = JSON.parse(
      await getText(`${PREFIX}runs/${keys[victim]}.json`),
    );
    const [output, record] = Object.entries(
      manifest.outputs as Record<string, { sha256: string; size: number }>,
    )[0];
    const objectKey = `${PREFIX}objects/${record.sha256.slice(0, 2)}/${
      record.sha256.slice(2)
    }`;
    const good = await getBytes(objectKey);
    const bad = good.slice();
    bad[0] ^= 0xff;
    await putBytes(objectKey, bad);
    const fresh = await project();
    const run = await cli(fresh, ["--jobs", "2", ...SWEEP]);
    assertEquals(run.code, 0, run.out);
    assertMatch(
      run.out,
      new RegExp(
        `remote result of ${victim} at s3://\\S+ is corrupt \\(${output}: content does not match its hash\\)`,
      ),
    );
    // Evaluation is deterministic: the recomputed bytes equal the good ones, so the report
    // built on them stays cached.
    assertEquals(names(run.out, "ran"), [victim], run.out);
    // Healed: the key's manifest is back and every object it names hashes right.
    const healed = JSON.parse(
      await getText(`${PREFIX}runs/${keys[victim]}.json`),
    );
    for (
      const r of Object.values(
        healed.outputs as Record<string, { sha256: string }>,
      )
    ) {
      const data = await getBytes(
        `${PREFIX}objects/${r.sha256.slice(0, 2)}/${r.sha256.slice(2)}`,
      );
      assertEquals(createHash("sha256").update(data).digest("hex"), r.sha256);
    }
  },
);

step(
  "a preempted (requeued) training job resumes from its checkpoint in the remote store",
  async () => {
    const dir = await project();
    await Deno.writeTextFile(
      join(dir, "pipeline.config.json"),
      JSON.stringify({
        checkpointUploadSeconds: 1,
        slurm: { sbatchArgs: ["--open-mode=append"] },
      }),
    );
    const args = [
      "train_rdrop@0",
      "--executor",
      "slurm",
      ...SWEEP,
      "--set",
      "preprocess.limit=20000",
      "--set",
      "train.epochs=12",
    ];
    const task = await readPipelineTask();
    const child = new Deno.Command("deno", {
      args: ["run", ...task.flags, task.entry, ...args],
      cwd: dir,
      env: { NO_COLOR: "1", ...ENV },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    // Wait until the training job has uploaded a checkpoint, then preempt it.
    const logs = join(dir, ".pipeline/logs");
    let jobId: string | undefined;
    const until = Date.now() + 240_000;
    while (Date.now() < until) {
      const names = await Array.fromAsync(Deno.readDir(logs)).then(
        (entries) => entries.map((e) => e.name),
        () => [] as string[],
      );
      const log = names.find((n) => n.startsWith("train_rdrop@0-"));
      const checkpoints = await listKeys(`${PREFIX}scratch/`);
      if (
        log !== undefined &&
        checkpoints.some((k) => k.endsWith("/checkpoint.bin"))
      ) {
        jobId = log.slice("train_rdrop@0-".length, -".out".length);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert(jobId !== undefined, "no checkpoint was uploaded");
    const scontrol = (...words: string[]) =>
      new Deno.Command("scontrol", { args: words, env: { SLURM_CONF } })
        .output();
    assert((await scontrol("requeue", jobId)).success);
    // A requeued job waits two minutes by default before it may start again: once it is
    // pending for that reason, let it start now.
    let released = false;
    for (let i = 0; i < 100 && !released; i++) {
      const reason = new TextDecoder().decode(
        (await new Deno.Command("squeue", {
          args: ["-h", "-j", jobId, "-o", "%r"],
          env: { SLURM_CONF },
        }).output()).stdout,
      ).trim();
      if (reason === "BeginTime") {
        // Released at once, the job could start before the node finished the killed attempt
        // ("Job credential revoked"); real requeues wait minutes.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        released = (await scontrol("update", `JobId=${jobId}`, "StartTime=now"))
          .success;
      } else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert(released, "the requeued job never waited for its begin time");
    const result = await output;
    const out = new TextDecoder().decode(result.stdout) +
      new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 0, out);
    assertMatch(out, /ran\s+train_rdrop@0/);
    const log = await Deno.readTextFile(
      join(logs, `train_rdrop@0-${jobId}.out`),
    );
    assertMatch(
      log,
      /checkpoint file\(s\) of this key restored from the remote store/,
    );
    assertMatch(log, /resumed from the checkpoint after epoch ([1-9]|1[01])\b/);
  },
);

step(
  "Ctrl-C while Slurm jobs run cancels them and names each interrupted instance",
  async () => {
    const dir = await project();
    const args = [
      "train_rdrop@0",
      "--executor",
      "slurm",
      ...SWEEP,
      "--set",
      "preprocess.limit=20000",
      "--set",
      "train.epochs=13",
    ];
    const task = await readPipelineTask();
    const child = new Deno.Command("deno", {
      args: ["run", ...task.flags, task.entry, ...args],
      cwd: dir,
      env: { NO_COLOR: "1", ...ENV },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    const logs = join(dir, ".pipeline/logs");
    let jobId: string | undefined;
    for (let i = 0; i < 1200 && jobId === undefined; i++) {
      const names = await Array.fromAsync(Deno.readDir(logs)).then(
        (entries) => entries.map((e) => e.name),
        () => [] as string[],
      );
      const log = names.find((n) => n.startsWith("train_rdrop@0-"));
      if (log !== undefined) {
        jobId = log.slice("train_rdrop@0-".length, -".out".length);
      } else await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert(jobId !== undefined, "the training job never started");
    child.kill("SIGINT");
    const result = await output;
    const out = new TextDecoder().decode(result.stdout) +
      new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 130, out);
    assertMatch(out, /interrupted: train_rdrop@0 was stopped/);
    const state = new TextDecoder().decode(
      (await new Deno.Command("squeue", {
        args: ["-h", "-t", "all", "-j", jobId, "-o", "%T"],
        env: { SLURM_CONF },
      }).output()).stdout,
    ).trim();
    assert(["CANCELLED", "COMPLETING", ""].includes(state), state);
  },
);

step(
  "a Slurm node where backend auto resolves differently refuses the job, and the run says why",
  async () => {
    const dir = await project();
    await Deno.writeTextFile(join(dir, "worker-has-gpu"), "");
    const args = [
      "train_baseline@0",
      "--executor",
      "slurm",
      ...SWEEP,
      "--set",
      "train.backend=auto",
      "--set",
      "train.epochs=2",
    ];
    const run = await cli(dir, args, {
      entry: "tests/integration/fixtures/fault_entry.ts",
    });
    assertEquals(run.code, 1, run.out);
    assertMatch(run.out, /failed\s+train_baseline@0/);
    assertMatch(
      run.out,
      /refusing train_baseline@0: here its key is [0-9a-f]{12}…, the coordinator asked for [0-9a-f]{12}… \(params changed \(backend "wasm" -> "webgpu"\)/,
    );
    // The backend's own code is part of the key: the webgpu plan names files the wasm one lacks.
    assertMatch(
      run.out,
      /refusing train_baseline@0: [^\n]*dependency changed \(@tensorflow\/tfjs-backend-webgpu \(none\)/,
    );
  },
);

step(
  "wrong or missing credentials fail before anything runs, naming the variable",
  async () => {
    const dir = await project();
    const wrong = await cli(dir, ["--executor", "slurm", ...SWEEP], {
      env: { AWS_SECRET_ACCESS_KEY: "wrong" },
    });
    assertEquals(wrong.code, 2, wrong.out);
    assertMatch(wrong.out, /AWS_SECRET_ACCESS_KEY/);
    assert(!/running|submitted/.test(wrong.out), wrong.out);
    assert(!/\n\s+at /.test(wrong.out), wrong.out);
    const unknown = await cli(dir, ["--jobs", "2", ...SWEEP], {
      env: { AWS_ACCESS_KEY_ID: "nobody" },
    });
    assertEquals(unknown.code, 2, unknown.out);
    assertMatch(unknown.out, /AWS_ACCESS_KEY_ID/);
    const missing = await cli(dir, ["push", ...SWEEP], {
      env: { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" },
    });
    assertEquals(missing.code, 2, missing.out);
    assertMatch(missing.out, /set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    assert(wrong.seconds < 20 && missing.seconds < 20);
    await Deno.stat(join(dir, "pipeline.lock")).then(
      () => {},
      () => {},
    );
    await Deno.stat(join(dir, ".pipeline")).then(
      () => assert(false, ".pipeline/ was created: something ran"),
      () => {},
    );
  },
);

step("cleanup: the scratch copies and this run's S3 prefix", cleanup);
