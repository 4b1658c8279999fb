/**
 * Data layer: Fashion-MNIST constants, verified multi-source fetching, IDX parsing,
 * tensor files and preprocessing. Knows nothing of stages or caching; reports progress
 * only through callbacks and never prints.
 *
 * @example Fetch, preprocess, write, load
 * ```ts
 * import {
 *   DEFAULT_SOURCES, FASHION_MNIST_FILE_LIST, fashionMnistPaths, fetchAllVerified,
 *   loadPreprocessed, preprocessIdxFiles, writePreprocessed,
 * } from "./mod.ts";
 *
 * await fetchAllVerified(FASHION_MNIST_FILE_LIST, { sources: DEFAULT_SOURCES, destDir: "raw" });
 * await writePreprocessed("processed", await preprocessIdxFiles(fashionMnistPaths("raw"), { limit: 1000 }));
 * const { train, test, meta } = await loadPreprocessed("processed");
 * ```
 *
 * @module
 */
export {
  DataError,
  FetchError,
  IdxError,
  OFFLINE_INSTALL_HINT,
  type SourceFailure,
  TensorFileError,
} from "./errors.ts";
export {
  type DataFile,
  DEBIAN_DATASET_DIR,
  DEFAULT_SOURCES,
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_FILE_LIST,
  FASHION_MNIST_FILES,
  FASHION_MNIST_MIRROR_HOSTS,
  FASHION_MNIST_MIRRORS,
  type FashionMnistFiles,
  fashionMnistPaths,
} from "./fashion_mnist.ts";
export {
  fetchAllVerified,
  type FetchOptions,
  type FetchProgress,
  type FetchResult,
  type FetchRetry,
  fetchVerified,
  type ParsedSource,
  parseSource,
} from "./fetch.ts";
export {
  checkImageLabelPair,
  gunzip,
  type IdxArray,
  isGzip,
  type PairFiles,
  parseIdx,
  readIdxFile,
} from "./idx.ts";
export {
  type Dtype,
  readTensor,
  readTensorHeader,
  type ReadTensorOptions,
  type Tensor,
  TENSOR_DTYPES,
  TensorHeader,
  type TypedArrayFor,
  writeTensor,
  type WriteTensorOptions,
} from "./tensor_file.ts";
export {
  buildSplit,
  type BuildSplitOptions,
  classCounts,
  type LoadOptions,
  loadPreprocessed,
  loadSplit,
  type Preprocessed,
  PREPROCESSED_FILES,
  preprocessIdxFiles,
  PreprocessMeta,
  type PreprocessOptions,
  readPreprocessMeta,
  scaleImages,
  type Split,
  SplitMeta,
  validateLimit,
  writePreprocessed,
} from "./preprocess.ts";
export { writeFileAtomic, writeTextFileAtomic } from "./atomic.ts";
