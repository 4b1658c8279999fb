import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../assert.ts";
import {
  fetchAllVerified,
  type FetchProgress,
  type FetchRetry,
  fetchVerified,
  parseSource,
} from "../../data/fetch.ts";
import {
  DataError,
  FetchError,
  type SourceFailure,
} from "../../data/errors.ts";
import { FASHION_MNIST_FILE_LIST } from "../../data/fashion_mnist.ts";
import { gzip, makeIdx, pseudoRandomBytes, sha256 } from "./_helpers.ts";

const NAME = "tiny-images-idx3-ubyte.gz";

interface Fixture {
  idx: Uint8Array;
  gz: Uint8Array;
  file: { name: string; sha256: string };
}

async function makeFixture(): Promise<Fixture> {
  // Large enough for several network chunks, so progress and stalls are observable.
  const idx = makeIdx([50, 40, 40], pseudoRandomBytes(50 * 40 * 40, 7));
  return {
    idx,
    gz: await gzip(idx),
    file: { name: NAME, sha256: sha256(idx) },
  };
}

interface TestServer {
  base: (route: string) => string;
  hits: Map<string, number>;
  close: () => Promise<void>;
}

/** Serves `/<route>/<name>` on 127.0.0.1 with one behaviour per route. */
async function startServer(fx: Fixture): Promise<TestServer> {
  const other = await gzip(
    makeIdx([50, 40, 40], pseudoRandomBytes(50 * 40 * 40, 8)),
  );
  const hits = new Map<string, number>();
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const gzHeaders = { "content-type": "application/gzip" };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const route = new URL(req.url).pathname.split("/")[1];
      const n = (hits.get(route) ?? 0) + 1;
      hits.set(route, n);
      switch (route) {
        case "good":
          return new Response(fx.gz as Uint8Array<ArrayBuffer>, {
            headers: gzHeaders,
          });
        case "corrupt":
          return new Response(other as Uint8Array<ArrayBuffer>, {
            headers: gzHeaders,
          });
        case "truncated":
          return new Response(fx.gz.slice(0, Math.floor(fx.gz.length / 2)), {
            headers: gzHeaders,
          });
        case "flaky":
          return n <= 2
            ? new Response("busy", { status: 503 })
            : new Response(fx.gz as Uint8Array<ArrayBuffer>, {
              headers: gzHeaders,
            });
        case "down":
          return new Response("down", { status: 503 });
        case "hang":
          await released;
          return new Response("too late", { status: 500 });
        case "stall": {
          const half = fx.gz.slice(0, Math.floor(fx.gz.length / 2));
          const body = new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(half);
            },
            async pull(controller) {
              await released;
              try {
                controller.close();
              } catch { /* the client cancelled */ }
            },
          });
          return new Response(body, {
            headers: { ...gzHeaders, "content-length": String(fx.gz.length) },
          });
        }
        default:
          return new Response("no such file", { status: 404 });
      }
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  return {
    base: (route) => `http://127.0.0.1:${port}/${route}`,
    hits,
    close: async () => {
      release();
      await server.shutdown();
    },
  };
}

async function tempDirEntries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function withSetup(
  fn: (fx: Fixture, server: TestServer, dest: string) => Promise<void>,
) {
  const fx = await makeFixture();
  const server = await startServer(fx);
  const dest = await Deno.makeTempDir();
  try {
    await fn(fx, server, dest);
  } finally {
    await server.close();
    await Deno.remove(dest, { recursive: true });
  }
}

