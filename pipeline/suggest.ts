/**
 * Wording help for error messages: the closest valid name to a mistyped one, and command-line
 * arguments quoted so that a hint can be pasted into any POSIX shell (zsh included).
 *
 * @module
 */

/** Edit distance between `a` and `b` (insert, delete, substitute, swap two neighbours). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from(
    { length: rows },
    (_, i) =>
      Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate closest to `name` (case-insensitively), or undefined when none is close enough
 * to be a likely typo: 1 edit for names of up to 3 characters, else 2, or a third of the
 * length up to 3.
 */
export function closest(
  name: string,
  candidates: Iterable<string>,
): string | undefined {
  const limit = name.length <= 3
    ? 1
    : Math.min(3, Math.max(2, Math.floor(name.length / 3)));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  return best?.candidate;
}

/**
 * `; did you mean X?` when a candidate is close to `name`, else `;`: the message goes on with
 * the list of valid names either way.
 */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const match = closest(name, candidates);
  return match === undefined ? ";" : `; did you mean ${match}?`;
}

const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * One argument as a shell would need it: unchanged when it has only safe characters, else in
 * single quotes (so `seeds=[0,1]` becomes `'seeds=[0,1]'`, which zsh does not glob).
 */
export function shellQuote(arg: string): string {
  if (SHELL_SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'"'"'`)}'`;
}

/** A `--set` flag for `path=value` (the value as JSON), quoted for the shell. */
export function setFlag(path: string, value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return `--set ${shellQuote(`${path}=${text}`)}`;
}
