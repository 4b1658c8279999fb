/**
 * Training checkpoints: the model's values, Adam's state and the history so far, in one
 * binary file (a zod-validated JSON header followed by raw little-endian float32 arrays).
 *
 * Layout: `"RDCK"` magic, u32 (LE) header length, header JSON (UTF-8), zero padding to a
 * multiple of 4, then the arrays in header order (parameters, then Adam m, then Adam v).
 *
 * @module
 */
import { z } from "zod";
import { ModelError } from "./errors.ts";
import { EpochRecord } from "./epoch_record.ts";
import { writeFileAtomic } from "../data/atomic.ts";
import {
  float32FromLittleEndian,
  littleEndianBytes,
  type MlpConfig,
  MlpConfigSchema,
} from "./mlp.ts";

export { EpochRecord } from "./epoch_record.ts";

/** Everything that must match for a checkpoint to be resumed by a run. */
export interface CheckpointSettings {
  /** Training mode. */
  mode: "baseline" | "rdrop";
  /** R-Drop KL weight. */
  alpha: number;
  /** Batch size. */
  batchSize: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Seed of initialisation, masks and shuffling. */
  seed: number;
  /** Whether every epoch is shuffled. */
  shuffle: boolean;
  /** Model shape and dropout. */
  model: MlpConfig;
  /** Training examples the run was started on. */
  trainCount: number;
}

const CheckpointSettingsSchema = z.object({
  mode: z.enum(["baseline", "rdrop"]),
  alpha: z.number(),
  batchSize: z.number().int().positive(),
  learningRate: z.number(),
  seed: z.number().int(),
  shuffle: z.boolean(),
  model: MlpConfigSchema,
  trainCount: z.number().int().nonnegative(),
});

/** The state of a run after `epoch` finished epochs. */
export interface Checkpoint {
  /** Number of finished epochs. */
  epoch: number;
  /** The run's settings, checked on resume. */
  settings: CheckpointSettings;
  /** Model values in the order w0, b0, w1, b1, .... */
  values: Float32Array[];
  /** Adam's state (same order). */
  adam: { step: number; m: Float32Array[]; v: Float32Array[] };
  /** History of the finished epochs. */
  history: EpochRecord[];
}

/** Where the trainer keeps checkpoints; `save` is called after every epoch. */
export interface CheckpointStore {
  /** The last checkpoint saved, or null when there is none. */
  load(): Promise<Checkpoint | null>;
  /** Replaces the stored checkpoint (atomically, for file stores). */
  save(checkpoint: Checkpoint): Promise<void>;
}

const MAGIC = "RDCK";
const VERSION = 1;

const Header = z.object({
  version: z.literal(VERSION),
  epoch: z.number().int().nonnegative(),
  settings: CheckpointSettingsSchema,
  history: z.array(EpochRecord),
  adamStep: z.number().int().nonnegative(),
  /** Lengths of the arrays: values, then m, then v (same count each). */
  lengths: z.array(z.number().int().nonnegative()),
});

/** Serialises a checkpoint to bytes. */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const arrays = [
    ...checkpoint.values,
    ...checkpoint.adam.m,
    ...checkpoint.adam.v,
  ];
  const header: z.infer<typeof Header> = {
    version: VERSION,
    epoch: checkpoint.epoch,
    settings: checkpoint.settings,
    history: checkpoint.history,
    adamStep: checkpoint.adam.step,
    lengths: arrays.map((a) => a.length),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const headerEnd = 8 + headerBytes.length;
  const dataStart = Math.ceil(headerEnd / 4) * 4;
  const total = dataStart + arrays.reduce((n, a) => n + 4 * a.length, 0);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, headerBytes.length, true);
  out.set(headerBytes, 8);
  let offset = dataStart;
  for (const a of arrays) {
    out.set(littleEndianBytes(a), offset);
    offset += 4 * a.length;
  }
  return out;
}

/** Parses bytes written by {@linkcode encodeCheckpoint}; `where` names the file in errors. */
export function decodeCheckpoint(
  bytes: Uint8Array,
  where = "checkpoint",
): Checkpoint {
  const fail = (what: string): never => {
    throw new ModelError(
      `${where} is not a valid checkpoint (${what}); delete it to restart training from epoch 1`,
    );
  };
  if (
    bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC
  ) {
    fail("bad magic");
  }
  const headerLength = new DataView(
    bytes.buffer,
    bytes.byteOffset,
    bytes.byteLength,
  )
    .getUint32(4, true);
  if (8 + headerLength > bytes.length) fail("truncated header");
  let raw: unknown;
  try {
    raw = JSON.parse(
      new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch {
    fail("header is not JSON");
  }
  const parsed = Header.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`header: ${issue?.message} at ${issue?.path.join(".")}`);
  }
  const header = parsed.data;
  if (header.lengths.length % 3 !== 0) {
    fail("array count is not a multiple of 3");
  }
  const dataStart = Math.ceil((8 + headerLength) / 4) * 4;
  const dataBytes = header.lengths.reduce((n, l) => n + 4 * l, 0);
  if (dataStart + dataBytes !== bytes.length) {
    fail(`expected ${dataStart + dataBytes} bytes, found ${bytes.length}`);
  }
  const arrays: Float32Array[] = [];
  let offset = dataStart;
  for (const length of header.lengths) {
    arrays.push(
      float32FromLittleEndian(bytes.subarray(offset, offset + 4 * length)),
    );
    offset += 4 * length;
  }
  const k = arrays.length / 3;
  return {
    epoch: header.epoch,
    settings: header.settings,
    history: header.history,
    values: arrays.slice(0, k),
    adam: {
      step: header.adamStep,
      m: arrays.slice(k, 2 * k),
      v: arrays.slice(2 * k),
    },
  };
}

/** A checkpoint store backed by one file, written atomically. */
export function fileCheckpointStore(path: string): CheckpointStore {
  return {
    async load() {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
      return decodeCheckpoint(bytes, path);
    },
    async save(checkpoint) {
      await writeFileAtomic(path, encodeCheckpoint(checkpoint));
    },
  };
}

/** A checkpoint store in memory (tests, or callers that persist elsewhere). */
export function memoryCheckpointStore(): CheckpointStore & { saves: number } {
  let stored: Uint8Array | null = null;
  const store = {
    saves: 0,
    load() {
      return Promise.resolve(
        stored ? decodeCheckpoint(stored, "in-memory checkpoint") : null,
      );
    },
    save(checkpoint: Checkpoint) {
      stored = encodeCheckpoint(checkpoint);
      store.saves++;
      return Promise.resolve();
    },
  };
  return store;
}
