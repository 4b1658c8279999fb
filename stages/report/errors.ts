/**
 * The report layer's typed error.
 *
 * @module
 */

/**
 * Raised when the report's input cannot be turned into an honest report: missing runs,
 * artifacts of one run that disagree about which model or seed they belong to, or a
 * statistic asked for outside its domain. The message names the thing and the fix.
 */
export class ReportError extends Error {
  /** The user can fix it: CLIs print the message alone, without a stack. */
  readonly userFacing = true;
  /** Creates a report error with a message that names the offending input and the fix. */
  constructor(message: string) {
    super(message);
    this.name = "ReportError";
  }
}
