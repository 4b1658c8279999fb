/**
 * Text widths from the charts' font (DejaVu Sans advance widths), for vega's layout.
 *
 * Headless vega has no canvas to measure text and falls back to 0.8 em per character, about
 * 45 % too wide for DejaVu Sans: titles, legends and axis labels then reserve space they do not
 * use, and the SVG has a blank strip on the right. Summing the font's real advance widths
 * (kerning ignored: it only narrows text) gives the width the text is drawn at.
 *
 * @module
 */
import * as vega from "vega";
import { DEJAVU_SANS, DEJAVU_SANS_BOLD } from "./fonts/dejavu_widths.ts";

/** A character the tables lack (a rare symbol): about the widest common glyph. */
const FALLBACK_EM = 0.8;

/** Font settings of one text item. */
export interface TextFont {
  /** In pixels. */
  fontSize: number;
  bold?: boolean;
}

/** The width in pixels of `text` drawn in DejaVu Sans at `font`. */
export function textWidth(text: string, font: TextFont): number {
  const table = font.bold ? DEJAVU_SANS_BOLD : DEJAVU_SANS;
  let em = 0;
  for (const c of text) em += table[c.codePointAt(0)!] ?? FALLBACK_EM;
  return em * font.fontSize;
}

/** What vega passes to its text measure: a text item's font fields. */
interface VegaTextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
}

function isBold(weight: number | string | undefined): boolean {
  if (weight === undefined) return false;
  const n = Number(weight);
  return Number.isFinite(n)
    ? n >= 600
    : /bold|black|heavy/.test(String(weight));
}

/** vega's `textMetrics.width` signature, measuring with {@link textWidth}. */
export function vegaTextWidth(item: VegaTextItem, text: unknown): number {
  const fontSize = item.fontSize == null ? 11 : Number(item.fontSize) || 0;
  const value = text == null ? "" : String(text).trim();
  if (fontSize <= 0 || value === "") return 0;
  return textWidth(value, { fontSize, bold: isBold(item.fontWeight) });
}

type TextMetrics = { width: (item: unknown, text: unknown) => number };

/**
 * Runs `render` with vega measuring text by {@link vegaTextWidth} (vega supports replacing
 * `textMetrics.width`), and puts vega's own measure back afterwards.
 */
export async function withFontMetrics<T>(render: () => Promise<T>): Promise<T> {
  const metrics = (vega as unknown as { textMetrics: TextMetrics }).textMetrics;
  const previous = metrics.width;
  metrics.width = vegaTextWidth as TextMetrics["width"];
  try {
    return await render();
  } finally {
    metrics.width = previous;
  }
}

/**
 * Splits lines at spaces so that none is wider than `maxWidth` pixels (a word wider than
 * that stays on its own line): vega does not wrap titles, and a long subtitle would widen
 * the chart.
 */
export function wrapLines(
  lines: readonly string[],
  options: TextFont & { maxWidth: number },
): string[] {
  const out: string[] = [];
  for (const line of lines) {
    let current = "";
    for (const word of line.split(" ")) {
      const next = current === "" ? word : `${current} ${word}`;
      if (current !== "" && textWidth(next, options) > options.maxWidth) {
        out.push(current);
        current = word;
      } else {
        current = next;
      }
    }
    out.push(current);
  }
  return out;
}
