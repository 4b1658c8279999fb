import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { writeFileAtomic } from "../../pipeline/fs.ts";
import { LocalStore as Store } from "../../pipeline/store/local.ts";
import { readLockFile } from "../../pipeline/lock.ts";
import {
  acquireRunLock,
  RunLockBusyError,
  type RunLockInfo,
} from "../../pipeline/store/run_lock.ts";
import {
  sha256Bytes,
  sha256File,
  sha256Text,
} from "../../pipeline/plan/hash.ts";
import { UserError } from "../../pipeline/errors.ts";
import { testManifest } from "./manifests.ts";
import {
  manifestText,
  parseManifest,
  sealManifest as sealManifestForTest,
} from "../../pipeline/store/manifest.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pipeline-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("writeFileAtomic replaces whole files and leaves no temp file, even when it fails", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "a.json");
    await writeFileAtomic(path, "one");
    await writeFileAtomic(path, "two");
    assertEquals(await Deno.readTextFile(path), "two");
    assertEquals(await names(dir), ["a.json"]);
    await Deno.mkdir(join(dir, "taken"));
    await Deno.writeTextFile(join(dir, "taken", "x"), "keep");
    await assertRejects(
      () => writeFileAtomic(join(dir, "taken"), "data"),
      Error,
    );
    assertEquals(await names(dir), ["a.json", "taken"]);
    assertEquals(await Deno.readTextFile(join(dir, "taken", "x")), "keep");
  });
});

Deno.test("putOutputs stores read-only objects by hash; checkout links them into a workspace", async () => {
  await withDir(async (root) => {
    const store = new Store(root);
    const out = await store.makeTempDir("s");
    await Deno.mkdir(join(out, "sub"));
    await Deno.writeTextFile(join(out, "sub/a.txt"), "hello");
    const records = await store.putOutputs(out, ["sub/a.txt"]);
    assertEquals(records, {
      "sub/a.txt": { sha256: await sha256Text("hello"), size: 5 },
    });
    const object = store.objectPath(records["sub/a.txt"].sha256);
    assertEquals((await Deno.stat(object)).mode! & 0o777, 0o444);
    const checked = await store.checkout(records, join(root, "ws"), {
      clean: true,
    });
    const target = join(root, "ws/sub/a.txt");
    assertEquals(await Deno.readTextFile(target), "hello");
    assertEquals(checked["sub/a.txt"].size, 5);
    assertEquals(
      checked["sub/a.txt"].mtime,
      (await Deno.stat(target)).mtime?.getTime(),
    );
    assertEquals((await Deno.stat(target)).ino, (await Deno.stat(object)).ino);
  });
});

Deno.test("putOutputs names every declared output that was not written", async () => {
  await withDir(async (root) => {
    const store = new Store(root);
    const out = await store.makeTempDir("s");
    await Deno.writeTextFile(join(out, "a.txt"), "a");
    const error = await assertRejects(
      () => store.putOutputs(out, ["a.txt", "b.txt", "c.txt"]),
      UserError,
    );
    assertEquals(
      error.message,
      "did not write its declared outputs b.txt, c.txt",
    );
  });
});

Deno.test("manifests are zod-validated when read back; corrupt objects are found by re-hashing", async () => {
  await withDir(async (root) => {
    const store = new Store(root);
    const key = "a".repeat(64);
    assertEquals((await store.readManifest(key)).state, "missing");
    await Deno.mkdir(join(root, ".pipeline/runs"), { recursive: true });
    await Deno.writeTextFile(
      store.manifestPath(key),
      JSON.stringify({ version: 2, key }),
    );
    assertEquals((await store.readManifest(key)).state, "invalid");
    const out = await store.makeTempDir("s");
    await Deno.writeTextFile(join(out, "x"), "content");
    const outputs = await store.putOutputs(out, ["x"]);
    const manifest = testManifest({ outputs });
    await store.writeManifest(manifest);
    const read = await store.readManifest(manifest.key);
    assertEquals(read.state, "ok");
    assertEquals(await store.corruptObjects(manifest), []);
    const object = store.objectPath(outputs.x.sha256);
    await Deno.chmod(object, 0o644);
    await Deno.writeTextFile(object, "CONTENT"); // same size, other bytes
    assertEquals(await store.corruptObjects(manifest), ["x"]);
  });
});

Deno.test("the run lock is exclusive, records pid, host and start, and is released", async () => {
  await withDir(async (dir) => {
    const lock = await acquireRunLock(dir, { command: "run" });
    const info = JSON.parse(await Deno.readTextFile(join(dir, "run.lock")));
    assertEquals([info.pid, info.command], [Deno.pid, "run"]);
    assert(!Number.isNaN(Date.parse(info.startedAt)));
    // A second handle, even in the same process, is refused by the kernel lock.
    const error = await assertRejects(
      () => acquireRunLock(dir),
      RunLockBusyError,
    );
    assertMatch(
      error.message,
      new RegExp(
        `another run holds .*run\\.lock \\(pid ${Deno.pid} on .* since ${info.startedAt}: run\\); ` +
          "wait for it to finish, or rerun with --wait",
      ),
    );
    await lock.release();
    assertEquals(await names(dir), []);
    const again = await acquireRunLock(dir);
    await again.release();
  });
});

