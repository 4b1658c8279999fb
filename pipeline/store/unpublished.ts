/**
 * Results stored here but not (yet) in the remote store: `.pipeline/unpublished/<key>.json`,
 * written before a result is published and removed once the remote has its manifest. A result
 * computed while the remote was down, or by a worker killed between its local manifest and the
 * remote one, stays listed, so the next run (or `push`) publishes it and a failed run can name
 * it.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import {
  listDir,
  readTextOrUndefined,
  removeIfExists,
  writeFileAtomic,
} from "../fs.ts";

/** One listed result. */
export const UnpublishedEntry = z.strictObject({
  /** Stage instance, for messages. */
  instance: z.string(),
  /** Its key. */
  key: z.string(),
});
/** One listed result. */
export type UnpublishedEntry = z.infer<typeof UnpublishedEntry>;

/** The list of results waiting for the remote. */
export class UnpublishedList {
  #dir: string;

  /** The list kept in `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Lists `entry` (before publishing it). */
  async add(entry: UnpublishedEntry): Promise<void> {
    await writeFileAtomic(
      join(this.#dir, `${entry.key}.json`),
      JSON.stringify(entry),
    );
  }

  /** Forgets `key` (the remote has its manifest). */
  async remove(key: string): Promise<void> {
    await removeIfExists(join(this.#dir, `${key}.json`));
  }

  /** Every listed result (unreadable entries are dropped: the listing is only a reminder). */
  async entries(): Promise<UnpublishedEntry[]> {
    const out: UnpublishedEntry[] = [];
    for (const file of await listDir(this.#dir)) {
      if (!file.isFile || !file.name.endsWith(".json")) continue;
      const text = await readTextOrUndefined(join(this.#dir, file.name));
      const parsed = UnpublishedEntry.safeParse(
        text === undefined ? undefined : safeJson(text),
      );
      if (parsed.success) out.push(parsed.data);
      else await removeIfExists(join(this.#dir, file.name));
    }
    return out.sort((a, b) => a.instance.localeCompare(b.instance));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