Deno.test("parseSource classifies directories, file:// and http(s):// sources", () => {
  assertEquals(parseSource("/usr/share/x"), {
    kind: "dir",
    path: "/usr/share/x",
  });
  assertEquals(parseSource("relative/dir"), {
    kind: "dir",
    path: "relative/dir",
  });
  assertEquals(parseSource("file:///tmp/a%20b"), {
    kind: "dir",
    path: "/tmp/a b",
  });
  assertEquals(parseSource("https://h.example/data"), {
    kind: "http",
    baseUrl: "https://h.example/data/",
  });
  assertEquals(parseSource("http://h.example/d/"), {
    kind: "http",
    baseUrl: "http://h.example/d/",
  });
  assertStringIncludes(
    assertThrows(() => parseSource("ftp://h/x"), DataError).message,
    "ftp://h/x",
  );
  assertThrows(() => parseSource(" "), DataError);
});

Deno.test("a good HTTP source is downloaded, verified and reported with progress", async () => {
  await withSetup(async (fx, server, dest) => {
    const progress: FetchProgress[] = [];
    const result = await fetchVerified(fx.file, {
      sources: [server.base("good")],
      destDir: dest,
      onProgress: (p) => progress.push(p),
    });
    assertEquals(result.path, `${dest}/${NAME}`);
    assertEquals(result.source, server.base("good"));
    assertEquals(result.attempts, 1);
    assertEquals(result.bytes, fx.gz.length);
    assertEquals(result.decompressedBytes, fx.idx.length);
    assertEquals(result.sha256, fx.file.sha256);
    assertEquals(await Deno.readFile(result.path), fx.gz);
    assert(progress.length >= 1);
    for (let i = 1; i < progress.length; i++) {
      assert(progress[i].bytes > progress[i - 1].bytes);
    }
    assertEquals(progress.at(-1), {
      file: NAME,
      source: server.base("good"),
      bytes: fx.gz.length,
      total: fx.gz.length,
      attempt: 1,
    });
    assertEquals(await tempDirEntries(dest), [NAME]);
  });
});

Deno.test("failing sources are reported once each and the next source is tried", async () => {
  await withSetup(async (fx, server, dest) => {
    const failed: SourceFailure[] = [];
    const sources = [
      `${dest}/missing-dir`,
      server.base("corrupt"),
      server.base("truncated"),
      server.base("missing"),
      server.base("good"),
    ];
    const result = await fetchVerified(fx.file, {
      sources,
      destDir: dest,
      retryDelayMs: 1,
      onSourceFailed: ({ source, reason }) => failed.push({ source, reason }),
    });
    assertEquals(result.source, server.base("good"));
    assertEquals(failed.map((f) => f.source), sources.slice(0, 4));
    assertEquals(result.failures, failed);
    assertStringIncludes(failed[0].reason, "not found");
    assertStringIncludes(failed[1].reason, "SHA-256 mismatch");
    assertStringIncludes(failed[2].reason, "gzip");
    assertStringIncludes(failed[3].reason, "HTTP 404");
    // Bad content and 404 are not retried: the same bytes would come back.
    assertEquals([
      server.hits.get("corrupt"),
      server.hits.get("truncated"),
      server.hits.get("missing"),
    ], [1, 1, 1]);
    assertEquals(await tempDirEntries(dest), [NAME]);
  });
});

Deno.test("directory and file:// sources verify the decompressed content, not the .gz bytes", async () => {
  await withSetup(async (fx, _server, dest) => {
    const src = await Deno.makeTempDir();
    try {
      // Another gzip header timestamp: different .gz bytes, same decompressed data.
      const repacked = fx.gz.slice();
      repacked.set([1, 2, 3, 4], 4);
      assert(sha256(repacked) !== sha256(fx.gz));
      await Deno.writeFile(`${src}/${NAME}`, repacked);
      const fromDir = await fetchVerified(fx.file, {
        sources: [src],
        destDir: `${dest}/a`,
      });
      assertEquals(fromDir.source, src);
      assertEquals(await Deno.readFile(fromDir.path), repacked);
      const url = new URL(`file://${src}/`).href;
      const fromUrl = await fetchVerified(fx.file, {
        sources: [url],
        destDir: `${dest}/b`,
      });
      assertEquals(fromUrl.source, url);
      assertEquals(fromUrl.sha256, fx.file.sha256);
    } finally {
      await Deno.remove(src, { recursive: true });
    }
  });
});

