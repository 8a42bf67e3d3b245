/**
 * Router aggregations: pure functions from router telemetry (plain typed arrays) to the numbers the
 * inspection views plot. No tensors here, so every function is checked on hand-made inputs
 * (test/inspect/aggregate.test.ts).
 *
 * Vocabulary (the paper's and OLMoE's):
 *   - a token's top-k *slots*: the k experts it is sent to (`topkIdx`, best first);
 *   - an expert's *token fraction*: the fraction of tokens that have it among their k slots. Summed
 *     over experts it is k; under uniform routing each of the E included experts gets k/E
 *     (OLMoE's and FlexOlmo Fig. 2's grey line);
 *   - an expert's *slot share*: token fraction / k, which sums to 1 (the pie view).
 */

/** The part of one layer's telemetry the aggregations read (lib/model/model.ts LayerTelemetry). */
export interface LayerRouting {
  /** [n*k] expert indices (original numbering), best first. */
  topkIdx: Int32Array | readonly number[];
  /** [n*e] router probabilities (0 for excluded experts). Needed only by probability aggregations. */
  probs?: Float32Array | readonly number[];
}

function checkShape(what: string, layer: LayerRouting, n: number, e: number, k: number): void {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(e) || e < 1 || !Number.isInteger(k) || k < 1 || k > e) {
    throw new Error(`${what}: need integers n ≥ 0, e ≥ 1 and 1 ≤ k ≤ e (got n=${n}, e=${e}, k=${k}).`);
  }
  if (layer.topkIdx.length !== n * k) throw new Error(`${what}: topkIdx has ${layer.topkIdx.length} entries; expected n·k = ${n}·${k} = ${n * k}.`);
  for (let i = 0; i < layer.topkIdx.length; i++) {
    const j = layer.topkIdx[i];
    if (!Number.isInteger(j) || j < 0 || j >= e) throw new Error(`${what}: topkIdx[${i}] = ${j} is not an expert index in 0 … ${e - 1}.`);
  }
}

/** Per expert: how many of the n tokens have it among their k slots. */
export function selectionCounts(layer: LayerRouting, n: number, e: number, k: number): number[] {
  checkShape("selectionCounts", layer, n, e, k);
  const c = new Array<number>(e).fill(0);
  for (let i = 0; i < n * k; i++) c[layer.topkIdx[i]]++;
  return c;
}

/** Per expert: fraction of tokens routed to it (sums to k; uniform routing gives k/E). */
export function tokenFractions(layer: LayerRouting, n: number, e: number, k: number): number[] {
  const c = selectionCounts(layer, n, e, k);
  return c.map((x) => (n === 0 ? 0 : x / n));
}

/** Per expert: share of the n·k top-k slots (sums to 1; uniform routing gives 1/E). */
export function slotShares(layer: LayerRouting, n: number, e: number, k: number): number[] {
  return tokenFractions(layer, n, e, k).map((f) => f / k);
}

/** The uniform reference line for token fractions: each of `included` experts gets k / included. */
export function uniformFraction(k: number, included: number): number {
  if (!(Number.isInteger(k) && Number.isInteger(included) && k >= 1 && included >= k)) {
    throw new Error(`uniformFraction: need 1 ≤ k ≤ included experts (got k=${k}, included=${included}).`);
  }
  return k / included;
}

/** Per expert: how many tokens have it as their top-1 (highest-weight) expert. Sums to n. */
export function top1Counts(layer: LayerRouting, n: number, e: number, k: number): number[] {
  checkShape("top1Counts", layer, n, e, k);
  const c = new Array<number>(e).fill(0);
  for (let t = 0; t < n; t++) c[layer.topkIdx[t * k]]++;
  return c;
}

/** Per expert: fraction of tokens whose top-1 expert it is. Sums to 1. */
export function top1Fractions(layer: LayerRouting, n: number, e: number, k: number): number[] {
  return top1Counts(layer, n, e, k).map((x) => (n === 0 ? 0 : x / n));
}

