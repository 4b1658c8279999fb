/**
 * A stage's inputs: exactly the upstream outputs its key names, checked out of the store into
 * the run's own directory and verified against their hashes before the stage starts, and checked
 * again (unchanged since) before its result is published. A stage therefore never reads an
 * upstream file its key does not hold, nor a stored object that rotted in place.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { statOrUndefined } from "../fs.ts";
import { sha256File } from "../plan/hash.ts";
import type { InputHashes } from "../plan/key_record.ts";
import { checkoutObjects } from "./checkout.ts";

/** What one verified input file looked like, to tell later whether it changed. */
interface InputStamp {
  /** Upstream instance. */
  instance: string;
  /** Output file. */
  file: string;
  /** Expected SHA-256. */
  sha256: string;
  /** Where it was checked out. */
  path: string;
  dev: number;
  ino: number | null;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** The checked-out inputs of one run. */
export interface InputView {
  /** Direct upstream instance -> absolute directory holding the files the stage reads from it. */
  dirs: Record<string, string>;
  /** How each verified file looked (see {@link checkInputsUnchanged}). */
  stamps: readonly InputStamp[];
}

/** An input of a stage does not match its hash: nothing runs on it, and it is removed. */
export class CorruptInputError extends UserError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CorruptInputError";
  }
}

/** What {@link linkInputs} needs of the store. */
export interface InputSource {
  /** Path of the object with hash `sha256`. */
  objectPath(sha256: string): string;
  /** Removes a bad object and the result that names it, so that it is recomputed. */
  discard(options: { sha256: string; instance: string }): Promise<void>;
}

/**
 * Checks `inputs` out into `<dir>/<instance>/<file>` (hard links to the read-only objects, else
 * copies) and re-hashes every file. A missing or corrupt object throws a
 * {@link CorruptInputError} naming the upstream instance and file, after `discard` removed it.
 */
export async function linkInputs(
  inputs: InputHashes,
  dir: string,
  source: InputSource,
): Promise<InputView> {
  const dirs: Record<string, string> = {};
  const stamps: InputStamp[] = [];
  for (const [instance, files] of Object.entries(inputs)) {
    const target = join(dir, instance);
    dirs[instance] = target;
    for (const [file, sha256] of Object.entries(files)) {
      if (await statOrUndefined(source.objectPath(sha256)) === undefined) {
        await source.discard({ sha256, instance });
        throw new CorruptInputError(
          `${instance}'s ${file} is missing from the cache (${
            sha256.slice(0, 12)
          }…); ` +
            `its result was dropped: rerun to recompute ${instance}`,
        );
      }
      await checkoutObjects({ [file]: { sha256, size: 0 } }, target, {
        clean: false,
        objectPath: (sha) => source.objectPath(sha),
      });
      const path = join(target, file);
      const info = await Deno.stat(path);
      if ((await sha256File(path)).sha256 !== sha256) {
        await source.discard({ sha256, instance });
        throw new CorruptInputError(
          `${instance}'s ${file} is corrupt in the cache: its content no longer matches its ` +
            `hash ${
              sha256.slice(0, 12)
            }…; nothing ran on it, and its result was dropped: ` +
            `rerun to recompute ${instance}`,
        );
      }
      stamps.push({
        instance,
        file,
        sha256,
        path,
        dev: info.dev,
        ino: info.ino,
        size: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
        ctimeMs: info.ctime?.getTime() ?? 0,
      });
    }
  }
  return { dirs, stamps };
}

/**
 * Throws a {@link CorruptInputError} unless every input file of `view` is as it was verified:
 * the same file, size and times, or else (a file that was touched) still the same content.
 */
export async function checkInputsUnchanged(view: InputView): Promise<void> {
  for (const stamp of view.stamps) {
    const path = stamp.path;
    const info = await statOrUndefined(path);
    const same = info !== undefined && info.dev === stamp.dev &&
      info.ino === stamp.ino && info.size === stamp.size &&
      (info.mtime?.getTime() ?? 0) === stamp.mtimeMs &&
      (info.ctime?.getTime() ?? 0) === stamp.ctimeMs;
    if (same) continue;
    if (
      info === undefined || (await sha256File(path)).sha256 !== stamp.sha256
    ) {
      throw new CorruptInputError(
        `${stamp.instance}'s ${stamp.file} changed while this stage ran; nothing was ` +
          `cached. Another process may be writing this project: rerun when it is done`,
      );
    }
  }
}
