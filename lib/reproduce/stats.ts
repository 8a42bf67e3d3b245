/**
 * Statistics over seeds: mean ± sample standard deviation, and the pooled tables of the report.
 * Pure functions on plain numbers (tested with hand-worked cases in test/reproduce).
 */

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator); null with a single value. */
  sd: number | null;
  n: number;
  /** The per-seed values, in seed order. */
  values: number[];
}

/** Mean and sample sd of finite values. Throws on an empty list or a non-finite value. */
export function meanSd(values: readonly number[]): MeanSd {
  if (values.length === 0) throw new Error("meanSd: no values (did every seed fail?).");
  for (const v of values) if (!Number.isFinite(v)) throw new Error(`meanSd: non-finite value ${v} among ${values.join(", ")}.`);
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, sd, n, values: [...values] };
}

/** "12.34 ± 0.56" (or "12.34" with one seed). */
export function formatMeanSd(m: MeanSd, digits = 2): string {
  return m.sd === null ? m.mean.toFixed(digits) : `${m.mean.toFixed(digits)} ± ${m.sd.toFixed(digits)}`;
}

/**
 * Per-seed tables → one table of mean ± sd per (row, column). Every seed must have the same rows
 * and columns: a missing cell is an error, not a silent hole (it would bias the mean).
 */
export function poolTables(perSeed: ReadonlyArray<Record<string, Record<string, number>>>): Record<string, Record<string, MeanSd>> {
  if (perSeed.length === 0) throw new Error("poolTables: no seeds.");
  const rows = Object.keys(perSeed[0]);
  const out: Record<string, Record<string, MeanSd>> = {};
  for (const r of rows) {
    const cols = Object.keys(perSeed[0][r]);
    out[r] = {};
    for (const c of cols) {
      const vals = perSeed.map((t, i) => {
        const v = t[r]?.[c];
        if (v === undefined) throw new Error(`poolTables: seed #${i} has no value for row "${r}", column "${c}"; every seed must have the same table.`);
        return v;
      });
      out[r][c] = meanSd(vals);
    }
  }
  return out;
}

/** A number or an array of them, nested to any depth (figure data). */
export type Nested = number | Nested[];

/** Element-wise mean of equally shaped nested arrays (per-seed figure data → mean figure data). */
export function meanNested(arrays: readonly Nested[]): Nested {
  if (arrays.length === 0) throw new Error("meanNested: no arrays.");
  const first = arrays[0];
  if (typeof first === "number") {
    if (arrays.some((a) => typeof a !== "number")) throw new Error("meanNested: the arrays differ in shape.");
    return (arrays as number[]).reduce((s, v) => s + v, 0) / arrays.length;
  }
  return first.map((_, i) =>
    meanNested(
      arrays.map((a) => {
        if (!Array.isArray(a) || a.length !== first.length) throw new Error("meanNested: the arrays differ in shape.");
        return a[i];
      }),
    ),
  );
}

/** Relative improvement (ref − x) / ref: positive when x is better (lower perplexity) than ref. */
export function relImprovement(ref: number, x: number): number {
  return (ref - x) / ref;
}
