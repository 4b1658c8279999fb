/**
 * The MLP of the reference experiment (Linear -> ReLU -> Dropout per hidden layer, then a
 * Linear to the class logits), its PyTorch-style initialisation, and its artifacts in the
 * TensorFlow.js layers format (`model.json` + `weights.bin`, loadable by
 * `tf.loadLayersModel`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { z } from "zod";
import { ModelError } from "./errors.ts";
import { writeFileAtomic, writeTextFileAtomic } from "../data/atomic.ts";
import { createRng, deriveSeed } from "./random.ts";

/** Shape of the MLP. */
export interface MlpConfig {
  /** Number of input features (784 for 28x28 images). */
  inputSize: number;
  /** Sizes of the hidden layers, each followed by ReLU and Dropout. */
  hidden: number[];
  /** Number of classes (size of the logits). */
  classes: number;
  /** Dropout rate after each hidden layer (training only). */
  dropout: number;
}

/** zod schema of {@linkcode MlpConfig}. */
export const MlpConfigSchema: z.ZodType<MlpConfig> = z.object({
  inputSize: z.number().int().positive(),
  hidden: z.array(z.number().int().positive()),
  classes: z.number().int().min(2),
  dropout: z.number().min(0).lt(1),
});

/** The reference experiment's model: 784-512-512-10 with Dropout(0.5). */
export const DEFAULT_MLP_CONFIG: Readonly<MlpConfig> = Object.freeze({
  inputSize: 784,
  hidden: [512, 512],
  classes: 10,
  dropout: 0.5,
});

/** Trainable parameters; `weights[i]` is `[fanIn, fanOut]` (`x @ W + b`), `biases[i]` `[fanOut]`. */
export interface MlpParams {
  /** Layer weights, input layer first. */
  weights: tf.Variable<tf.Rank.R2>[];
  /** Layer biases, input layer first. */
  biases: tf.Variable<tf.Rank.R1>[];
}

/** Layer sizes `[inputSize, ...hidden, classes]`. */
export function layerSizes(config: MlpConfig): number[] {
  return [config.inputSize, ...config.hidden, config.classes];
}

/**
 * Flat initial values of every parameter, in the order w0, b0, w1, b1, ..., drawn like
 * PyTorch's `nn.Linear`: W and b uniform in +-1/sqrt(fanIn). A pure function of the seed.
 */
export function initialValues(
  config: MlpConfig,
  options: { seed: number },
): Float32Array[] {
  const sizes = layerSizes(config);
  const out: Float32Array[] = [];
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const fanIn = sizes[layer];
    const fanOut = sizes[layer + 1];
    const bound = 1 / Math.sqrt(fanIn);
    const rng = createRng(deriveSeed(options.seed, 0x1417, layer));
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng() - 1) * bound;
    const b = new Float32Array(fanOut);
    for (let i = 0; i < b.length; i++) b[i] = (2 * rng() - 1) * bound;
    out.push(w, b);
  }
  return out;
}

/**
 * Creates the MLP's variables with PyTorch `nn.Linear` initialisation (W and b uniform in
 * +-1/sqrt(fanIn)), seeded and deterministic.
 */
export function initMlp(
  config: MlpConfig,
  options: { seed: number },
): MlpParams {
  return mlpFromValues(config, initialValues(config, options));
}

/**
 * Creates variables from flat values in the order w0, b0, w1, b1, ... (as
 * {@linkcode readMlpValues} returns them).
 */
export function mlpFromValues(
  config: MlpConfig,
  values: Float32Array[],
): MlpParams {
  const sizes = layerSizes(config);
  checkValues(sizes, values);
  const weights: tf.Variable<tf.Rank.R2>[] = [];
  const biases: tf.Variable<tf.Rank.R1>[] = [];
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const w = tf.tensor2d(values[2 * layer], [sizes[layer], sizes[layer + 1]]);
    const b = tf.tensor1d(values[2 * layer + 1]);
    weights.push(tf.variable(w, true, `mlp_w${layer}_${crypto.randomUUID()}`));
    biases.push(tf.variable(b, true, `mlp_b${layer}_${crypto.randomUUID()}`));
    w.dispose();
    b.dispose();
  }
  return { weights, biases };
}

function checkValues(sizes: number[], values: Float32Array[]): void {
  if (values.length !== 2 * (sizes.length - 1)) {
    throw new ModelError(
      `expected ${2 * (sizes.length - 1)} parameter arrays for layer sizes ${
        sizes.join("-")
      }, ` +
        `got ${values.length}; the weights do not belong to this model configuration`,
    );
  }
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const wanted = [sizes[layer] * sizes[layer + 1], sizes[layer + 1]];
    for (let k = 0; k < 2; k++) {
      if (values[2 * layer + k].length !== wanted[k]) {
        throw new ModelError(
          `parameter ${k === 0 ? "w" : "b"}${layer} has ${
            values[2 * layer + k].length
          } values, ` +
            `expected ${wanted[k]} for layer sizes ${
              sizes.join("-")
            }; the weights do not belong to this model configuration`,
        );
      }
    }
  }
}

