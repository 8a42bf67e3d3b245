/**
 * Near-duplicate removal with MinHash + LSH (Broder 1997; Leskovec et al., Mining of Massive
 * Datasets ch. 3). Each document becomes the set of its hashed word k-shingles; a signature of
 * bands×rows minima under independent hash functions estimates Jaccard similarity, and documents
 * that agree on all rows of at least one band become candidate pairs. Candidates are confirmed
 * with the exact Jaccard of the shingle sets, so the LSH only decides what gets compared: with
 * 32 bands of 4 rows, a pair at Jaccard 0.8 is a candidate with probability 1-(1-0.8^4)^32 ≈ 1.
 *
 * The earlier document (input order) is kept; later near-duplicates are dropped.
 */
import { fmix32, fnv1a32 } from "./util";

/** murmur3 finaliser: a cheap bijective scrambler of 32-bit ints. */
const mix32 = fmix32;

/** Sorted unique 32-bit hashes of the lowercased word k-shingles of `text`. */
export function shingleSet(text: string, k: number): Uint32Array {
  const words = text.toLowerCase().match(/\S+/g) ?? [];
  const wh = words.map((w) => fnv1a32(w));
  const n = Math.max(1, wh.length - k + 1);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let h = 0x9747b28c;
    for (let j = i; j < Math.min(i + k, wh.length); j++) h = mix32(h ^ wh[j]); // order-sensitive chain
    out[i] = h >>> 0;
  }
  out.sort();
  let u = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[u - 1]) out[u++] = out[i];
  return out.slice(0, u);
}

/** Exact Jaccard similarity of two sorted unique arrays. */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  let i = 0, j = 0, inter = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) inter++, i++, j++;
    else if (a[i] < b[j]) i++;
    else j++;
  }
  const union = a.length + b.length - inter;
  return union === 0 ? 1 : inter / union;
}

export interface MinHashOptions {
  shingle: number;
  bands: number;
  rows: number;
  threshold: number;
}

/**
 * Indices of the texts to keep. `dropped` pairs each removed index with the kept index it
 * duplicated, for reporting.
 */
export function nearDuplicates(texts: readonly string[], o: MinHashOptions): { keep: number[]; dropped: [number, number][] } {
  const nh = o.bands * o.rows;
  const seeds = Array.from({ length: nh }, (_, i) => mix32(0x1234567 + i * 0x9e3779b9));
  const sets = texts.map((t) => shingleSet(t, o.shingle));
  const buckets = new Map<string, number[]>();
  const keep: number[] = [];
  const dropped: [number, number][] = [];
  const sig = new Uint32Array(nh);
  for (let d = 0; d < texts.length; d++) {
    const s = sets[d];
    sig.fill(0xffffffff);
    for (let i = 0; i < s.length; i++) {
      const x = s[i];
      for (let h = 0; h < nh; h++) {
        const v = mix32(x ^ seeds[h]);
        if (v < sig[h]) sig[h] = v;
      }
    }
    const keys: string[] = [];
    let dupOf = -1;
    for (let b = 0; b < o.bands && dupOf < 0; b++) {
      const key = `${b}:${Array.from(sig.subarray(b * o.rows, (b + 1) * o.rows)).join(",")}`;
      keys.push(key);
      for (const other of buckets.get(key) ?? []) {
        if (jaccard(s, sets[other]) >= o.threshold) {
          dupOf = other;
          break;
        }
      }
    }
    if (dupOf >= 0) {
      dropped.push([d, dupOf]);
      continue;
    }
    // Register all bands of a kept document (the loop above may have stopped early only on a dup).
    for (let b = keys.length; b < o.bands; b++) keys.push(`${b}:${Array.from(sig.subarray(b * o.rows, (b + 1) * o.rows)).join(",")}`);
    for (const key of keys) {
      const list = buckets.get(key);
      if (list) list.push(d);
      else buckets.set(key, [d]);
    }
    keep.push(d);
  }
  return { keep, dropped };
}