/** Per expert: mean router probability over the n tokens (the soft view; informative when k = E). */
export function meanProbabilities(layer: LayerRouting, n: number, e: number): number[] {
  if (!layer.probs) throw new Error("meanProbabilities: this telemetry has no probs.");
  if (layer.probs.length !== n * e) throw new Error(`meanProbabilities: probs has ${layer.probs.length} entries; expected n·e = ${n * e}.`);
  const m = new Array<number>(e).fill(0);
  for (let t = 0; t < n; t++) for (let j = 0; j < e; j++) m[j] += layer.probs[t * e + j];
  return m.map((x) => (n === 0 ? 0 : x / n));
}

// ---------------------------------------------------------------------------------------------
// Co-activation (OLMoE run_moe_analysis.py, "do_correlation_analysis")

/**
 * C[i][j] for i ≠ j: tokens that send a slot to both i and j; C[i][i]: tokens that send a slot to i.
 * Symmetric. With k = 1 every off-diagonal entry is 0 (no token uses two experts).
 */
export function coactivationCounts(layer: LayerRouting, n: number, e: number, k: number): number[][] {
  checkShape("coactivationCounts", layer, n, e, k);
  const c = Array.from({ length: e }, () => new Array<number>(e).fill(0));
  for (let t = 0; t < n; t++) {
    for (let a = 0; a < k; a++) {
      const i = layer.topkIdx[t * k + a];
      c[i][i]++;
      for (let b = a + 1; b < k; b++) {
        const j = layer.topkIdx[t * k + b];
        if (i === j) throw new Error(`coactivationCounts: token ${t} lists expert ${i} twice among its top-k.`);
        c[i][j]++;
        c[j][i]++;
      }
    }
  }
  return c;
}

/**
 * P(j selected | i selected) = C[i][j] / C[i][i], row i = the conditioning expert. Diagonal and rows
 * of experts never selected are null (undefined, not 0).
 */
export function conditionalCoactivation(counts: readonly (readonly number[])[]): (number | null)[][] {
  return counts.map((row, i) => row.map((c, j) => (i === j || row[i] === 0 ? null : c / row[i])));
}

// ---------------------------------------------------------------------------------------------
// Vocabulary specialisation (OLMoE "do_token_analysis")

export interface TokenExpertCounts {
  /** token id → occurrences. */
  total: Map<number, number>;
  /** token id → per expert, how often that expert was the token's top-1. */
  top1: Map<number, number[]>;
}

/** Accumulate, for one layer, how often each token id goes (top-1) to each expert. */
export function accumulateVocab(acc: TokenExpertCounts, ids: ArrayLike<number>, layer: LayerRouting, e: number, k: number): TokenExpertCounts {
  const n = ids.length;
  checkShape("accumulateVocab", layer, n, e, k);
  for (let t = 0; t < n; t++) {
    const id = ids[t];
    acc.total.set(id, (acc.total.get(id) ?? 0) + 1);
    let row = acc.top1.get(id);
    if (!row) acc.top1.set(id, (row = new Array<number>(e).fill(0)));
    row[layer.topkIdx[t * k]]++;
  }
  return acc;
}

export function emptyVocabCounts(): TokenExpertCounts {
  return { total: new Map(), top1: new Map() };
}

export interface SpecialisedToken {
  id: number;
  /** Occurrences in the sample. */
  count: number;
  /** Fraction of those occurrences whose top-1 expert is this one. */
  fraction: number;
}

/**
 * Per expert, the `top` token ids routed to it most consistently: highest fraction first, then the
 * more frequent, then the lower id (a total order, so the list is deterministic). Tokens seen fewer
 * than `minCount` times are skipped: a token seen once is "100 % specialised" by accident.
 */
