/**
 * A tiny virtual terminal for tests: applies text and the few ANSI sequences the renderer
 * writes to a screen of `rows` x `columns` cells, so that a test asserts what a user sees
 * rather than which bytes were written. Lines scrolled off the top are kept (the scrollback).
 *
 * What it models: printable characters (wrapping at the last column, as xterm does: the wrap
 * happens when the next character comes), "\r", "\n" (as a terminal with the usual `onlcr`
 * shows it: to the start of the next line), CSI n A (cursor up, stopping at the top line as a
 * real terminal does), CSI n B/C/D/G, CSI 2K / K / 1K (clear line), CSI J (clear below), and
 * CSI ... m (colors: ignored). Anything else throws unless `lenient` (a capture of a real run
 * may hold sequences that do not matter here).
 *
 * @module
 */

/** Options of {@link VirtualTerminal}. */
export interface VirtualTerminalOptions {
  /** Width in cells. */
  columns: number;
  /** Height in lines. */
  rows: number;
  /** Ignore escape sequences it does not model instead of throwing. */
  lenient?: boolean;
}

/** A screen that text and ANSI sequences are applied to; see the module doc. */
export class VirtualTerminal {
  readonly columns: number;
  readonly rows: number;
  #lenient: boolean;
  #screen: string[][];
  #scrollback: string[] = [];
  #row = 0;
  #col = 0;
  /** Cursor moves up that hit the top line: the region was taller than the screen. */
  clippedMoves = 0;

  /** A blank screen with the cursor at the top left. */
  constructor(options: VirtualTerminalOptions) {
    this.columns = options.columns;
    this.rows = options.rows;
    this.#lenient = options.lenient ?? false;
    this.#screen = Array.from({ length: this.rows }, () => this.#blank());
  }

  #blank(): string[] {
    return Array(this.columns).fill(" ");
  }

  #lineFeed(): void {
    if (this.#row < this.rows - 1) {
      this.#row++;
      return;
    }
    const top = this.#screen.shift() ?? [];
    this.#scrollback.push(top.join("").trimEnd());
    this.#screen.push(this.#blank());
  }

  /** Applies `text` as a terminal would. */
  write(text: string): this {
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === "\x1b") {
        i = this.#escape(text, i);
        continue;
      }
      i++;
      if (c === "\r") {
        this.#col = 0;
      } else if (c === "\n") {
        this.#col = 0;
        this.#lineFeed();
      } else if (c === "\b") {
        this.#col = Math.max(0, Math.min(this.#col, this.columns - 1) - 1);
      } else if (c === "\x07" || c === "\x0f" || c === "\x0e") {
        // bell, shift in/out: nothing on screen
      } else if (c < " " && !this.#lenient) {
        throw new Error(`control character ${JSON.stringify(c)} at ${i - 1}`);
      } else if (c >= " ") {
        if (this.#col >= this.columns) {
          this.#col = 0;
          this.#lineFeed();
        }
        this.#screen[this.#row][this.#col++] = c;
      }
    }
    return this;
  }

  /** Applies the escape sequence at `start`; returns the index after it. */
  #escape(text: string, start: number): number {
    // deno-lint-ignore no-control-regex
    const csi = /^\x1b\[([?>=]?)([0-9;]*)([ -\/]*)([@-~])/.exec(
      text.slice(start, start + 32),
    );
    if (csi === null) {
      if (!this.#lenient) {
        throw new Error(
          `unknown escape ${JSON.stringify(text.slice(start, start + 8))}`,
        );
      }
      // ESC and one more character (ESC 7, ESC =, ...), or an OSC up to its terminator.
      if (text[start + 1] === "]") {
        // deno-lint-ignore no-control-regex
        const end = text.slice(start).search(/\x07|\x1b\\/);
        return end < 0 ? text.length : start + end + 1;
      }
      return start + 2;
    }
    const [whole, private_, params, , final] = csi;
    const n = params === "" ? undefined : Number(params.split(";")[0]);
    const col = Math.min(this.#col, this.columns - 1);
    const line = this.#screen[this.#row];
    if (private_ !== "") {
      if (!this.#lenient) {
        throw new Error(`unmodelled ${JSON.stringify(whole)}`);
      }
    } else if (final === "m") {
      // colors
    } else if (final === "A") {
      const want = this.#row - (n ?? 1);
      if (want < 0) this.clippedMoves++;
      this.#row = Math.max(0, want);
    } else if (final === "B") {
      this.#row = Math.min(this.rows - 1, this.#row + (n ?? 1));
    } else if (final === "C") {
      this.#col = Math.min(this.columns - 1, col + (n ?? 1));
    } else if (final === "D") {
      this.#col = Math.max(0, col - (n ?? 1));
    } else if (final === "G") {
      this.#col = Math.min(this.columns - 1, Math.max(0, (n ?? 1) - 1));
    } else if (final === "K") {
      const [from, to] = n === 2
        ? [0, this.columns]
        : n === 1
        ? [0, col + 1]
        : [col, this.columns];
      for (let x = from; x < to; x++) line[x] = " ";
    } else if (final === "J" && (n ?? 0) === 0) {
      for (let x = col; x < this.columns; x++) line[x] = " ";
      for (let y = this.#row + 1; y < this.rows; y++) {
        this.#screen[y] = this.#blank();
      }
    } else if (!this.#lenient) {
      throw new Error(`unmodelled ${JSON.stringify(whole)}`);
    }
    return start + whole.length;
  }

  /** The visible lines, trailing blanks trimmed, trailing empty lines dropped. */
  screen(): string[] {
    const lines = this.#screen.map((cells) => cells.join("").trimEnd());
    while (lines.length > 0 && lines.at(-1) === "") lines.pop();
    return lines;
  }

  /** Everything still readable: the scrollback, then the screen. */
  history(): string[] {
    return [...this.#scrollback, ...this.screen()];
  }

  /** The cursor's line and column on the screen. */
  get cursor(): { row: number; col: number } {
    return { row: this.#row, col: this.#col };
  }
}
