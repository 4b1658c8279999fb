/**
 * Pure formatting of progress bars: counts, rate, ETA, fields; `bytes` units as KiB/MiB.
 *
 * @module
 */

/** A progress bar's state, as a progress event carries it. */
export interface ProgressState {
  /** What is counted. */
  label: string;
  /** Units done. */
  done: number;
  /** Units in all. */
  total: number;
  /** Unit name; `"bytes"` is shown as B/KiB/MiB/GiB. */
  unit: string;
  /** Extra fields shown after the bar, e.g. `{loss: 0.41}`. */
  fields: Record<string, string | number>;
  /** Milliseconds since the bar started. */
  elapsedMs: number;
}

/** `1536` -> `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Seconds as `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function formatAmount(value: number, unit: string): string {
  return unit === "bytes" ? formatBytes(value) : String(value);
}

function formatRate(perSecond: number, unit: string): string {
  if (unit === "bytes") return `${formatBytes(perSecond)}/s`;
  const digits = perSecond >= 100 ? 0 : perSecond >= 10 ? 1 : 2;
  return `${perSecond.toFixed(digits)} ${unit}/s`;
}

function formatField(value: string | number): string {
  if (typeof value === "string") return value;
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1000 || Math.abs(value) < 0.001
    ? value.toPrecision(4)
    : value.toFixed(4);
}

/** Units per second so far, warm-up included (0 before any time has passed). */
export function progressRate(state: ProgressState): number {
  return state.elapsedMs > 0 ? state.done / (state.elapsedMs / 1000) : 0;
}

/**
 * Seconds left at `rate` (default: the average so far), or undefined when unknown.
 * `rate: null` means "not known yet".
 */
export function progressEta(
  state: ProgressState,
  rate: number | null = progressRate(state),
): number | undefined {
  if (rate === null || rate <= 0 || state.total <= 0) return undefined;
  return Math.max(0, (state.total - state.done) / rate);
}

/** Options of {@link RateMeter}. */
export interface RateMeterOptions {
  /** Units that count as warm-up: the rate is measured from the first update past them. */
  warmupUnits?: number;
  /** Milliseconds of measurement after the warm-up before a rate is given. Default 1000. */
  minMs?: number;
}

/**
 * The rate of a bar after its warm-up. The first steps of a bar are not typical (a first
 * training step compiles kernels; a bar created after its first unit sees 1 unit in ~0 ms and
 * would claim thousands per second), so the rate is measured from the first update at or past
 * the warm-up, and only once `minMs` have passed since.
 */
export class RateMeter {
  #warmup: number;
  #minMs: number;
  #anchor: { done: number; elapsedMs: number } | undefined;
  #rate: number | null = null;

  /** A meter for a bar of `total` units; the warm-up defaults to 2 % of them (at least 1). */
  constructor(total: number, options: RateMeterOptions = {}) {
    this.#warmup = options.warmupUnits ??
      Math.max(1, Math.ceil(Math.max(0, total) * 0.02));
    this.#minMs = options.minMs ?? 1000;
  }

