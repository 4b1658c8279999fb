/**
 * The terminal renderer: turns engine events into lines. On a TTY every unfinished progress bar
 * has a line of its own in a live region at the bottom, redrawn in place (throttled) below the
 * permanent lines; elsewhere bars print plain lines now and then.
 *
 * @module
 */
import { errorMessage, isUserError } from "../errors.ts";
import type { Action, PipelineEvent, PlanEntry } from "../events.ts";
import { LiveRegion } from "./live_region.ts";
import { formatReasons, type StaleReason } from "../plan/reasons.ts";
import {
  formatProgress,
  progressDoneParts,
  type ProgressState,
  RateMeter,
  shouldPrintPlain,
  truncate,
  wrapParts,
} from "../progress.ts";

/** Options of {@link TerminalRenderer}. */
export interface RendererOptions {
  /** Writes text (lines end with "\n"). */
  write(text: string): void;
  /** Redraw bars in place (ANSI cursor movement), a line per unfinished bar. */
  tty: boolean;
  /** Use ANSI colors (false when NO_COLOR is set). */
  color: boolean;
  /** Clock in ms (tests pass a fake one). */
  now?: () => number;
  /** Minimum ms between TTY redraws. Default 100. */
  throttleMs?: number;
  /**
   * The terminal's width, read again before every redraw (so a resized terminal is followed);
   * undefined when unknown. Default on a TTY: `Deno.consoleSize()` of stdout.
   */
  columns?: () => number | undefined;
  /**
   * The terminal's height in lines, read again before every redraw; it caps the bars drawn at
   * once. Default on a TTY: `Deno.consoleSize()` of stdout.
   */
  rows?: () => number | undefined;
}

function consoleSize(): { columns: number; rows: number } | undefined {
  try {
    return Deno.consoleSize();
  } catch {
    return undefined;
  }
}

/** The width of the terminal on stdout, or undefined (not a terminal, or unknown). */
export function consoleColumns(): number | undefined {
  const columns = consoleSize()?.columns ?? 0;
  return columns > 0 ? columns : undefined;
}

/** The height of the terminal on stdout, or undefined (not a terminal, or unknown). */
export function consoleRows(): number | undefined {
  const rows = consoleSize()?.rows ?? 0;
  return rows > 0 ? rows : undefined;
}

/**
 * Terminal lines left out of the live region: with more bars than the terminal has lines, the
 * region stops this far from the top, so the lines printed just above it stay in view.
 */
const ROWS_MARGIN = 2;
/** Bars drawn at once when the terminal's height is unknown. */
const DEFAULT_LIVE_BARS = 10;

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

const CODES = { green: 32, red: 31, yellow: 33, dim: 2, bold: 1 } as const;

/** Renders {@link PipelineEvent}s for a terminal or a log file. */
export class TerminalRenderer {
  #options: RendererOptions;
  #now: () => number;
  #region: LiveRegion;
  #lastDraw = -Infinity;
  /** The unfinished bars on a TTY, oldest first, with the instance that draws each. */
  #bars = new Map<string, { instance: string; state: ProgressState }>();
  #plain = new Map<string, { fraction: number; atMs: number; done: number }>();
  /** Per bar: its rate after the warm-up, and the last value of every field it has sent. */
  #tracks = new Map<
    string,
    { instance: string; meter: RateMeter; fields: ProgressState["fields"] }
  >();
  #columns: () => number | undefined;
  #rows: () => number | undefined;

  /** Creates a renderer writing through `options.write`. */
  constructor(options: RendererOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#region = new LiveRegion(options.write);
    this.#columns = options.columns ??
      (options.tty ? consoleColumns : () => undefined);
    this.#rows = options.rows ?? (options.tty ? consoleRows : () => undefined);
  }

  /**
   * Characters a line may use on this terminal: one less than its width, so that a line never
   * reaches the last column (where some terminals wrap at once); undefined when not a TTY.
   */
  #width(): number | undefined {
    if (!this.#options.tty) return undefined;
    const columns = this.#columns();
    return columns === undefined ? undefined : Math.max(20, columns - 1);
  }

  /**
   * Ends the lines the bars are drawn on, so that text written to the terminal by other means
   * (the Ctrl-C message on stderr) starts on a line of its own; the bars are redrawn below it.
   */
  breakLine(): void {
    this.#region.release();
  }