/** Overwrites the variables with flat values in the order w0, b0, w1, b1, .... */
export function assignMlpValues(
  params: MlpParams,
  values: Float32Array[],
): void {
  const sizes = [
    params.weights[0].shape[0],
    ...params.weights.map((w) => w.shape[1]),
  ];
  checkValues(sizes, values);
  tf.tidy(() => {
    params.weights.forEach((w, i) =>
      w.assign(tf.tensor2d(values[2 * i], w.shape))
    );
    params.biases.forEach((b, i) => b.assign(tf.tensor1d(values[2 * i + 1])));
  });
}

/** Reads every parameter back from the device, in the order w0, b0, w1, b1, .... */
export async function readMlpValues(
  params: MlpParams,
): Promise<Float32Array[]> {
  const tensors = params.weights.flatMap((w, i) => [w, params.biases[i]]);
  const arrays = await Promise.all(tensors.map((t) => t.data<"float32">()));
  return arrays.map((a) => Float32Array.from(a));
}

/** The configuration implied by the variables' shapes (dropout is not stored in them). */
export function mlpConfigOf(params: MlpParams, dropout: number): MlpConfig {
  const sizes = [
    params.weights[0].shape[0],
    ...params.weights.map((w) => w.shape[1]),
  ];
  return {
    inputSize: sizes[0],
    hidden: sizes.slice(1, -1),
    classes: sizes[sizes.length - 1],
    dropout,
  };
}

/** Disposes every variable of the model. */
export function disposeMlp(params: MlpParams): void {
  for (const v of [...params.weights, ...params.biases]) v.dispose();
}

/** Logits `[B, classes]` of `x` `[B, inputSize]` in eval mode (no dropout). */
export function predictLogits(params: MlpParams, x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    const last = params.weights.length - 1;
    for (let layer = 0; layer <= last; layer++) {
      h = tf.fused.matMul({
        a: h,
        b: params.weights[layer],
        bias: params.biases[layer],
        activation: layer < last ? "relu" : "linear",
      }) as tf.Tensor2D;
    }
    return h;
  });
}

// ---------------------------------------------------------------------------------------
// Layers-format artifacts

/** File names of the model artifacts inside their directory. */
export const MODEL_JSON = "model.json";
/** File name of the weights of the model artifacts. */
export const WEIGHTS_BIN = "weights.bin";

const WeightSpec = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.literal("float32"),
});

const ModelJson = z.object({
  format: z.literal("layers-model"),
  modelTopology: z.object({ class_name: z.literal("Sequential") })
    .passthrough(),
  weightsManifest: z.array(
    z.object({ paths: z.array(z.string()), weights: z.array(WeightSpec) }),
  )
    .length(1),
  userDefinedMetadata: z.object({ mlpConfig: MlpConfigSchema }),
});

function layerNames(layer: number): { dense: string; dropout: string } {
  return { dense: `dense_${layer + 1}`, dropout: `dropout_${layer + 1}` };
}

/** The `model.json` object of a Keras-style Sequential model equivalent to the MLP. */
export function modelJsonFor(config: MlpConfig): Record<string, unknown> {
  const sizes = layerSizes(config);
  const layers: unknown[] = [];
  const weights: z.infer<typeof WeightSpec>[] = [];
  for (let layer = 0; layer + 1 < sizes.length; layer++) {
    const names = layerNames(layer);
    const hidden = layer + 2 < sizes.length;
    layers.push({
      class_name: "Dense",
      config: {
        name: names.dense,
        trainable: true,
        dtype: "float32",
        ...(layer === 0 ? { batch_input_shape: [null, sizes[0]] } : {}),
        units: sizes[layer + 1],
        activation: hidden ? "relu" : "linear",
        use_bias: true,
        kernel_initializer: {
          class_name: "VarianceScaling",
          config: {
            scale: 1 / 3,
            mode: "fan_in",
            distribution: "uniform",
            seed: null,
          },
        },
        bias_initializer: { class_name: "Zeros", config: {} },
        kernel_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      },
    });
    if (hidden) {
      layers.push({
        class_name: "Dropout",
        config: {
          name: names.dropout,
          trainable: true,
          dtype: "float32",
          rate: config.dropout,
          noise_shape: null,
          seed: null,
        },
      });
    }
    weights.push(
      {
        name: `${names.dense}/kernel`,
        shape: [sizes[layer], sizes[layer + 1]],
        dtype: "float32",
      },
      {
        name: `${names.dense}/bias`,
        shape: [sizes[layer + 1]],
        dtype: "float32",
      },
    );
  }
  return {
    format: "layers-model",
    generatedBy: "rdrop-pipeline models/mlp.ts",
    convertedBy: null,
    modelTopology: {
      class_name: "Sequential",
      config: { name: "rdrop_mlp", layers },
      keras_version: `tfjs-layers ${tf.version_core}`,
      backend: "tensor_flow.js",
    },
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights }],
    // Our own reading does not depend on parsing the Keras topology back.
    userDefinedMetadata: { mlpConfig: config },
  };
}

