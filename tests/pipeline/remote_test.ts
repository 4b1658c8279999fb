/**
 * The local store as the first level over a remote one, without a server: an in-memory
 * RemoteStore (a plain map, with create-only manifests) stands in for S3 here; the real server
 * is exercised by tests/integration/. Also the remote configuration's errors.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertRejects } from "../assert.ts";
import { openRemote, SiteConfig } from "../../pipeline/config.ts";
import { sha256Text } from "../../pipeline/plan/hash.ts";
import { LocalStore } from "../../pipeline/store/local.ts";
import type { Manifest } from "../../pipeline/store/mod.ts";
import { MemoryRemote } from "./memory_remote.ts";
import { testManifest } from "./manifests.ts";
import { parseS3Url } from "../../pipeline/store/s3.ts";
import { UserError } from "../../pipeline/errors.ts";

function manifestFields(): Omit<Manifest, "outputs" | "digest"> {
  const { outputs: _none, digest: _sealed, ...fields } = testManifest();
  return fields;
}

const KEY = manifestFields().key;

async function withStore(
  fn: (store: LocalStore, remote: MemoryRemote, warnings: string[]) => Promise<
    void
  >,
) {
  const root = await Deno.makeTempDir({ prefix: "pipeline-remote-" });
  const remote = new MemoryRemote();
  const warnings: string[] = [];
  try {
    await fn(
      new LocalStore(root, { remote, onWarning: (m) => warnings.push(m) }),
      remote,
      warnings,
    );
  } finally {
    await new Deno.Command("chmod", { args: ["-R", "u+w", root] }).output();
    await Deno.remove(root, { recursive: true });
  }
}

async function save(store: LocalStore, text: string): Promise<Manifest> {
  const out = await store.makeTempDir("out");
  await Deno.writeTextFile(join(out, "x.txt"), text);
  return await store.save(out, {
    declared: ["x.txt"],
    manifest: manifestFields(),
  });
}

Deno.test("save uploads objects before the manifest and skips objects already there", async () => {
  await withStore(async (store, remote) => {
    await save(store, "one");
    const sha = (await sha256Text("one")).slice(0, 6);
    assertEquals(remote.log, [`object ${sha}`, `manifest ${KEY.slice(0, 6)}`]);
    remote.manifests.clear();
    remote.log = [];
    await save(store, "one");
    assertEquals(remote.log, [`skip ${sha}`, `manifest ${KEY.slice(0, 6)}`]);
  });
});

Deno.test("a second result for a key loses: it adopts the first one's outputs", async () => {
  await withStore(async (store, remote, warnings) => {
    // Another machine published first.
    const first = new LocalStore(join(store.dir, "..", "other"), { remote });
    await save(first, "theirs");
    const mine = await save(store, "mine");
    assertEquals(mine.outputs["x.txt"].sha256, await sha256Text("theirs"));
    const local = await store.readManifest(KEY);
    assert(local.state === "ok");
    assertEquals(
      local.manifest.outputs["x.txt"].sha256,
      await sha256Text("theirs"),
    );
    assertMatch(warnings[0], /another machine published this key first/);
  });
});

Deno.test("a corrupt remote object is detected on download, reported, and removed remotely", async () => {
  await withStore(async (store, remote) => {
    const publisher = new LocalStore(join(store.dir, "..", "other"), {
      remote,
    });
    const published = await save(publisher, "good");
    const sha = published.outputs["x.txt"].sha256;
    remote.objects.set(sha, new TextEncoder().encode("evil"));
    const found = await store.fetch(KEY, { declared: ["x.txt"], name: "s" });
    assertEquals(found.state, "missing");
    assert(found.state === "missing");
    assertMatch(
      found.warning ?? "",
      /remote result of s at mem:\/\/test\/ is corrupt \(x\.txt: content does not match its hash\); removed there/,
    );
    assertEquals(remote.manifests.size, 0);
    assertEquals(remote.objects.has(sha), false);
    // Nothing unverified entered the local store.
    assertEquals((await store.readManifest(KEY)).state, "missing");
  });
});

Deno.test("a good remote result is downloaded, verified and then local", async () => {
  await withStore(async (store, remote) => {
    const publisher = new LocalStore(join(store.dir, "..", "other"), {
      remote,
    });
    await save(publisher, "good");
    assertEquals(
      (await store.fetch(KEY, { declared: ["x.txt"] })).state,
      "fetched",
    );
    assertEquals(
      (await store.fetch(KEY, { declared: ["x.txt"] })).state,
      "local",
    );
    const restored = await store.restore(KEY, {
      declared: ["x.txt"],
      dir: join(store.dir, "..", "ws"),
      clean: true,
    });
    assert(restored.ok);
    assertEquals(
      await Deno.readTextFile(join(store.dir, "..", "ws", "x.txt")),
      "good",
    );
  });
});

Deno.test("remote configuration: bad URLs and missing credentials are errors naming what to set", async () => {
  assertEquals(parseS3Url("s3://bucket-1/a/b", "PIPELINE_REMOTE"), {
    bucket: "bucket-1",
    prefix: "a/b/",
  });
  assertEquals(parseS3Url("s3://bucket-1", "X").prefix, "");
  for (const bad of ["http://x/y", "s3://", "s3://B_ad/x"]) {
    try {
      parseS3Url(bad, "PIPELINE_REMOTE");
      assert(false, bad);
    } catch (error) {
      assert(error instanceof UserError);
      assertMatch(error.message, /PIPELINE_REMOTE is .* write s3:\/\/BUCKET/);
    }
  }
  const saved = Object.fromEntries(
    [
      "PIPELINE_REMOTE",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_PROFILE",
    ]
      .map((name) => [name, Deno.env.get(name)]),
  );
  try {
    for (const name of Object.keys(saved)) Deno.env.delete(name);
    const config = SiteConfig.parse({ remote: "s3://bucket/p" });
    await assertRejects(
      () => openRemote(config),
      UserError,
      "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
    Deno.env.set("AWS_ACCESS_KEY_ID", "someone");
    await assertRejects(
      () => openRemote(config),
      UserError,
      "AWS_SECRET_ACCESS_KEY is not",
    );
    Deno.env.set("AWS_SECRET_ACCESS_KEY", "secret");
    Deno.env.set("PIPELINE_REMOTE", "gs://nope");
    await assertRejects(() => openRemote(config), UserError, "PIPELINE_REMOTE");
    Deno.env.delete("PIPELINE_REMOTE");
    assertEquals((await openRemote(config))?.url, "s3://bucket/p/");
    assertEquals(await openRemote(SiteConfig.parse({})), undefined);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
});