  /** Splits `text` into terminal lines no longer than the terminal (TTY only). */
  #fit(text: string): string {
    const width = this.#width();
    if (width === undefined) return text;
    return text.split("\n").map((line) => {
      if (line.replace(ANSI, "").length <= width) return line;
      // Too long: wrap between words (colors are dropped rather than split).
      const plain = line.replace(ANSI, "");
      const indent = /^ */.exec(plain)?.[0] ?? "";
      return wrapParts([plain.trimStart()], width - indent.length, "    ")
        .map((part) => indent + part).join("\n");
    }).join("\n");
  }

  #paint(color: keyof typeof CODES, text: string): string {
    return this.#options.color ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
  }

  /** Prints a whole line (wrapped to a TTY's width), keeping the TTY bars below it. */
  line(text: string): void {
    text = this.#fit(text);
    if (
      this.#region.height > 0 || (this.#options.tty && this.#bars.size > 0)
    ) {
      this.#region.update(text.split("\n"), this.#liveLines());
    } else {
      this.#options.write(`${text}\n`);
    }
  }

  /** Renders one event. */
  handle(event: PipelineEvent): void {
    switch (event.type) {
      case "plan":
        if (event.dryRun) {
          for (const entry of event.entries) {
            const what = ACTION_WORDS[entry.action];
            const why = entry.reasons.length > 0
              ? `: ${formatReasons(entry.reasons)}`
              : "";
            this.line(`${what} ${entry.instance}${why}`);
          }
          this.line(planCount(event.entries));
        }
        return;
      case "start":
        this.line(
          this.#paint("bold", `running ${event.instance}`) +
            briefReasons(event.reasons),
        );
        return;
      case "log":
        this.line(`  ${event.line}`);
        return;
      case "progress":
        this.#progress(event);
        return;
      case "finish": {
        const seconds = `${event.seconds.toFixed(2)}s`;
        this.#endBars(event.instance);
        if (event.outcome === "ran") {
          this.line(
            `${this.#paint("green", "ran   ")}  ${event.instance}  ${seconds}`,
          );
        } else {
          this.line(
            `${this.#paint("dim", "cached")}  ${event.instance}  ${
              event.detail === "restored" ? `restored ${seconds}` : "up to date"
            }`,
          );
        }
        return;
      }
      case "failed": {
        this.#endBars(event.instance);
        this.line(
          `${this.#paint("red", "failed")}  ${event.instance}  ${
            event.seconds.toFixed(2)
          }s`,
        );
        const error = event.error;
        const detail =
          !isUserError(error) && error instanceof Error && error.stack
            ? error.stack
            : errorMessage(error);
        this.line(
          this.#paint(
            "red",
            `error: stage ${event.instance} failed: ${detail}`,
          ),
        );
        return;
      }
      case "interrupted":
        this.#endBars(event.instance);
        this.line(
          this.#paint(
            "yellow",
            event.instance === undefined
              ? "interrupted between stages; rerun to continue"
              : `interrupted: ${event.instance} was stopped (Ctrl-C); its scratch dir is kept, rerun to continue`,
          ),
        );
        return;
      case "warning":
        this.line(this.#paint("yellow", `warning: ${event.message}`));
        return;
      case "summary":
        this.#endBars(undefined);
        for (const text of event.lines) this.line(text);
        return;
      case "round":
        this.#endBars(undefined);
        this.line(this.#paint("bold", roundLine(event)));
        return;
      default: {
        const unknown: never = event;
        throw new Error(`unhandled event ${JSON.stringify(unknown)}`);
      }
    }
  }

  /**
   * Forgets the bars of `instance` (its stage is over; undefined: every instance), so that a
   * stage that ends leaves the bars of the stages still running alone. The next line printed
   * redraws the live region without them.
   */
  #endBars(instance: string | undefined): void {
    for (const [key, bar] of this.#bars) {
      if (instance === undefined || bar.instance === instance) {
        this.#bars.delete(key);
      }
    }
    for (const [key, track] of this.#tracks) {
      if (instance === undefined || track.instance === instance) {
        this.#tracks.delete(key);
      }
    }
  }

  /** Bars drawn at once: as many as the terminal has lines, less a margin. */
  #liveLimit(): number {
    const rows = this.#rows();
    return rows === undefined
      ? DEFAULT_LIVE_BARS
      : Math.max(1, rows - ROWS_MARGIN);
  }

  /**
   * A line per unfinished bar, oldest first, each fitted to the terminal; past the terminal's
   * height the last line drawn says how many more run.
   */
  #liveLines(): string[] {
    const limit = this.#liveLimit();
    const shown = [...this.#bars].slice(0, limit);
    // A live line must never wrap (the region could not find its lines again), however narrow;
    // it leaves room for the "^C" a terminal echoes at the cursor when Ctrl-C is pressed.
    const columns = this.#options.tty ? this.#columns() : undefined;
    const width = columns === undefined ? undefined : Math.max(1, columns - 3);
    // Labels padded to the longest, so that the bars of parallel stages start in one column.
    const labelWidth = Math.max(
      ...shown.map(([, bar]) => bar.state.label.length),
    );
    return shown.map(([key, { state }], i) => {
      const hidden = this.#bars.size - limit;
      const more = i === limit - 1 && hidden > 0 ? `  (+${hidden} more)` : "";
      const padded = { ...state, label: state.label.padEnd(labelWidth) };
      const line = `  ${
        formatProgress(padded, {
          bar: true,
          rate: this.#tracks.get(key)?.meter.rate() ?? null,
          columns: width === undefined
            ? undefined
            : Math.max(1, width - 2 - more.length),
        })
      }${more}`;
      return width === undefined ? line : truncate(line, width);
    });
  }

  #progress(event: Extract<PipelineEvent, { type: "progress" }>): void {
    const key = `${event.instance}#${event.id}`;
    let track = this.#tracks.get(key);
    if (track === undefined) {
      track = {
        instance: event.instance,
        meter: new RateMeter(event.total),
        fields: {},
      };
      this.#tracks.set(key, track);
    }
    // A field a stage sends only now and then (a loss read every 50 steps) keeps its last
    // value until the bar ends, instead of blinking in and out.
    track.fields = { ...track.fields, ...event.fields };
    const state: ProgressState = { ...event, fields: track.fields };
    const meter = track.meter;
    const now = this.#now();
    if (event.finished) {
      this.#bars.delete(key);
      this.#plain.delete(key);
      this.#tracks.delete(key);
      const parts = progressDoneParts(state, event.summary);
      const width = this.#width();
      const text = width === undefined
        ? parts.join("  ")
        : wrapParts(parts, width - 2).join("\n  ");
      this.line(`  ${text}`);
      return;
    }
    meter.observe(state);
    if (this.#options.tty) {
      this.#bars.set(key, { instance: event.instance, state });
      if (now - this.#lastDraw < (this.#options.throttleMs ?? 100)) return;
      this.#lastDraw = now;
      this.#region.update([], this.#liveLines());
      return;
    }
    const last = this.#plain.get(key) ?? { fraction: 0, atMs: now, done: 0 };
    if (!this.#plain.has(key)) this.#plain.set(key, last);
    if (!shouldPrintPlain(last, { state, nowMs: now })) return;
    this.#plain.set(key, {
      fraction: state.total > 0 ? state.done / state.total : 0,
      atMs: now,
      done: state.done,
    });
    this.line(`  ${formatProgress(state, { bar: false, rate: meter.rate() })}`);
  }
}