Deno.test("a hanging server and a stalled body time out, are retried, and leave no temp file", async () => {
  await withSetup(async (fx, server, dest) => {
    const retries: FetchRetry[] = [];
    const failed: SourceFailure[] = [];
    const started = performance.now();
    const error = await assertRejects(
      () =>
        fetchVerified(fx.file, {
          sources: [server.base("hang"), server.base("stall")],
          destDir: dest,
          timeoutMs: 150,
          retries: 1,
          retryDelayMs: 1,
          onRetry: (r) => retries.push(r),
          onSourceFailed: (f) => failed.push(f),
        }),
      FetchError,
    );
    assert(performance.now() - started < 5000, "timeouts must bound the wait");
    assertEquals(server.hits.get("hang"), 2);
    assertEquals(server.hits.get("stall"), 2);
    assertEquals(retries.map((r) => [r.source, r.attempt]), [[
      server.base("hang"),
      1,
    ], [server.base("stall"), 1]]);
    assertStringIncludes(failed[0].reason, "no response within 150 ms");
    assertStringIncludes(failed[1].reason, "stalled");
    assertStringIncludes(failed[1].reason, "gave up after 2 attempts");
    assertEquals(
      error.failures,
      failed.map(({ source, reason }) => ({ source, reason })),
    );
    assertEquals(await tempDirEntries(dest), []);
  });
});

Deno.test("5xx responses and refused connections are retried with growing delays", async () => {
  await withSetup(async (fx, server, dest) => {
    const retries: FetchRetry[] = [];
    const attempts = new Set<number>();
    const ok = await fetchVerified(fx.file, {
      sources: [server.base("flaky")],
      destDir: dest,
      retries: 2,
      retryDelayMs: 5,
      onRetry: (r) => retries.push(r),
      onProgress: (p) => attempts.add(p.attempt),
    });
    assertEquals(ok.attempts, 3);
    assertEquals([...attempts], [3]);
    assertEquals(server.hits.get("flaky"), 3);
    assertEquals(retries.map((r) => r.delayMs), [5, 10]);
    assertStringIncludes(retries[0].reason, "HTTP 503");

    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const refusedRetries: FetchRetry[] = [];
    const error = await assertRejects(
      () =>
        fetchVerified(fx.file, {
          sources: [server.base("down"), `http://127.0.0.1:${closedPort}/x`],
          destDir: `${dest}/other`,
          retries: 3,
          retryDelayMs: 1,
          onRetry: (r) => refusedRetries.push(r),
        }),
      FetchError,
    );
    assertEquals(server.hits.get("down"), 4);
    assertEquals(refusedRetries.length, 6);
    assertStringIncludes(error.failures[0].reason, "gave up after 4 attempts");
    assertStringIncludes(error.failures[1].reason, "network error");
    assertEquals(await tempDirEntries(`${dest}/other`), []);
  });
});

Deno.test("when every source fails the error lists each source and the offline install hint", async () => {
  await withSetup(async (fx, server, dest) => {
    const sources = [
      `${dest}/nowhere`,
      server.base("corrupt"),
      server.base("missing"),
    ];
    const error = await assertRejects(
      () => fetchVerified(fx.file, { sources, destDir: dest, retries: 0 }),
      FetchError,
    );
    assertEquals(error.file, NAME);
    assertEquals(error.failures.map((f) => f.source), sources);
    const lines = error.message.split("\n");
    assertStringIncludes(lines[0], NAME);
    for (const [i, source] of sources.entries()) {
      assertStringIncludes(lines[i + 1], source);
    }
    assertStringIncludes(
      error.message,
      "apt-get install dataset-fashion-mnist",
    );
    assertInstanceOf(error, DataError);
    assertEquals(await tempDirEntries(dest), []);
  });
});

