/**
 * Training checkpoints: the model's values, Adam's state and the history so far, in one
 * binary file (a zod-validated JSON header followed by raw little-endian float32 arrays and
 * a checksum of both).
 *
 * Layout: `"RDCK"` magic, u32 (LE) header length, header JSON (UTF-8), zero padding to a
 * multiple of 4, the arrays in header order (parameters, then Adam m, then Adam v), then the
 * SHA-256 of everything before it. A flipped bit anywhere, weights included, fails the
 * checksum, so a damaged checkpoint is never resumed (checkpoint_store.ts falls back to the
 * previous one).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { ModelError } from "./errors.ts";
import { EpochRecord } from "./epoch_record.ts";
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

/** What a store's `load` found. */
export interface CheckpointLoad {
  /** The newest checkpoint that verified, or null when none did (or there is none). */
  checkpoint: Checkpoint | null;
  /**
   * Newer checkpoints passed over, one line each naming the file and why (e.g.
   * "checkpoint.bin is corrupt (checksum mismatch)"); empty when none were.
   */
  rejected: string[];
}

/** Where the trainer keeps checkpoints; `save` is called after every epoch. */
export interface CheckpointStore {
  /** The newest checkpoint that verifies, and the newer ones that did not. */
  load(): Promise<CheckpointLoad>;
  /** Stores a new checkpoint (atomically, for file stores), keeping the previous good one. */
  save(checkpoint: Checkpoint): Promise<void>;
}

/** A checkpoint file that cannot be resumed: damaged, truncated or of another format. */
export class CheckpointCorruptError extends ModelError {
  /** The file (or store slot) as named to the decoder. */
  readonly file: string;
  /** What is wrong, e.g. "checksum mismatch". */
  readonly reason: string;

  /** Builds the message from the file and the reason. */
  constructor(file: string, reason: string) {
    super(
      `${file} is not a valid checkpoint (${reason}); delete it to restart training from epoch 1`,
    );
    this.name = "CheckpointCorruptError";
    this.file = file;
    this.reason = reason;
  }
}

const MAGIC = "RDCK";
/** 2: with the SHA-256 trailer. Version 1 had none. */
const VERSION = 2;
const CHECKSUM_BYTES = 32;

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

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
  const dataEnd = dataStart + arrays.reduce((n, a) => n + 4 * a.length, 0);
  const out = new Uint8Array(dataEnd + CHECKSUM_BYTES);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(4, headerBytes.length, true);
  out.set(headerBytes, 8);
  let offset = dataStart;
  for (const a of arrays) {
    out.set(littleEndianBytes(a), offset);
    offset += 4 * a.length;
  }
  out.set(sha256(out.subarray(0, dataEnd)), dataEnd);
  return out;
}

/**
 * Parses bytes written by {@linkcode encodeCheckpoint} and verifies their checksum (a
 * {@linkcode CheckpointCorruptError} naming `where` otherwise).
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  where = "checkpoint",
): Checkpoint {
  const fail = (what: string): never => {
    throw new CheckpointCorruptError(where, what);
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
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version < VERSION) {
    fail(
      `written by an older checkpoint format, version ${version}, without a checksum`,
    );
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
  const dataEnd = dataStart + header.lengths.reduce((n, l) => n + 4 * l, 0);
  if (dataEnd + CHECKSUM_BYTES !== bytes.length) {
    fail(
      `${
        bytes.length < dataEnd + CHECKSUM_BYTES ? "truncated: " : ""
      }expected ${dataEnd + CHECKSUM_BYTES} bytes, found ${bytes.length}`,
    );
  }
  const expected = sha256(bytes.subarray(0, dataEnd));
  const stored = bytes.subarray(dataEnd);
  if (!expected.every((b, i) => b === stored[i])) fail("checksum mismatch");
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
