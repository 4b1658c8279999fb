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

/** Units per second so far (0 before any time has passed). */
export function progressRate(state: ProgressState): number {
  return state.elapsedMs > 0 ? state.done / (state.elapsedMs / 1000) : 0;
}

/** Seconds left at the current rate, or undefined when unknown. */
export function progressEta(state: ProgressState): number | undefined {
  const rate = progressRate(state);
  if (rate <= 0 || state.total <= 0) return undefined;
  return Math.max(0, (state.total - state.done) / rate);
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

/**
 * One progress line: `label [====>....] 45/100 12.3 it/s ETA 0:05 loss: 0.4100`.
 * `bar: false` leaves the bar out (plain lines for logs).
 */
export function formatProgress(
  state: ProgressState,
  options: { bar: boolean; width?: number },
): string {
  const parts = [state.label];
  if (options.bar) {
    parts.push(
      formatBar(
        state.total > 0 ? state.done / state.total : 0,
        options.width ?? 30,
      ),
    );
  }
  const percent = state.total > 0
    ? Math.floor((100 * state.done) / state.total)
    : 0;
  parts.push(
    `${formatAmount(state.done, state.unit)}/${
      formatAmount(state.total, state.unit)
    }${options.bar ? "" : ` (${percent}%)`}`,
  );
  const rate = progressRate(state);
  if (rate > 0) parts.push(formatRate(rate, state.unit));
  const eta = progressEta(state);
  if (eta !== undefined && state.done < state.total) {
    parts.push(`ETA ${formatDuration(eta)}`);
  }
  for (const [key, value] of Object.entries(state.fields)) {
    parts.push(`${key}: ${formatField(value)}`);
  }
  return parts.join("  ");
}

/** The final line of a bar: label, amount, rate, elapsed time, summary. */
export function formatProgressDone(
  state: ProgressState,
  summary?: string,
): string {
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
  return parts.join("  ");
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
