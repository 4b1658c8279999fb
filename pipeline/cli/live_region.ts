/**
 * A live region: the last few lines of a terminal, redrawn in place (one per running progress
 * bar) while permanent lines print above them. Only relative cursor movement is used (carriage
 * return, cursor up, then clear to the end of the screen), so it works at any scroll position;
 * the caller keeps every live line shorter than the terminal and the region no taller than it,
 * since a line that wraps or scrolls off the top could not be reached again. (A permanent line
 * may wrap: it is drawn on cleared lines.)
 *
 * @module
 */

/** Clears from the cursor to the end of the screen (the cursor stays where it is). */
const CLEAR_BELOW = "\x1b[J";

/** Moves the cursor `n` lines up (nothing for 0). */
function up(n: number): string {
  return n > 0 ? `\x1b[${n}A` : "";
}

/**
 * Lines redrawn in place at the bottom of a terminal. Between calls the cursor rests at the end
 * of the region's last line, or at the start of an empty line when the region is empty.
 */
export class LiveRegion {
  #write: (text: string) => void;
  #height = 0;

  /** A region that writes its escape sequences and text through `write`. */
  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Lines the region has on screen now. */
  get height(): number {
    return this.#height;
  }

  /**
   * Prints `permanent` (lines) above the region, then redraws the region as `live` (each
   * shorter than the terminal); lines the region no longer needs are left blank. One write, so
   * that the terminal shows the erased region only for as long as it takes to draw the new one.
   */
  update(permanent: readonly string[], live: readonly string[]): void {
    // From the end of the region's last line to the start of its first, erasing it all.
    const erase = this.#height === 0
      ? ""
      : `\r${up(this.#height - 1)}${CLEAR_BELOW}`;
    const text = erase + permanent.map((row) => `${row}\n`).join("") +
      live.join("\n");
    this.#height = live.length;
    if (text !== "") this.#write(text);
  }

  /**
   * Leaves the region's lines on screen as they are and moves the cursor to a new line below
   * them, so that text written by other means (a message on stderr) starts on a line of its
   * own; the next {@link update} draws a new region below that text.
   */
  release(): void {
    if (this.#height > 0) {
      this.#write("\n");
      this.#height = 0;
    }
  }
}