/** Model artifacts in memory: the `model.json` text and the `weights.bin` bytes. */
export interface ModelArtifacts {
  /** Text of `model.json`. */
  modelJson: string;
  /** Bytes of `weights.bin`: every weight as little-endian float32, in manifest order. */
  weightsBin: Uint8Array;
}

/** Encodes flat values (w0, b0, ...) as layers-format artifacts. */
export function encodeModelArtifacts(
  config: MlpConfig,
  values: Float32Array[],
): ModelArtifacts {
  checkValues(layerSizes(config), values);
  const total = values.reduce((n, v) => n + v.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const v of values) {
    all.set(v, offset);
    offset += v.length;
  }
  return {
    modelJson: JSON.stringify(modelJsonFor(config), null, 1) + "\n",
    weightsBin: littleEndianBytes(all),
  };
}

/** Decodes layers-format artifacts written by {@linkcode encodeModelArtifacts}. */
export function decodeModelArtifacts(
  artifacts: ModelArtifacts,
  where = MODEL_JSON,
): { config: MlpConfig; values: Float32Array[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(artifacts.modelJson);
  } catch (error) {
    throw new ModelError(
      `${where} is not valid JSON; rerun the train stage to rewrite it`,
      {
        cause: error,
      },
    );
  }
  const parsed = ModelJson.safeParse(raw);
  if (!parsed.success) {
    throw new ModelError(
      `${where} is not a model written by this project (${
        parsed.error.issues[0]?.message
      } at ` +
        `${
          parsed.error.issues[0]?.path.join(".")
        }); rerun the train stage to rewrite it`,
    );
  }
  const config = parsed.data.userDefinedMetadata.mlpConfig;
  const specs = parsed.data.weightsManifest[0].weights;
  const expected = JSON.parse(
    JSON.stringify(modelJsonFor(config).weightsManifest),
  ) as {
    weights: unknown[];
  }[];
  if (JSON.stringify(expected[0].weights) !== JSON.stringify(specs)) {
    throw new ModelError(
      `${where}: the weights manifest does not match the model configuration it records; ` +
        `rerun the train stage to rewrite it`,
    );
  }
  const total = specs.reduce(
    (n, s) => n + s.shape.reduce((a, b) => a * b, 1),
    0,
  );
  if (artifacts.weightsBin.byteLength !== total * 4) {
    throw new ModelError(
      `${WEIGHTS_BIN} next to ${where} has ${artifacts.weightsBin.byteLength} bytes, expected ` +
        `${
          total * 4
        }; the file is truncated or from another model, rerun the train stage`,
    );
  }
  const all = float32FromLittleEndian(artifacts.weightsBin);
  const values: Float32Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    values.push(all.slice(offset, offset + n));
    offset += n;
  }
  return { config, values };
}

/** Writes `model.json` and `weights.bin` into `dir` (atomically, weights first). */
export async function saveModelArtifacts(
  dir: string,
  params: MlpParams,
  options: { dropout: number },
): Promise<void> {
  const config = mlpConfigOf(params, options.dropout);
  const artifacts = encodeModelArtifacts(config, await readMlpValues(params));
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(`${dir}/${WEIGHTS_BIN}`, artifacts.weightsBin);
  await writeTextFileAtomic(`${dir}/${MODEL_JSON}`, artifacts.modelJson);
}

/** Reads the artifacts in `dir` back into new variables. */
export async function loadModelArtifacts(
  dir: string,
): Promise<{ config: MlpConfig; params: MlpParams }> {
  let modelJson: string;
  let weightsBin: Uint8Array;
  try {
    modelJson = await Deno.readTextFile(`${dir}/${MODEL_JSON}`);
    weightsBin = await Deno.readFile(`${dir}/${WEIGHTS_BIN}`);
  } catch (error) {
    throw new ModelError(
      `cannot read the model in ${dir} (${
        (error as Error).message
      }); rerun the train stage`,
      { cause: error },
    );
  }
  const { config, values } = decodeModelArtifacts(
    { modelJson, weightsBin },
    `${dir}/${MODEL_JSON}`,
  );
  return { config, params: mlpFromValues(config, values) };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of `values` as little-endian float32. */
export function littleEndianBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.byteLength);
  if (LITTLE_ENDIAN) {
    bytes.set(
      new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
    );
  } else {
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setFloat32(4 * i, v, true));
  }
  return bytes;
}

/** Float32 values from little-endian bytes (length must be a multiple of 4). */
export function float32FromLittleEndian(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  }
  return out;
}
