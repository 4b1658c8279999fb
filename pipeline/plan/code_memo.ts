/**
 * The normalised form of each source file, remembered by the SHA-256 of its bytes, so that only
 * a file whose content is new is normalised (esbuild), and a no-op run only reads and hashes.
 *
 * Entries are keyed by content, not path: a file moved back and forth, or the same content in
 * two clones, is normalised once. A memo made by another normaliser is dropped whole. The file is
 * replaced atomically; two processes writing at once lose entries, never correctness (an absent
 * entry is recomputed).
 *
 * @module
 */
import { dirname } from "node:path";
import { z } from "zod";
import { readTextOrUndefined, writeFileAtomic } from "../fs.ts";

/** What the memo keeps of one file content. */
export const MemoEntry = z.strictObject({
  /** SHA-256 of the normalised code (the file's part of a key). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Module specifiers it imports at run time (type-only imports erased), in order. */
  imports: z.array(z.string()),
});
/** What the memo keeps of one file content. */
export type MemoEntry = z.infer<typeof MemoEntry>;

const MemoFile = z.strictObject({
  normaliser: z.string(),
  entries: z.record(z.string(), MemoEntry),
});

/** Normalised hashes and imports by raw content hash, persisted in one JSON file. */
export class CodeMemo {
  #path: string | undefined;
  #normaliser: string;
  #entries = new Map<string, MemoEntry>();
  #added = 0;

  private constructor(path: string | undefined, normaliser: string) {
    this.#path = path;
    this.#normaliser = normaliser;
  }

  /**
   * Reads the memo at `path` (none: empty; unreadable or from another normaliser: empty, and
   * replaced on {@link save}). Without a path it lives in memory only.
   */
  static async open(
    path: string | undefined,
    options: { normaliser: string },
  ): Promise<CodeMemo> {
    const memo = new CodeMemo(path, options.normaliser);
    const text = path === undefined
      ? undefined
      : await readTextOrUndefined(path).catch(() => undefined);
    if (text === undefined) return memo;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return memo;
    }
    const parsed = MemoFile.safeParse(json);
    if (parsed.success && parsed.data.normaliser === options.normaliser) {
      for (const [raw, entry] of Object.entries(parsed.data.entries)) {
        memo.#entries.set(raw, entry);
      }
    }
    return memo;
  }

  /** The entry of a file content, by the SHA-256 of its bytes. */
  get(rawSha256: string): MemoEntry | undefined {
    return this.#entries.get(rawSha256);
  }

  /** Remembers a file content's entry. */
  set(rawSha256: string, entry: MemoEntry): void {
    this.#entries.set(rawSha256, entry);
    this.#added++;
  }

  /**
   * Writes the memo if anything was added. A failure to write (read-only project) is not an
   * error: the memo only saves time.
   */
  async save(): Promise<void> {
    if (this.#path === undefined || this.#added === 0) return;
    const entries: Record<string, MemoEntry> = {};
    for (const raw of [...this.#entries.keys()].sort()) {
      entries[raw] = this.#entries.get(raw) as MemoEntry;
    }
    const text = JSON.stringify({ normaliser: this.#normaliser, entries }) +
      "\n";
    try {
      await Deno.mkdir(dirname(this.#path), { recursive: true });
      await writeFileAtomic(this.#path, text);
      this.#added = 0;
    } catch {
      // Not fatal: the next run normalises again.
    }
  }
}
