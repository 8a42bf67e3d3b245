/**
 * Option objects from users: a misspelt key (`maxWindow`, `top_k`) must be an error that names it
 * and the keys that exist, never a silent fallback to the default.
 */

/** Levenshtein distance (small strings: option and command names). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/** " (did you mean X?)" for the closest of `options`, or "" when none is close. */
export function suggest(word: string, options: readonly string[]): string {
  const best = options.map((o) => ({ o, d: distance(word, o) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean ${best.o}?)` : "";
}

/** Throws, naming each unknown key (with the closest known one) and every known key. */
export function checkOptionKeys(opts: unknown, known: readonly string[], verb: string): void {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) throw new Error(`${verb}: options must be an object such as { ${known[0]}: … } (got ${JSON.stringify(opts)}).`);
  const unknown = Object.keys(opts).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const what = unknown.map((k) => `${JSON.stringify(k)}${suggest(k, known)}`).join(", ");
  throw new Error(`${verb}: unknown option${unknown.length > 1 ? "s" : ""} ${what}; the options are ${known.join(", ")}.`);
}
