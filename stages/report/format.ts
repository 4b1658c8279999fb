/**
 * Number formatting for the report. Fixed decimals everywhere, so the same numbers always
 * print the same text (a cached report stays byte-stable).
 *
 * @module
 */
import type { Stat } from "./metrics.ts";

/** 0.84261 -> "84.26 %". */
export function pct(fraction: number, digits = 2): string {
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** Signed number with a real minus sign: 0.5 -> "+0.50", -0.5 -> "−0.50". */
export function signed(value: number, digits = 2): string {
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return text;
  return `${value < 0 ? "−" : "+"}${text}`;
}

/** Accuracy difference as signed percentage points: 0.0108 -> "+1.08 pp". */
export function pp(fraction: number, digits = 2): string {
  return `${signed(fraction * 100, digits)} pp`;
}

/** "84.10 ± 0.20 %" for several runs, "84.10 %" for one. */
export function pctStat(s: Stat, digits = 2): string {
  if (s.std === null) return pct(s.mean, digits);
  return `${(s.mean * 100).toFixed(digits)} ± ${
    (s.std * 100).toFixed(digits)
  } %`;
}

/** "0.4412 ± 0.0030", or "0.4412" for one run. */
export function numStat(s: Stat, digits = 4, unit = ""): string {
  const suffix = unit ? ` ${unit}` : "";
  if (s.std === null) return `${s.mean.toFixed(digits)}${suffix}`;
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}${suffix}`;
}

/** Escapes text for a markdown table cell. */
export function cell(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replaceAll(
    "\n",
    " ",
  );
}

/** A markdown table; `align` uses "l" or "r" per column. */
export function table(
  header: string[],
  rows: string[][],
  align?: string,
): string {
  const a = align ?? "l".repeat(header.length);
  const sep = header.map((_, i) => (a[i] === "r" ? "---:" : "---"));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(sep), ...rows.map(line)].join("\n");
}
