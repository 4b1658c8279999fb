/**
 * Fashion-MNIST constants: file names, SHA-256 of the decompressed files, class names and
 * the default ordered list of sources.
 *
 * @module
 */

/** A file to fetch: its name and the SHA-256 (hex) of its **decompressed** content. */
export interface DataFile {
  /** File name, e.g. `train-images-idx3-ubyte.gz`; also the name used under a source. */
  readonly name: string;
  /**
   * Lower-case hex SHA-256 of the decompressed bytes. Hashing the decompressed content
   * means a mirror that repacks the gzip (other compression level, header timestamp) still verifies.
   */
  readonly sha256: string;
}

/** The four Fashion-MNIST files, keyed by role. */
export interface FashionMnistFiles<T> {
  /** 60000 training images, 28x28 uint8. */
  readonly trainImages: T;
  /** 60000 training labels, uint8 in 0..9. */
  readonly trainLabels: T;
  /** 10000 test images, 28x28 uint8. */
  readonly testImages: T;
  /** 10000 test labels, uint8 in 0..9. */
  readonly testLabels: T;
}

/** The four Fashion-MNIST files with the SHA-256 of their decompressed content. */
export const FASHION_MNIST_FILES: FashionMnistFiles<DataFile> = Object.freeze({
  trainImages: {
    name: "train-images-idx3-ubyte.gz",
    sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
  },
  trainLabels: {
    name: "train-labels-idx1-ubyte.gz",
    sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
  },
  testImages: {
    name: "t10k-images-idx3-ubyte.gz",
    sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
  },
  testLabels: {
    name: "t10k-labels-idx1-ubyte.gz",
    sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
  },
});

/** The four files in a fixed order (train images, train labels, test images, test labels). */
export const FASHION_MNIST_FILE_LIST: readonly DataFile[] = Object.freeze([
  FASHION_MNIST_FILES.trainImages,
  FASHION_MNIST_FILES.trainLabels,
  FASHION_MNIST_FILES.testImages,
  FASHION_MNIST_FILES.testLabels,
]);

/** Class names, indexed by label. */
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = Object.freeze([
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
]);

/** Where Debian's `dataset-fashion-mnist` package installs the four `.gz` files. */
export const DEBIAN_DATASET_DIR = "/usr/share/datasets/fashion-mnist";

/**
 * Official HTTPS mirrors: the dataset's own repository (zalandoresearch/fashion-mnist,
 * `data/fashion/`) and the Keras datasets bucket that `tf.keras.datasets.fashion_mnist` uses.
 * The S3 website the README links to is plain HTTP only, so it is not listed.
 */
export const FASHION_MNIST_MIRRORS: readonly string[] = Object.freeze([
  "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
  "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
]);

/** Host names of {@linkcode FASHION_MNIST_MIRRORS}, for a `--allow-net=` list. */
export const FASHION_MNIST_MIRROR_HOSTS: readonly string[] = Object.freeze(
  FASHION_MNIST_MIRRORS.map((url) => new URL(url).host),
);

/** Default ordered sources: the local Debian directory first, then the HTTPS mirrors. */
export const DEFAULT_SOURCES: readonly string[] = Object.freeze([
  DEBIAN_DATASET_DIR,
  ...FASHION_MNIST_MIRRORS,
]);

/** Maps each role of {@linkcode FASHION_MNIST_FILES} to `dir/<file name>`. */
export function fashionMnistPaths(dir: string): FashionMnistFiles<string> {
  const join = (name: string) =>
    dir.endsWith("/") ? dir + name : `${dir}/${name}`;
  return {
    trainImages: join(FASHION_MNIST_FILES.trainImages.name),
    trainLabels: join(FASHION_MNIST_FILES.trainLabels.name),
    testImages: join(FASHION_MNIST_FILES.testImages.name),
    testLabels: join(FASHION_MNIST_FILES.testLabels.name),
  };
}
