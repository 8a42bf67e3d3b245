/**
 * Text from checkpoints (expert names, data cards, tensor names, provenance) is written by someone
 * else and must never reach a terminal raw: an ESC or CSI sequence in an expert name can clear the
 * screen, retitle the window, or hide the rest of a line, and bidirectional overrides can make text
 * read differently from what it is. One helper escapes all of it; the CLI passes every byte it
 * prints through `terminalSafe`, so no printer can forget.
 */

/**
 * Characters a terminal may interpret rather than show: C0 controls (except newline and tab, which
 * the printers use for layout), DEL, C1 controls (U+0080–U+009F; U+009B is a one-character CSI),
 * the line/paragraph separators, and the bidirectional embedding/override/isolate marks.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every unsafe character spelled as `\uXXXX`. That spelling is also a valid JSON
 * escape, so escaping JSON output keeps it parseable and keeps its value (inside JSON strings these
 * characters are only legal escaped anyway; JSON.stringify leaves C1 and bidi marks raw).
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A string from a file, quoted for a message: JSON quoting plus `terminalSafe` (one line, visible escapes). */
export function quoted(s: string): string {
  return terminalSafe(JSON.stringify(s));
}
