/**
 * preprocess: IDX files -> float32 images in [0, 1] and int32 labels, as raw tensor files.
 *
 * @module
 */
import { defineStage, importLater } from "../pipeline/mod.ts";
import type { Params } from "./params.ts";
import { PREPROCESSED_FILES } from "../data/preprocess.ts";
import { fashionMnistPaths } from "../data/fashion_mnist.ts";

/**
 * The parser, loaded when the stage runs; the module itself, not the data/ barrel, whose
 * downloader would be in this stage's key without ever running here.
 */
const PREPROCESS_RUN = new URL("../data/preprocess.ts", import.meta.url);

/** Parses and scales the downloaded files, keeping the first `limit` examples of each split. */
export const preprocess = defineStage({
  name: "preprocess",
  description: "parse IDX, scale pixels to [0, 1], write float32/int32 tensors",
  deps: ["download"],
  // The validation split is cut at training time: holding out more examples changes no file here.
  params: (p: Params) => ({ limit: p.preprocess.limit }),
  matrix: (p: Params) => p.matrix,
  outputs: PREPROCESSED_FILES,
  code: import.meta.url,
  codeFor: () => [PREPROCESS_RUN],
  async run(ctx) {
    const { preprocessIdxFiles, writePreprocessed } = await importLater<
      typeof import("../data/preprocess.ts")
    >(PREPROCESS_RUN);
    const data = await preprocessIdxFiles(
      fashionMnistPaths(ctx.inputs.download),
      {
        limit: ctx.params.limit ?? undefined,
      },
    );
    await writePreprocessed(ctx.outDir, data);
    ctx.log(
      `train ${data.train.count} x ${data.train.features}, test ${data.test.count}`,
    );
  },
});
