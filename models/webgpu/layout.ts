/**
 * Where each parameter lives in the fused step's one flat parameter buffer (and in its
 * gradient, first- and second-moment buffers, which share the layout), so that Adam runs
 * over every parameter in one dispatch.
 *
 * @module
 */
import { layerSizes, type MlpConfig } from "../mlp.ts";
import { ModelError } from "../errors.ts";

/** One layer's slice of the flat buffers (offsets in float32 elements). */
export interface LayerSlice {
  /** Input features of the layer. */
  fanIn: number;
  /** Output features of the layer. */
  fanOut: number;
  /** Offset of the weight `[fanIn, fanOut]`, row-major (tfjs' `x @ W` layout). */
  weight: number;
  /** Offset of the bias `[fanOut]`. */
  bias: number;
}

/** The flat layout of a model's parameters: w0, b0, w1, b1, ... back to back. */
export interface ParamLayout {
  /** Layers, input layer first. */
  layers: LayerSlice[];
  /** Total number of parameters. */
  size: number;
  /** Sizes of the tensors in the order w0, b0, w1, b1, ... (as checkpoints store them). */
  tensorSizes: number[];
}

/** The flat layout of `config`'s parameters, in the trainer's order w0, b0, w1, b1, .... */
export function paramLayout(config: MlpConfig): ParamLayout {
  const sizes = layerSizes(config);
  const layers: LayerSlice[] = [];
  const tensorSizes: number[] = [];
  let offset = 0;
  for (let i = 0; i + 1 < sizes.length; i++) {
    const fanIn = sizes[i];
    const fanOut = sizes[i + 1];
    layers.push({
      fanIn,
      fanOut,
      weight: offset,
      bias: offset + fanIn * fanOut,
    });
    offset += fanIn * fanOut + fanOut;
    tensorSizes.push(fanIn * fanOut, fanOut);
  }
  return { layers, size: offset, tensorSizes };
}

/** Packs per-tensor arrays (w0, b0, w1, b1, ...) into one flat array. */
export function packFlat(
  layout: ParamLayout,
  tensors: Float32Array[],
): Float32Array {
  if (
    tensors.length !== layout.tensorSizes.length ||
    tensors.some((t, i) => t.length !== layout.tensorSizes[i])
  ) {
    throw new ModelError(
      `${tensors.length} parameter arrays do not fit a model of ${layout.tensorSizes.length} ` +
        `tensors (sizes ${
          layout.tensorSizes.join(", ")
        }); they belong to another configuration`,
    );
  }
  const flat = new Float32Array(layout.size);
  let offset = 0;
  for (const t of tensors) {
    flat.set(t, offset);
    offset += t.length;
  }
  return flat;
}

/** Splits a flat array back into per-tensor copies (w0, b0, w1, b1, ...). */
export function unpackFlat(
  layout: ParamLayout,
  flat: Float32Array,
): Float32Array[] {
  const out: Float32Array[] = [];
  let offset = 0;
  for (const n of layout.tensorSizes) {
    out.push(flat.slice(offset, offset + n));
    offset += n;
  }
  return out;
}
