/**
 * A remote store that stops answering: each call is bounded and retried, then fails with one
 * line naming the store; a result computed meanwhile is kept, listed, named by the run and
 * published by the next one. The S3 client against a silent socket and the real server
 * (radosgw killed) are in tests/integration/remote_faults_test.ts.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import {
  RemoteUnavailableError,
  retryBoundMs,
  transientReason,
  withRetries,
} from "../../pipeline/store/remote_retry.ts";
import { demoPipeline, makeRig, runCollect } from "./helpers.ts";
import { MemoryRemote } from "./memory_remote.ts";

const WHERE = { url: "s3://b/p/", endpoint: "http://127.0.0.1:1" };
const FAST = { attempts: 3, timeoutMs: 200, backoffMs: 10 };

Deno.test("withRetries: passing faults are retried with doubling pauses, then one error names the store", async () => {
  const pauses: number[] = [];
  let calls = 0;
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
    code: "ECONNREFUSED",
  });
  const error = await assertRejects(
    () =>
      withRetries(() => {
        calls++;
        return Promise.reject(refused);
      }, {
        policy: { attempts: 4, timeoutMs: 1000, backoffMs: 100 },
        where: WHERE,
        what: "reading the manifest of k",
        sleep: (ms) => {
          pauses.push(ms);
          return Promise.resolve();
        },
      }),
    RemoteUnavailableError,
  );
  assertEquals(calls, 4);
  assertEquals(pauses, [100, 200, 400]);
  assertMatch(
    (error as Error).message,
    /^the remote store s3:\/\/b\/p\/ \(http:\/\/127\.0\.0\.1:1\) is unreachable: reading the manifest of k failed 4 time\(s\) over \d+ s \(connection refused\)$/,
  );
  assertEquals(
    retryBoundMs({ attempts: 4, timeoutMs: 1000, backoffMs: 100 }),
    4700,
  );
});

Deno.test("withRetries: a 5xx is retried until it passes; a 403 or 404 is returned at once", async () => {
  let calls = 0;
  const value = await withRetries(() => {
    calls++;
    return calls < 3
      ? Promise.reject(Object.assign(new Error("boom"), {
        name: "InternalError",
        $metadata: { httpStatusCode: 503 },
      }))
      : Promise.resolve("ok");
  }, { policy: FAST, where: WHERE, what: "x", sleep: () => Promise.resolve() });
  assertEquals([value, calls], ["ok", 3]);
  for (const status of [403, 404, 412]) {
    calls = 0;
    const denied = Object.assign(new Error("no"), {
      $metadata: { httpStatusCode: status },
    });
    await assertRejects(() =>
      withRetries(() => {
        calls++;
        return Promise.reject(denied);
      }, { policy: FAST, where: WHERE, what: "x" })
    );
    assertEquals(calls, 1, `status ${status}`);
    assertEquals(transientReason(denied), undefined);
  }
});

Deno.test("a run whose remote goes down: results are kept and named, and the next run publishes them", async () => {
  await using rig = await makeRig();
  const remote = new MemoryRemote();
  const down = new RemoteUnavailableError(
    { url: remote.url, endpoint: "mem" },
    {
      what: "uploading",
      why: "connection refused",
      attempts: 4,
      seconds: 7,
    },
  );
  remote.writeError = down;
  remote.readError = down;
  const { pipeline } = demoPipeline(rig);
  const first = await runCollect(pipeline, { root: rig.root, remote });
  // Local instances go on without it (nothing in-process needs the remote).
  assertEquals(first.result.outcome, "success");
  const warnings = first.events.flatMap((e) =>
    e.type === "warning" ? [e.message] : []
  );
  assertEquals(
    warnings.filter((w) => w.includes("is unreachable")).length,
    1,
    warnings.join("\n"),
  );
  const unpublished = warnings.find((w) => w.startsWith("not published"));
  assertEquals(
    unpublished,
    "not published to mem://test/ (kept in .pipeline/): report, source, train@0; " +
      "`deno task pipeline push` publishes them once the remote answers (so does the next run)",
  );
  assertEquals(remote.manifests.size, 0);
  // Back up: the next run publishes them before anything else, and computes nothing.
  remote.writeError = undefined;
  remote.readError = undefined;
  const second = await runCollect(pipeline, { root: rig.root, remote });
  assertEquals(second.result.outcome, "success");
  assertEquals(second.result.ran, []);
  assertEquals(remote.manifests.size, 3);
  assert(
    !second.events.some((e) =>
      e.type === "warning" && e.message.startsWith("not published")
    ),
  );
});