/**
 * The reasons a stage runs, cut to keep the run log to a line per stage; `status` and
 * `--dry-run` list them all.
 */
export function briefReasons(
  reasons: readonly StaleReason[],
  max = 2,
): string {
  if (reasons.length === 0) return "";
  const shown = formatReasons(reasons.slice(0, max));
  const more = reasons.length - max;
  return more > 0 ? ` (${shown}; +${more} more)` : ` (${shown})`;
}

/** How a dry run words each action, padded to one width. */
const ACTION_WORDS: Record<Action, string> = {
  run: "would run    ",
  restore: "would restore",
  pending: "pending      ",
  fresh: "fresh        ",
};

/** The closing line of a dry run: `2 to run, 1 to restore, 4 pending, 0 fresh`. */
export function planCount(entries: readonly PlanEntry[]): string {
  const count = (action: Action) =>
    entries.filter((entry) => entry.action === action).length;
  return `${count("run")} to run, ${count("restore")} to restore, ${
    count("pending")
  } pending (run only if an upstream's outputs change), ${
    count("fresh")
  } fresh`;
}

/** The line of a round event: `round 2`, `round 2 decided: ...`, `round 3: decided after round 2`. */
export function roundLine(
  event: Extract<PipelineEvent, { type: "round" }>,
): string {
  const note = event.note === undefined ? "" : `: ${event.note}`;
  switch (event.state) {
    case "start":
      return `round ${event.round}`;
    case "decided":
      return `round ${event.round} decided${note}`;
    case "unknown":
      return `round ${event.round} and later: decided after round ${
        event.round - 1
      }${note}`;
  }
}
