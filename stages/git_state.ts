/**
 * Which commit a directory holds and whether its tracked files differ from it, read from the
 * `.git` directory itself: the pipeline may not spawn `git` (no --allow-run), only read files.
 *
 * "Dirty" here means what can be checked without git: a tracked file whose content differs
 * from git's index (modified or deleted). Changes staged with `git add` but not committed are
 * not seen (that would need reading packed objects), nor are untracked files (as with
 * `git describe --dirty`).
 *
 * @module
 */
import { join } from "node:path";

/** The commit and cleanliness of a work tree. */
export interface GitState {
  /** Full commit id of HEAD, or null when it could not be read. */
  commit: string | null;
  /** Branch name, or null (detached HEAD or unknown). */
  branch: string | null;
  /** `clean`, `dirty` (with the first paths) or `unknown` (with the reason). */
  dirty: { state: "clean" | "dirty" | "unknown"; detail: string };
}

/** Options of {@link readGitState}. */
export interface GitStateOptions {
  /**
   * Root-relative paths (a file, or a folder ending in `/`) the pipeline itself writes, left
   * out of the comparison: a run rewrites them, so they would make every run look dirty.
   */
  ignore?: readonly string[];
}

/** Reads HEAD and compares the tracked files under `root` with git's index. Never throws. */
export async function readGitState(
  root: string,
  options: GitStateOptions = {},
): Promise<GitState> {
  const gitDir = join(root, ".git");
  let head: string;
  try {
    head = (await Deno.readTextFile(join(gitDir, "HEAD"))).trim();
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "not a git clone (no .git directory)"
      : error instanceof Deno.errors.NotCapable ||
          error instanceof Deno.errors.PermissionDenied
      ? ".git cannot be read with this run's permissions"
      : ".git/HEAD cannot be read (a worktree or submodule keeps it elsewhere)";
    return {
      commit: null,
      branch: null,
      dirty: { state: "unknown", detail: reason },
    };
  }
  const { commit, branch } = await resolveHead(gitDir, head);
  return { commit, branch, dirty: await compareWithIndex(root, options) };
}

async function resolveHead(
  gitDir: string,
  head: string,
): Promise<{ commit: string | null; branch: string | null }> {
  if (/^[0-9a-f]{40,64}$/.test(head)) return { commit: head, branch: null };
  const ref = /^ref: (refs\/\S+)$/.exec(head)?.[1];
  if (ref === undefined) return { commit: null, branch: null };
  const branch = ref.replace(/^refs\/heads\//, "");
  try {
    return {
      commit: (await Deno.readTextFile(join(gitDir, ref))).trim(),
      branch,
    };
  } catch {
    // Not a loose ref: look in packed-refs.
  }
  try {
    const packed = await Deno.readTextFile(join(gitDir, "packed-refs"));
    for (const line of packed.split("\n")) {
      const [id, name] = line.split(" ");
      if (name === ref) return { commit: id, branch };
    }
  } catch {
    // no packed-refs
  }
  return { commit: null, branch };
}

/** One entry of git's index (stage 0). */
interface IndexEntry {
  path: string;
  mode: number;
  size: number;
  sha: string;
}

/** Parses `.git/index` versions 2 and 3; undefined for other versions. */
export function parseGitIndex(bytes: Uint8Array): IndexEntry[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  const version = view.getUint32(4);
  if (magic !== "DIRC" || (version !== 2 && version !== 3)) return undefined;
  const count = view.getUint32(8);
  const entries: IndexEntry[] = [];
  let offset = 12;
  for (let i = 0; i < count; i++) {
    const mode = view.getUint32(offset + 24);
    const size = view.getUint32(offset + 36);
    const sha = hex(bytes.subarray(offset + 40, offset + 60));
    const flags = view.getUint16(offset + 60);
    const extended = version === 3 && (flags & 0x4000) !== 0;
    const extra = extended ? view.getUint16(offset + 62) : 0;
    const nameStart = offset + 62 + (extended ? 2 : 0);
    let nameEnd = nameStart;
    while (bytes[nameEnd] !== 0) nameEnd++;
    const path = new TextDecoder().decode(bytes.subarray(nameStart, nameEnd));
    const stage = (flags >> 12) & 0x3;
    const skipWorktree = (extra & 0x4000) !== 0;
    if (stage === 0 && !skipWorktree) entries.push({ path, mode, size, sha });
    // Entries are NUL-padded to a multiple of 8 bytes, with at least one NUL.
    offset += Math.ceil((nameEnd - offset + 1) / 8) * 8;
  }
  return entries;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Git's id of a blob: SHA-1 of `blob <size>\0<content>`. */
export async function gitBlobId(content: Uint8Array): Promise<string> {
  const header = new TextEncoder().encode(`blob ${content.length}\0`);
  const data = new Uint8Array(header.length + content.length);
  data.set(header);
  data.set(content, header.length);
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-1", data)));
}

const GITLINK = 0o160000;
const SYMLINK = 0o120000;

async function compareWithIndex(
  root: string,
  options: GitStateOptions,
): Promise<GitState["dirty"]> {
  let entries: IndexEntry[] | undefined;
  try {
    entries = parseGitIndex(await Deno.readFile(join(root, ".git", "index")));
  } catch {
    return { state: "unknown", detail: ".git/index cannot be read" };
  }
  if (entries === undefined) {
    return { state: "unknown", detail: "git index version not supported" };
  }
  const ignored = (path: string) =>
    (options.ignore ?? []).some((rule) =>
      rule.endsWith("/") ? path.startsWith(rule) : path === rule
    );
  const changed: string[] = [];
  for (const entry of entries) {
    if ((entry.mode & 0o170000) === GITLINK || ignored(entry.path)) continue;
    if (!(await sameAsIndex(join(root, entry.path), entry))) {
      changed.push(entry.path);
    }
  }
  const skipped = options.ignore?.length
    ? ` (not counting ${options.ignore.join(", ")}, which the pipeline writes)`
    : "";
  if (changed.length === 0) {
    return {
      state: "clean",
      detail: `every tracked file matches git's index${skipped}`,
    };
  }
  const shown = changed.slice(0, 5).join(", ");
  const more = changed.length > 5 ? ` and ${changed.length - 5} more` : "";
  return {
    state: "dirty",
    detail:
      `${changed.length} tracked file(s) differ from git's index: ${shown}${more}${skipped}`,
  };
}

async function sameAsIndex(path: string, entry: IndexEntry): Promise<boolean> {
  try {
    const content = (entry.mode & 0o170000) === SYMLINK
      ? new TextEncoder().encode(await Deno.readLink(path))
      : await Deno.readFile(path);
    // The index keeps the size modulo 2^32.
    if (content.length % 2 ** 32 !== entry.size) return false;
    return await gitBlobId(content) === entry.sha;
  } catch {
    return false; // deleted or unreadable
  }
}
