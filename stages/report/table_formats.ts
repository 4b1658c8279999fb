/**
 * Plain tables as CSV (RFC 4180, for a spreadsheet) and as a LaTeX booktabs `tabular` (for
 * `\input` in a paper that loads `booktabs`).
 *
 * @module
 */

/** A table for a paper: a header and rows of LaTeX cells (already escaped or math). */
export interface LatexTable {
  /** One `l`, `r` or `c` per column. */
  align: string;
  header: string[];
  /** Row groups, separated by `\midrule`. */
  groups: string[][][];
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** A CSV file: a header line, then one line per row, CRLF-free, ending in a newline. */
export function toCsv(
  header: readonly string[],
  rows: readonly string[][],
): string {
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join(
    "\n",
  ) +
    "\n";
}

const LATEX_SPECIAL: Record<string, string> = {
  "\\": "\\textbackslash{}",
  "&": "\\&",
  "%": "\\%",
  "$": "\\$",
  "#": "\\#",
  "_": "\\_",
  "{": "\\{",
  "}": "\\}",
  "~": "\\textasciitilde{}",
  "^": "\\textasciicircum{}",
  "α": "$\\alpha$",
  "−": "$-$",
  "±": "$\\pm$",
  "Δ": "$\\Delta$",
  "×": "$\\times$",
};

/** Escapes text for LaTeX, turning the report's α, −, ±, Δ and × into math. */
export function latexText(text: string): string {
  return [...text].map((c) => LATEX_SPECIAL[c] ?? c).join("");
}

/** A signed number in math mode: 0.45 -> "$+0.45$", -0.5 -> "$-0.50$". */
export function latexSigned(value: number, digits = 2): string {
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return `$${text}$`;
  return `$${value < 0 ? "-" : "+"}${text}$`;
}

/** A booktabs tabular with a comment saying what it is and what it needs. */
export function toLatex(table: LatexTable, comment: string): string {
  const line = (cells: readonly string[]) => `${cells.join(" & ")} \\\\`;
  const body = table.groups.filter((g) => g.length > 0).map((g) =>
    g.map(line).join("\n")
  );
  return [
    `% ${comment}`,
    "% Needs \\usepackage{booktabs}; include with \\input{...} inside a table environment.",
    `\\begin{tabular}{${table.align}}`,
    "\\toprule",
    line(table.header),
    "\\midrule",
    body.join("\n\\midrule\n"),
    "\\bottomrule",
    "\\end{tabular}",
  ].join("\n") + "\n";
}
