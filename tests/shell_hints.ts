/**
 * Checks that every `--set` hint in a text can be pasted into a shell: its argument is either
 * single-quoted or made of characters no shell treats specially ([ and ] glob in zsh).
 *
 * @module
 */
import { assert } from "./assert.ts";

/** Asserts every `--set ARG` in `text` is shell-safe; returns how many there were. */
export function assertShellSafeHints(text: string): number {
  let count = 0;
  for (const match of text.matchAll(/--set[ =](\S+)/g)) {
    count++;
    const arg = match[1].replace(/[`)]*$/, "");
    assert(
      arg.startsWith("'") || /^[A-Za-z0-9_./:=@%+,-]+$/.test(arg),
      `hint not shell-safe: --set ${arg} in ${JSON.stringify(text)}`,
    );
  }
  return count;
}