export function specialisedTokens(acc: TokenExpertCounts, e: number, top: number, minCount: number): SpecialisedToken[][] {
  const out: SpecialisedToken[][] = [];
  for (let j = 0; j < e; j++) {
    const list: SpecialisedToken[] = [];
    for (const [id, count] of acc.total) {
      if (count < minCount) continue;
      const hits = acc.top1.get(id)![j];
      if (hits > 0) list.push({ id, count, fraction: hits / count });
    }
    list.sort((a, b) => b.fraction - a.fraction || b.count - a.count || a.id - b.id);
    out.push(list.slice(0, top));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Router-row geometry (mergekit warn_degenerate_gates)

/** Cosine similarity of every pair of rows. A zero row has cosine null with everything. */
export function cosineMatrix(rows: readonly (ArrayLike<number>)[]): (number | null)[][] {
  const norms = rows.map((r) => Math.sqrt(dot(r, r)));
  return rows.map((a, i) => rows.map((b, j) => (norms[i] === 0 || norms[j] === 0 ? null : dot(a, b) / (norms[i] * norms[j]))));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Router rows have different lengths (${a.length} and ${b.length}).`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Eigenvalues of a small symmetric matrix, descending (cyclic Jacobi rotations, float64). Router
 * matrices have E ≤ ~10 rows, so the E×E Gram matrix is tiny and Jacobi converges in a few sweeps.
 */
export function symmetricEigenvalues(m: readonly (readonly number[])[]): number[] {
  const n = m.length;
  const a = m.map((r, i) => {
    if (r.length !== n) throw new Error(`symmetricEigenvalues: row ${i} has ${r.length} entries; the matrix must be ${n}×${n}.`);
    return [...r];
  });
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (a[p][q] === 0) continue;
        // Rotation that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.4.1).
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let r = 0; r < n; r++) {
          const arp = a[r][p], arq = a[r][q];
          a[r][p] = c * arp - s * arq;
          a[r][q] = s * arp + c * arq;
        }
        for (let r = 0; r < n; r++) {
          const apr = a[p][r], aqr = a[q][r];
          a[p][r] = c * apr - s * aqr;
          a[q][r] = s * apr + c * aqr;
        }
      }
    }
  }
  return a.map((r, i) => r[i]).sort((x, y) => y - x);
}

/**
 * Singular values of the E×C matrix whose rows are `rows`, descending: square roots of the
 * eigenvalues of the Gram matrix W Wᵀ. (Forming the Gram matrix squares the condition number; in
 * float64 that stays accurate up to cond ≈ 1e7, far past any threshold we warn at.)
 */
export function singularValues(rows: readonly (ArrayLike<number>)[]): number[] {
  const gram = rows.map((a) => rows.map((b) => dot(a, b)));
  return symmetricEigenvalues(gram).map((l) => Math.sqrt(Math.max(0, l)));
}

/** σ_max / σ_min (Infinity when the rows are linearly dependent, as torch.linalg.cond). */
export function conditionNumber(rows: readonly (ArrayLike<number>)[]): number {
  const s = singularValues(rows);
  const lo = s[s.length - 1], hi = s[0];
  return lo <= hi * 1e-12 ? Infinity : hi / lo;
}

/** The rows scaled to unit length (mergekit normalises its gate vectors before the check). Zero rows stay zero. */
export function normaliseRows(rows: readonly (ArrayLike<number>)[]): number[][] {
  return rows.map((r) => {
    const n = Math.sqrt(dot(r, r));
    return Array.from(r, (x) => (n === 0 ? 0 : x / n));
  });
}

/** mergekit's default threshold for the condition number of unit-norm gate vectors (warn_degenerate_gates). */
export const DEGENERATE_CONDITION = 5;

// ---------------------------------------------------------------------------------------------
// Text similarity (the privacy notebook's extraction test, docs/method.md §9)

/** Levenshtein edit distance over Unicode code points (insert, delete, substitute: cost 1 each). */
export function levenshtein(a: string, b: string): number {
  const x = Array.from(a), y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[y.length];
}

/** 1 − distance / max(length): 1 for identical strings, 0 for nothing in common (both empty: 1). */
export function normalisedSimilarity(a: string, b: string): number {
  const m = Math.max(Array.from(a).length, Array.from(b).length);
  return m === 0 ? 1 : 1 - levenshtein(a, b) / m;
}