Deno.test("an abort signal stops the fetch with its reason and removes the temp file", async () => {
  await withSetup(async (fx, server, dest) => {
    const controller = new AbortController();
    const reason = new Error("user cancelled");
    const pending = fetchVerified(fx.file, {
      sources: [server.base("stall"), server.base("good")],
      destDir: dest,
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    });
    const error = await assertRejects(() => pending, Error);
    assertEquals(error, reason);
    assertEquals(server.hits.get("good"), undefined);
    assertEquals(await tempDirEntries(dest), []);
  });
});

Deno.test({
  name: "a host outside --allow-net fails at once, without retries",
  // Only meaningful when the test runs with net access restricted to 127.0.0.1.
  ignore: Deno.permissions.querySync({ name: "net", host: "localhost:45678" })
    .state ===
    "granted",
  async fn() {
    const fx = await makeFixture();
    const dest = await Deno.makeTempDir();
    try {
      const retries: FetchRetry[] = [];
      const error = await assertRejects(
        () =>
          fetchVerified(fx.file, {
            sources: ["http://localhost:45678/"],
            destDir: dest,
            retries: 3,
            retryDelayMs: 1,
            onRetry: (r) => retries.push(r),
          }),
        FetchError,
      );
      assertEquals(retries, []);
      assertStringIncludes(error.failures[0].reason, "no network permission");
    } finally {
      await Deno.remove(dest, { recursive: true });
    }
  },
});

const REAL_DIR = "/usr/share/datasets/fashion-mnist";
const realPresent = (() => {
  try {
    return Deno.statSync(REAL_DIR).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "the four real files verify against their published SHA-256 from the Debian directory",
  ignore: !realPresent,
  async fn() {
    const dest = await Deno.makeTempDir();
    try {
      const results = await fetchAllVerified(FASHION_MNIST_FILE_LIST, {
        sources: [REAL_DIR],
        destDir: dest,
      });
      assertEquals(results.map((r) => r.decompressedBytes), [
        47040016,
        60008,
        7840016,
        10008,
      ]);
      assertEquals(
        results.map((r) => r.sha256),
        FASHION_MNIST_FILE_LIST.map((f) => f.sha256),
      );
    } finally {
      await Deno.remove(dest, { recursive: true });
    }
  },
});

Deno.test("an unwritable destination is a DataError, not a source failure, and leaks nothing", async () => {
  await withSetup(async (fx, server, dest) => {
    const src = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${src}/${NAME}`, fx.gz);
      // A regular file where the destination directory should be: creating files in it fails.
      await Deno.writeTextFile(`${dest}/not-a-dir`, "");
      const failed: SourceFailure[] = [];
      await assertRejects(
        () =>
          fetchVerified(fx.file, {
            sources: [src],
            destDir: `${dest}/not-a-dir/sub`,
          }),
        DataError,
      );
      // The directory exists but refuses new files: the temp file cannot be created.
      await Deno.mkdir(`${dest}/ro`);
      await Deno.chmod(`${dest}/ro`, 0o500);
      // Root ignores directory permissions; then only the mkdir case above is checked.
      const enforced = await Deno.writeTextFile(`${dest}/ro/probe`, "").then(
        () => Deno.remove(`${dest}/ro/probe`).then(() => false),
        () => true,
      );
      for (const source of enforced ? [src, server.base("good")] : []) {
        const error = await assertRejects(
          () =>
            fetchVerified(fx.file, {
              sources: [source],
              destDir: `${dest}/ro`,
              onSourceFailed: (f) => failed.push(f),
            }),
          DataError,
        );
        assert(!(error instanceof FetchError), error.message);
      }
      assertEquals(failed, []);
      await Deno.chmod(`${dest}/ro`, 0o700);
      assertEquals(await tempDirEntries(`${dest}/ro`), []);
    } finally {
      await Deno.remove(src, { recursive: true });
    }
  });
});
