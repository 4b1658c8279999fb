/**
 * The remote store failing under a real run (Ceph radosgw, Slurm): radosgw killed mid-sweep
 * (the coordinator ends with one clear line, leaves no job in Slurm and names what it kept; the
 * rerun after a restart publishes it all), and an endpoint that accepts TCP and never answers
 * (every command gives up within its stated bound). Every run is the real CLI in a scratch copy.
 */
import { createServer, type Socket } from "node:net";
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { integrationHarness } from "./project.ts";
import { listKeys, S3, SLURM_CONF } from "./services.ts";
import {
  DEFAULT_RETRY,
  retryBoundMs,
} from "../../pipeline/store/remote_retry.ts";
import { S3RemoteStore } from "../../pipeline/store/s3.ts";
import { RemoteUnavailableError } from "../../pipeline/store/remote_retry.ts";

const { PREFIX, project, cli, names, lockKeys, step, cleanup } =
  integrationHarness("faults");
const SERVICES = new URL("../../.ci/services/services.sh", import.meta.url)
  .pathname;
/** 2 seeds x 2 models, trainings long enough to kill the server under them. */
const SWEEP = [
  "--set",
  "preprocess.limit=3000",
  "--set",
  "train.epochs=3",
  "--set",
  "train.backend=wasm",
  "--set",
  "train.hidden=[32]",
  "--set",
  "seeds=[0,1]",
];

async function services(command: "stop_rgw" | "start_rgw"): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [SERVICES, command],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

async function squeueStates(ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const out = await new Deno.Command("squeue", {
    args: ["-h", "-t", "all", "-j", ids.join(","), "-o", "%i %T"],
    env: { SLURM_CONF },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").filter(
    Boolean,
  );
}

let sweepDir = "";

step(
  "radosgw killed mid-sweep: the run ends with one line, no job is left in Slurm, what finished is kept and named",
  async () => {
    sweepDir = await project();
    const run = cli(sweepDir, ["--executor", "slurm", ...SWEEP]);
    // Once a training job runs, the server goes away.
    const logs = `${sweepDir}/.pipeline/logs`;
    const until = Date.now() + 240_000;
    let training = false;
    while (!training && Date.now() < until) {
      const entries = await Array.fromAsync(Deno.readDir(logs)).catch(() => []);
      training = entries.some((e) => e.name.startsWith("train_"));
      if (!training) await new Promise((r) => setTimeout(r, 200));
    }
    assert(training, "no training job started");
    await services("stop_rgw");
    const killed = await run;
    assertEquals(killed.code, 1, killed.out);
    assertMatch(
      killed.out,
      /the remote store s3:\/\/\S+ \(http:\/\/127\.0\.0\.1:7480\) is unreachable: .* failed \d+ time\(s\) over \d+ s \(connection refused\)/,
    );
    assert(!/\n\s+at /.test(killed.out), killed.out);
    const ids = [...killed.out.matchAll(/submitted as slurm job (\d+)/g)].map((
      m,
    ) => m[1]);
    assert(ids.length > 0, killed.out);
    const left = (await squeueStates(ids)).filter((line) =>
      /PENDING|RUNNING|CONFIGURING|SUSPENDED/.test(line)
    );
    assertEquals(left, [], killed.out);
    // Every job still running when it stopped was cancelled by name.
    for (const line of killed.out.split("\n")) {
      const cancelled = /cancelled slurm job (\d+)/.exec(line);
      if (cancelled) assert(ids.includes(cancelled[1]), line);
    }
    console.log(killed.out.trim().split("\n").slice(-10).join("\n"));
    console.log(
      `  coordinator ended ${
        killed.out.match(/cancelled slurm job/g)?.length ?? 0
      } job(s) after the outage`,
    );
  },
);

step(
  "an endpoint that accepts connections and never answers: each command gives up within its bound",
  async () => {
    // radosgw is down (previous step; stopped here otherwise): a silent listener takes its port.
    await services("stop_rgw").catch(() => {});
    const sockets: Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) =>
      server.listen(7480, "127.0.0.1", resolve)
    );
    try {
      const dir = await project();
      const attempts = { AWS_MAX_ATTEMPTS: "2" };
      const bound = retryBoundMs({ ...DEFAULT_RETRY, attempts: 2 }) / 1000;
      const started = performance.now();
      const run = await cli(dir, ["--executor", "slurm", ...SWEEP], {
        env: attempts,
      });
      assertEquals(run.code, 2, run.out);
      assertMatch(
        run.out,
        /^error: the remote store \S+ \(http:\/\/127\.0\.0\.1:7480\) is unreachable: listing the bucket failed 2 time\(s\) over \d+ s \(no answer within 10 s\)\n$/,
      );
      assert(!/submitted/.test(run.out));
      // Deno's start and planning come on top of the bound.
      assert(run.seconds < bound + 15, `${run.seconds} s, bound ${bound} s`);
      const status = await cli(dir, ["status", ...SWEEP], { env: attempts });
      assertEquals(status.code, 0, status.out);
      assertMatch(status.out, /warning: remote not checked/);
      assert(status.seconds < 10 + 15, `status: ${status.seconds} s`);
      // The client itself, with a short policy: the stated bound holds.
      const policy = { attempts: 2, timeoutMs: 500, backoffMs: 100 };
      const remote = new S3RemoteStore({
        bucket: S3.bucket,
        prefix: PREFIX,
        endpoint: S3.endpoint,
        region: "us-east-1",
        credentials: {
          accessKeyId: S3.accessKey,
          secretAccessKey: S3.secretKey,
        },
      }, { retry: policy });
      const t = performance.now();
      const error = await remote.readManifest("k").catch((e) => e);
      assert(error instanceof RemoteUnavailableError, String(error));
      assert(performance.now() - t < retryBoundMs(policy) + 1000);
      console.log(
        `  silent endpoint: run gave up after ${
          run.seconds.toFixed(1)
        } s (bound ${bound} s + start), status after ${
          status.seconds.toFixed(1)
        } s, ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      await services("start_rgw");
    }
  },
);

step(
  "after radosgw is back, a rerun publishes what was kept and every result is in the bucket",
  async () => {
    const rerun = await cli(sweepDir, ["--executor", "slurm", ...SWEEP]);
    assertEquals(rerun.code, 0, rerun.out);
    assert(!/not published/.test(rerun.out), rerun.out);
    const keys = await lockKeys(sweepDir);
    assertEquals(Object.keys(keys).length, 11);
    assertEquals(
      await listKeys(`${PREFIX}runs/`),
      Object.values(keys).map((key) => `${PREFIX}runs/${key}.json`).sort(),
    );
    const published = rerun.out.match(/computed while it was down/g) ?? [];
    console.log(
      `  rerun: ${published.length} kept result(s) published, ran ${
        names(rerun.out, "ran").length
      }, cached ${names(rerun.out, "cached").length}`,
    );
  },
);

step("cleanup: the scratch copies and this file's S3 prefix", cleanup);
