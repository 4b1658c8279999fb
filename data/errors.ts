/**
 * Typed errors of the data layer.
 *
 * Every problem a user can cause (a missing dataset, a corrupt or hand-edited file, a
 * bad option) is a {@linkcode DataError}, so callers can tell it apart from a bug and
 * print the message without a stack trace.
 *
 * @module
 */

/** A problem with data files or data options that the user can fix; the message names the thing and the fix. */
export class DataError extends Error {
  /** The user can fix it: CLIs print the message alone, without a stack. */
  readonly userFacing = true;
  /** Creates the error; `options.cause` keeps the underlying error for debugging. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataError";
  }
}

/** One source that was tried for a file and why it did not yield a verified copy. */
export interface SourceFailure {
  /** The source as given (directory, `file://` URL or `http(s)://` base URL). */
  source: string;
  /** One line saying why the source failed. */
  reason: string;
}

/** Shell command that installs the offline copy of Fashion-MNIST on Debian/Ubuntu. */
export const OFFLINE_INSTALL_HINT = "apt-get install dataset-fashion-mnist";

/** No source yielded a verified copy of a file; {@linkcode FetchError.failures} lists each source tried. */
export class FetchError extends DataError {
  /** The file that could not be fetched. */
  readonly file: string;
  /** Every source tried, in order, with the reason it failed. */
  readonly failures: readonly SourceFailure[];

  /** Builds the message from the file name and the list of failures. */
  constructor(file: string, failures: readonly SourceFailure[]) {
    const lines = failures.length === 0
      ? ["  (no sources were given)"]
      : failures.map((f) => `  - ${f.source}: ${f.reason}`);
    super(
      [
        `could not fetch a verified copy of ${file} from any source:`,
        ...lines,
        `If this machine is offline, install the dataset locally with \`${OFFLINE_INSTALL_HINT}\`` +
        ` (it provides /usr/share/datasets/fashion-mnist), or add a directory that holds ${file} to the sources.`,
      ].join("\n"),
    );
    this.name = "FetchError";
    this.file = file;
    this.failures = failures;
  }
}

/** An IDX file is malformed (wrong magic, truncated, trailing bytes, inconsistent with its pair). */
export class IdxError extends DataError {
  /** The file (or name) the problem was found in. */
  readonly file: string;

  /** `message` should say what is wrong; the file name is prefixed. */
  constructor(file: string, message: string, options?: ErrorOptions) {
    super(`${file}: ${message}`, options);
    this.name = "IdxError";
    this.file = file;
  }
}

/** A tensor file or its JSON header is missing, malformed or inconsistent. */
export class TensorFileError extends DataError {
  /** The file the problem was found in. */
  readonly file: string;

  /** `message` should say what is wrong and how to fix it; the file name is prefixed. */
  constructor(file: string, message: string, options?: ErrorOptions) {
    super(`${file}: ${message}`, options);
    this.name = "TensorFileError";
    this.file = file;
  }
}
