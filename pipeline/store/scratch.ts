/**
 * Files of a key that is still being computed: the job spec a coordinator leaves for its worker
 * (`.pipeline/jobs/<key>.json`, and remotely `scratch/<key>/job.json`) and the worker's
 * checkpoints, copied to the remote store so that a job requeued on another node resumes.
 *
 * @module
 */
import { join } from "node:path";
import {
  isTempName,
  listDir,
  readTextOrUndefined,
  statOrUndefined,
  writeFileAtomic,
} from "../fs.ts";
import type { RemoteStore } from "./mod.ts";

const JOB_FILE = "job.json";

/** Job specs and checkpoints of running keys. */
export class ScratchFiles {
  #jobsDir: string;
  #remote: RemoteStore | undefined;
  #seen = new Map<string, number | undefined>();

  /** Job specs go to `jobsDir` (and the remote, if any). */
  constructor(jobsDir: string, remote: RemoteStore | undefined) {
    this.#jobsDir = jobsDir;
    this.#remote = remote;
  }

  /** Writes the job spec of `key`. */
  async putJob(key: string, text: string): Promise<void> {
    await writeFileAtomic(join(this.#jobsDir, `${key}.json`), text);
    await this.#remote?.putScratch(
      key,
      JOB_FILE,
      new TextEncoder().encode(text),
    );
  }

  /** Reads the job spec of `key`, locally or from the remote. */
  async getJob(key: string): Promise<string | undefined> {
    const local = await readTextOrUndefined(join(this.#jobsDir, `${key}.json`));
    if (local !== undefined || this.#remote === undefined) return local;
    const data = await this.#remote.getScratch(key, JOB_FILE);
    return data === undefined ? undefined : new TextDecoder().decode(data);
  }

  /** Downloads the remote checkpoints of `key` into `dir`; returns how many. */
  async pull(key: string, dir: string): Promise<number> {
    if (this.#remote === undefined) return 0;
    let count = 0;
    for (const name of await this.#remote.listScratch(key)) {
      if (name === JOB_FILE || name.includes("/")) continue;
      const data = await this.#remote.getScratch(key, name);
      if (data === undefined) continue;
      await writeFileAtomic(join(dir, name), data);
      this.#seen.set(`${key}/${name}`, await mtimeOf(join(dir, name)));
      count++;
    }
    return count;
  }

  /** Uploads files of `dir` changed since the last call; returns how many. */
  async push(key: string, dir: string): Promise<number> {
    if (this.#remote === undefined) return 0;
    let count = 0;
    for (const entry of await listDir(dir)) {
      // Temp files of a checkpoint being written (any writer's naming) are not checkpoints.
      if (
        !entry.isFile || isTempName(entry.name) || /\.tmp$/.test(entry.name)
      ) {
        continue;
      }
      const path = join(dir, entry.name);
      const mtime = await mtimeOf(path);
      const id = `${key}/${entry.name}`;
      if (mtime === undefined || this.#seen.get(id) === mtime) continue;
      const data = await Deno.readFile(path).catch((error) => {
        // Replaced or removed between listing and reading: the next round sees the new one.
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      });
      if (data === undefined) continue;
      await this.#remote.putScratch(key, entry.name, data);
      this.#seen.set(id, mtime);
      count++;
    }
    return count;
  }
}

async function mtimeOf(path: string): Promise<number | undefined> {
  return (await statOrUndefined(path))?.mtime?.getTime();
}