  /** Records an update of the bar. */
  observe(state: { done: number; elapsedMs: number }): void {
    if (this.#anchor === undefined) {
      if (state.done >= this.#warmup) {
        this.#anchor = { done: state.done, elapsedMs: state.elapsedMs };
      }
      return;
    }
    const ms = state.elapsedMs - this.#anchor.elapsedMs;
    const units = state.done - this.#anchor.done;
    if (ms >= this.#minMs && units > 0) this.#rate = units / (ms / 1000);
  }

  /** Units per second after the warm-up, or null while not known yet. */
  rate(): number | null {
    return this.#rate;
  }
}

/** A Keras-like bar: `[=====>......]`, `width` characters between the brackets. */
export function formatBar(fraction: number, width: number): string {
  const clamped = Number.isFinite(fraction)
    ? Math.min(1, Math.max(0, fraction))
    : 0;
  const filled = Math.floor(clamped * width);
  if (filled >= width) return `[${"=".repeat(width)}]`;
  return `[${"=".repeat(filled)}>${".".repeat(width - filled - 1)}]`;
}

/** Options of {@link formatProgress}. */
export interface FormatProgressOptions {
  /** Draw the bar (false: plain lines for logs, with a percentage instead). */
  bar: boolean;
  /** Bar width between the brackets when `columns` is not given. Default 30. */
  width?: number;
  /**
   * Characters the line may use. The bar shrinks (to 10), then the rate, the fields (last
   * first) and the ETA are left out, then the bar, and the rest is cut with `…`.
   */
  columns?: number;
  /** Units per second to show and base the ETA on; default the average so far, null unknown. */
  rate?: number | null;
}

const SEPARATOR = "  ";
const MIN_BAR = 10;
const MAX_BAR = 30;

/** Cuts `text` to `columns` characters, marking the cut with `…`. */
export function truncate(text: string, columns: number): string {
  if (text.length <= columns) return text;
  return columns <= 0 ? "" : `${text.slice(0, columns - 1)}…`;
}

/**
 * One progress line: `label [====>....] 45/100 12.3 it/s ETA 0:05 loss: 0.4100`.
 * `bar: false` leaves the bar out (plain lines for logs); `columns` fits the line to a terminal.
 */
export function formatProgress(
  state: ProgressState,
  options: FormatProgressOptions,
): string {
  const percent = state.total > 0
    ? Math.floor((100 * state.done) / state.total)
    : 0;
  const amount = `${formatAmount(state.done, state.unit)}/${
    formatAmount(state.total, state.unit)
  }${options.bar ? "" : ` (${percent}%)`}`;
  const rate = options.rate === undefined ? progressRate(state) : options.rate;
  const eta = state.done < state.total ? progressEta(state, rate) : undefined;
  const rateText = rate !== null && rate > 0
    ? formatRate(rate, state.unit)
    : undefined;
  const etaText = eta === undefined ? undefined : `ETA ${formatDuration(eta)}`;
  let fields = Object.entries(state.fields).map(([key, value]) =>
    `${key}: ${formatField(value)}`
  );
  let showRate = rateText !== undefined;
  let showEta = etaText !== undefined;
  let bar = options.bar;
  const compose = (barWidth: number) => {
    const parts = [state.label];
    if (bar) {
      parts.push(
        formatBar(state.total > 0 ? state.done / state.total : 0, barWidth),
      );
    }
    parts.push(amount);
    if (showRate) parts.push(rateText as string);
    if (showEta) parts.push(etaText as string);
    parts.push(...fields);
    return parts.join(SEPARATOR);
  };
  const columns = options.columns;
  if (columns === undefined) return compose(options.width ?? MAX_BAR);
  // What goes first when the line is too long: the rate (the ETA says as much), the last
  // fields, the ETA, then the bar itself.
  const fits = () => compose(MIN_BAR).length <= columns;
  while (!fits()) {
    if (showRate) showRate = false;
    else if (fields.length > 0) fields = fields.slice(0, -1);
    else if (showEta) showEta = false;
    else if (bar) bar = false;
    else return truncate(compose(MIN_BAR), columns);
  }
  if (!bar) return compose(MIN_BAR);
  const spare = columns - compose(MIN_BAR).length;
  return compose(Math.min(MAX_BAR, MIN_BAR + spare));
}

/** The final line of a bar: label, amount, rate, elapsed time, fields, summary. */
export function formatProgressDone(
  state: ProgressState,
  summary?: string,
): string {
  return progressDoneParts(state, summary).join(SEPARATOR);
}

/** {@link formatProgressDone}'s parts, for wrapping at part boundaries. */
export function progressDoneParts(
  state: ProgressState,
  summary?: string,
): string[] {
  const parts = [
    state.label,
    `${formatAmount(state.done, state.unit)}/${
      formatAmount(state.total, state.unit)
    }`,
  ];
  const rate = progressRate(state);
  if (rate > 0) parts.push(formatRate(rate, state.unit));
  parts.push(`${(state.elapsedMs / 1000).toFixed(1)}s`);
  for (const [key, value] of Object.entries(state.fields)) {
    parts.push(`${key}: ${formatField(value)}`);
  }
  if (summary !== undefined && summary !== "") parts.push(summary);
  return parts;
}

/**
 * Joins `parts` with two spaces into lines of at most `columns` characters, breaking only
 * between parts (then between words); continuation lines start with `indent`. A single word
 * longer than a line is cut with `…`.
 */
export function wrapParts(
  parts: readonly string[],
  columns: number,
  indent = "    ",
): string[] {
  const lines: string[] = [];
  let current = "";
  const push = (piece: string, separator: string) => {
    const prefix = lines.length === 0 ? "" : indent;
    if (current === "") {
      current = prefix + piece;
    } else if (current.length + separator.length + piece.length <= columns) {
      current += separator + piece;
    } else {
      lines.push(current);
      current = indent + piece;
    }
  };
  for (const part of parts) {
    const room = columns - indent.length;
    if (part.length <= room) {
      push(part, SEPARATOR);
      continue;
    }
    // A part longer than a line: break it where it has two spaces, then between words.
    for (const piece of part.split(SEPARATOR)) {
      if (piece.length <= room) {
        push(piece, SEPARATOR);
        continue;
      }
      for (const [j, word] of piece.split(/ +/).entries()) {
        push(truncate(word, room), j === 0 ? SEPARATOR : " ");
      }
    }
  }
  if (current !== "") lines.push(current);
  return lines.map((line) => truncate(line.trimEnd(), columns));
}

/**
 * Whether a non-TTY log should print a line now: never sooner than `intervalMs` after the last
 * one, then when a quarter more is done or 3 intervals have passed with any progress.
 */
export function shouldPrintPlain(
  last: { fraction: number; atMs: number; done: number },
  now: { state: ProgressState; nowMs: number; intervalMs?: number },
): boolean {
  // Plain lines end up in logs: a bar that finishes within the interval prints only its final
  // line, a longer one a line per quarter, and a slow one at least one every 3 intervals.
  const { state, nowMs, intervalMs = 10_000 } = now;
  if (state.done === last.done) return false;
  const elapsed = nowMs - last.atMs;
  if (elapsed < intervalMs) return false;
  const fraction = state.total > 0 ? state.done / state.total : 0;
  return fraction - last.fraction >= 0.25 || elapsed >= 3 * intervalMs;
}
