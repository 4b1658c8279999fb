/**
 * download: the four Fashion-MNIST `.gz` files, each verified on its decompressed content.
 *
 * @module
 */
import { defineStage, importLater } from "../pipeline/mod.ts";
import type { Params } from "./params.ts";
import { FASHION_MNIST_FILE_LIST } from "../data/fashion_mnist.ts";

/** The downloader, loaded when the stage runs (and part of its key). */
const FETCH = new URL("../data/fetch.ts", import.meta.url);

/** Fetches the dataset from the first source that yields verified files. */
export const download = defineStage({
  name: "download",
  description: "fetch the Fashion-MNIST IDX files, verified by SHA-256",
  // The key holds what the output IS (names and content hashes), not where it came from:
  // every source must yield byte-identical data, so changing `sources` or timeouts
  // must not invalidate a finished download. run() reads those settings from allParams.
  params: (_: Params) => ({
    files: FASHION_MNIST_FILE_LIST.map(({ name, sha256 }) => ({
      name,
      sha256,
    })),
  }),
  outputs: FASHION_MNIST_FILE_LIST.map((file) => file.name),
  code: import.meta.url,
  codeFor: () => [FETCH],
  async run(ctx) {
    const settings = (ctx.allParams as Params).download;
    const { fetchAllVerified } = await importLater<
      typeof import("../data/fetch.ts")
    >(FETCH);
    const bars = new Map<string, ReturnType<typeof ctx.progress>>();
    const results = await fetchAllVerified(FASHION_MNIST_FILE_LIST, {
      sources: settings.sources,
      destDir: ctx.outDir,
      timeoutMs: settings.timeoutSeconds * 1000,
      retries: settings.retries,
      signal: ctx.signal,
      onProgress(progress) {
        // Local copies take milliseconds; a bar is only worth drawing for the network.
        if (
          !/^https?:/i.test(progress.source) || progress.total === undefined
        ) return;
        const id = `${progress.file}#${progress.attempt}`;
        let bar = bars.get(id);
        if (!bar) {
          bar = ctx.progress({
            label: progress.file,
            total: progress.total,
            unit: "bytes",
          });
          bars.set(id, bar);
        }
        bar.update(progress.bytes);
        if (progress.bytes >= progress.total) bar.done();
      },
      onRetry: (retry) =>
        ctx.log(
          `${retry.file}: ${retry.source} failed (${retry.reason}); retry ${retry.attempt} in ${retry.delayMs} ms`,
        ),
      onSourceFailed: (failure) =>
        ctx.log(
          `${failure.file}: source ${failure.source} failed: ${failure.reason}`,
        ),
    });
    const sources = [...new Set(results.map((r) => r.source))];
    ctx.log(`verified ${results.length} files from ${sources.join(", ")}`);
  },
});