Deno.test("a run.lock file nobody holds is taken at once, whatever pid it names", async () => {
  await withDir(async (dir) => {
    // Left by a killed run: the kernel released its lock; the pid may even be alive (ours).
    const stale: RunLockInfo = {
      pid: Deno.pid,
      host: "here",
      startedAt: "then",
    };
    await Deno.writeTextFile(join(dir, "run.lock"), JSON.stringify(stale));
    const lock = await acquireRunLock(dir, { command: "gc" });
    const info = JSON.parse(await Deno.readTextFile(join(dir, "run.lock")));
    assertEquals(info.command, "gc");
    assert(info.startedAt !== "then");
    await lock.release();
  });
});

Deno.test("with wait, the run lock is taken as soon as the holder releases it", async () => {
  await withDir(async (dir) => {
    const holder = await acquireRunLock(dir, { command: "first" });
    const waits: (RunLockInfo | undefined)[] = [];
    let releasedAt = 0;
    setTimeout(() => {
      releasedAt = performance.now();
      holder.release();
    }, 300);
    const second = await acquireRunLock(dir, {
      wait: true,
      pollMs: 20,
      onWait: (info) => waits.push(info),
    });
    assert(releasedAt > 0, "acquired before the holder released");
    assertEquals(waits.map((info) => info?.command), ["first"]);
    await second.release();
  });
});

Deno.test("waiting for the run lock stops when the signal aborts", async () => {
  await withDir(async (dir) => {
    const holder = await acquireRunLock(dir);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop waiting")), 100);
    await assertRejects(
      () =>
        acquireRunLock(dir, {
          wait: true,
          pollMs: 20,
          signal: controller.signal,
        }),
      Error,
      "stop waiting",
    );
    await holder.release();
  });
});

Deno.test("an invalid pipeline.lock is a user error that says how to recover", async () => {
  await withDir(async (root) => {
    assertEquals(await readLockFile(root), { version: 2, instances: {} });
    await Deno.writeTextFile(
      join(root, "pipeline.lock"),
      JSON.stringify({ version: 2, instances: { a: {} } }),
    );
    const error = await assertRejects(() => readLockFile(root), UserError);
    assertMatch(
      error.message,
      /pipeline\.lock is invalid .*delete it and rerun/,
    );
  });
});

Deno.test("a pipeline.lock of the first format is an older key format: its instances recompute, saying so", async () => {
  await withDir(async (root) => {
    await Deno.writeTextFile(
      join(root, "pipeline.lock"),
      JSON.stringify({ version: 1, instances: { a: {}, "b@0": {} } }),
    );
    const lock = await readLockFile(root);
    assertEquals(lock.instances, {});
    assertEquals([...lock.olderFormat ?? []], ["a", "b@0"]);
  });
});

Deno.test("sha256File streams large files and agrees with sha256Bytes", async () => {
  await withDir(async (dir) => {
    const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) =>
      (i * 31) % 256
    );
    const path = join(dir, "big.bin");
    await Deno.writeFile(path, data);
    const { sha256, size } = await sha256File(path);
    assertEquals(size, data.byteLength);
    assertEquals(sha256, await sha256Bytes(data));
    // The well-known digest of "abc" pins the algorithm.
    assertEquals(
      await sha256Text("abc"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

Deno.test("an output that is a symbolic link is refused, naming it", async () => {
  await withDir(async (root) => {
    const store = new Store(root);
    const out = await store.makeTempDir("s");
    await Deno.writeTextFile(join(root, "elsewhere.txt"), "x");
    await Deno.symlink(join(root, "elsewhere.txt"), join(out, "a.txt"));
    await assertRejects(
      () => store.putOutputs(out, ["a.txt"]),
      UserError,
      "output a.txt is a symbolic link",
    );
  });
});

Deno.test("a manifest reads back only where it belongs: its digest, its key and its key record", () => {
  const rdrop = testManifest({
    stage: "train_rdrop",
    instance: "train_rdrop@0",
    item: 0,
    outputs: { "weights.bin": { sha256: "1".repeat(64), size: 8 } },
  });
  const baseline = testManifest({
    stage: "train_baseline",
    instance: "train_baseline@0",
    item: 0,
    outputs: { "weights.bin": { sha256: "2".repeat(64), size: 8 } },
  });
  assertEquals(parseManifest(manifestText(rdrop), rdrop.key).state, "ok");
  // An output pointed at another valid object (the baseline's weights), digest left as it was.
  const edited = {
    ...rdrop,
    outputs: { "weights.bin": baseline.outputs["weights.bin"] },
  };
  const read = parseManifest(JSON.stringify(edited), rdrop.key);
  assert(read.state === "invalid");
  assertMatch(read.reason, /does not match its digest/);
  // Another result's whole manifest under this key: its key names another file.
  const moved = parseManifest(manifestText(baseline), rdrop.key);
  assert(moved.state === "invalid");
  assertMatch(moved.reason, /key does not match file name/);
  // Relabelled as this key, digest recomputed: its record still hashes to its own key.
  const { digest: _old, ...rest } = { ...baseline, key: rdrop.key };
  const relabelled = parseManifest(
    manifestText(sealManifestForTest(rest)),
    rdrop.key,
  );
  assert(relabelled.state === "invalid");
  assertMatch(relabelled.reason, /does not hash to its key/);
  // A manifest of the first format is an older format, not a corrupt entry.
  assertEquals(
    parseManifest(JSON.stringify({ version: 1, key: rdrop.key }), rdrop.key),
    { state: "old-format", version: 1 },
  );
});
