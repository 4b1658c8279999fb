import { join } from "node:path";
import { assertEquals, assertMatch } from "../assert.ts";
import { gitBlobId, readGitState } from "../../stages/git_state.ts";

async function git(dir: string, ...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("git", {
    args,
    cwd: dir,
    env: {
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(success ? stdout : stderr);
  if (!success) throw new Error(`git ${args.join(" ")}: ${text}`);
  return text.trim();
}

const haveGit = await git(".", "--version").then(() => true, () => false);

/** A repository with a few files (one in a subfolder, one empty, one symlink), committed. */
async function repo(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "git_state_" });
  await git(dir, "init", "-q", "-b", "main");
  await Deno.writeTextFile(join(dir, "a.ts"), "export const a = 1;\n");
  await Deno.mkdir(join(dir, "results"));
  await Deno.writeTextFile(join(dir, "results/report.md"), "# r\n");
  await Deno.writeTextFile(join(dir, "pipeline.lock"), "{}\n");
  await Deno.writeTextFile(join(dir, "empty"), "");
  await Deno.symlink("a.ts", join(dir, "link"));
  await git(dir, "add", "-A");
  await git(dir, "commit", "-q", "-m", "init");
  return dir;
}

const GENERATED = ["pipeline.lock", "results/"];

Deno.test({
  name: "readGitState: the commit, clean, then each kind of change is dirty",
  ignore: !haveGit,
  async fn() {
    const dir = await repo();
    try {
      const head = await git(dir, "rev-parse", "HEAD");
      let state = await readGitState(dir, { ignore: GENERATED });
      assertEquals(state.commit, head);
      assertEquals(state.branch, "main");
      assertEquals(state.dirty.state, "clean");
      // What the pipeline writes itself does not count...
      await Deno.writeTextFile(join(dir, "pipeline.lock"), '{"x":1}\n');
      await Deno.writeTextFile(join(dir, "results/report.md"), "# new\n");
      assertEquals(
        (await readGitState(dir, { ignore: GENERATED })).dirty.state,
        "clean",
      );
      // ...unless asked, and untracked files never do.
      await Deno.writeTextFile(join(dir, "untracked.txt"), "x");
      state = await readGitState(dir);
      assertEquals(state.dirty.state, "dirty");
      assertMatch(state.dirty.detail, /2 tracked file\(s\).*pipeline\.lock/);
      // Same size, other content: found by the blob hash, not the size.
      await Deno.writeTextFile(join(dir, "a.ts"), "export const a = 2;\n");
      state = await readGitState(dir, { ignore: GENERATED });
      assertEquals(state.dirty.state, "dirty");
      assertMatch(state.dirty.detail, /1 tracked file\(s\) differ.*: a\.ts/);
      await git(dir, "checkout", "a.ts");
      await Deno.remove(join(dir, "empty"));
      assertMatch(
        (await readGitState(dir, { ignore: GENERATED })).dirty.detail,
        /: empty/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "readGitState: packed refs, detached HEAD, and what it cannot read",
  ignore: !haveGit,
  async fn() {
    const dir = await repo();
    try {
      const head = await git(dir, "rev-parse", "HEAD");
      await git(dir, "pack-refs", "--all");
      assertEquals((await readGitState(dir)).commit, head);
      await git(dir, "checkout", "-q", "--detach");
      const detached = await readGitState(dir);
      assertEquals([detached.commit, detached.branch], [head, null]);
      await git(dir, "update-index", "--index-version", "4");
      assertEquals((await readGitState(dir)).dirty, {
        state: "unknown",
        detail: "git index version not supported",
      });
      const plain = await Deno.makeTempDir();
      const none = await readGitState(plain);
      assertEquals([none.commit, none.dirty.state], [null, "unknown"]);
      assertMatch(none.dirty.detail, /not a git clone/);
      await Deno.remove(plain);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "gitBlobId is git's object id",
  ignore: !haveGit,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const content = new TextEncoder().encode("hello\nworld\n");
      await Deno.writeFile(join(dir, "f"), content);
      assertEquals(
        await gitBlobId(content),
        await git(dir, "hash-object", "f"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
