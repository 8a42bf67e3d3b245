/**
 * The routing aggregations on hand-made telemetry, every expected number worked out by hand in the
 * comments (no model involved).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  accumulateVocab,
  coactivationCounts,
  conditionalCoactivation,
  conditionNumber,
  cosineMatrix,
  emptyVocabCounts,
  levenshtein,
  meanProbabilities,
  normalisedSimilarity,
  normaliseRows,
  selectionCounts,
  singularValues,
  slotShares,
  specialisedTokens,
  symmetricEigenvalues,
  tokenFractions,
  top1Counts,
  uniformFraction,
} from "../../lib/inspect/aggregate";

// n = 4 tokens, E = 3 experts, k = 2. Token t's two experts, best first:
//   t0: 0, 1   t1: 0, 2   t2: 1, 0   t3: 2, 1
const LAYER = { topkIdx: [0, 1, 0, 2, 1, 0, 2, 1] };
const n = 4, e = 3, k = 2;

function close(a: number, b: number, tol = 1e-12): void {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}

test("selection counts, token fractions and slot shares (hand-counted)", () => {
  // expert 0 appears for t0, t1, t2; expert 1 for t0, t2, t3; expert 2 for t1, t3.
  assert.deepEqual(selectionCounts(LAYER, n, e, k), [3, 3, 2]);
  assert.deepEqual(tokenFractions(LAYER, n, e, k), [0.75, 0.75, 0.5]);
  assert.deepEqual(slotShares(LAYER, n, e, k), [0.375, 0.375, 0.25]);
  // Invariants: fractions sum to k, slot shares to 1.
  close(tokenFractions(LAYER, n, e, k).reduce((a, b) => a + b), k);
  close(slotShares(LAYER, n, e, k).reduce((a, b) => a + b), 1);
});

test("the uniform line is k/E over the experts in the view", () => {
  assert.equal(uniformFraction(2, 3), 2 / 3);
  assert.equal(uniformFraction(4, 8), 0.5); // the paper's 4 of 8
  assert.equal(uniformFraction(1, 1), 1);
  assert.throws(() => uniformFraction(3, 2), /1 ≤ k ≤ included/);
});

test("shares sum to 1 per layer on random telemetry of any shape", () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let trial = 0; trial < 20; trial++) {
    const E = 2 + Math.floor(rand() * 6), K = 1 + Math.floor(rand() * E), N = 1 + Math.floor(rand() * 50);
    const idx: number[] = [];
    for (let t = 0; t < N; t++) {
      const perm = Array.from({ length: E }, (_, i) => i).sort(() => rand() - 0.5);
      idx.push(...perm.slice(0, K));
    }
    close(slotShares({ topkIdx: idx }, N, E, K).reduce((a, b) => a + b), 1, 1e-9);
    close(tokenFractions({ topkIdx: idx }, N, E, K).reduce((a, b) => a + b), K, 1e-9);
  }
});

test("top-1 counts and mean probabilities", () => {
  assert.deepEqual(top1Counts(LAYER, n, e, k), [2, 1, 1]); // first choices: 0, 0, 1, 2
  // Two tokens, two experts: mean of (0.8, 0.4) and (0.2, 0.6).
  const m = meanProbabilities({ topkIdx: [0, 1], probs: [0.8, 0.2, 0.4, 0.6] }, 2, 2);
  close(m[0], 0.6);
  close(m[1], 0.4);
});

test("co-activation counts and conditional probabilities (hand-counted)", () => {
  // Pairs: t0 {0,1}, t1 {0,2}, t2 {1,0}, t3 {2,1} ⇒ C01 = 2, C02 = 1, C12 = 1; diagonal = selection counts.
  const c = coactivationCounts(LAYER, n, e, k);
  assert.deepEqual(c, [
    [3, 2, 1],
    [2, 3, 1],
    [1, 1, 2],
  ]);
  assert.deepEqual(conditionalCoactivation(c), [
    [null, 2 / 3, 1 / 3],
    [2 / 3, null, 1 / 3],
    [1 / 2, 1 / 2, null],
  ]);
  // Top-1 routing never co-activates anything.
  const k1 = coactivationCounts({ topkIdx: [0, 2, 2] }, 3, 3, 1);
  assert.deepEqual(k1, [
    [1, 0, 0],
    [0, 0, 0],
    [0, 0, 2],
  ]);
  assert.deepEqual(conditionalCoactivation(k1)[1], [null, null, null]); // expert 1 never chosen
});

test("bad telemetry is refused with the reason", () => {
  assert.throws(() => selectionCounts({ topkIdx: [0, 1, 2] }, 2, 3, 2), /expected n·k = 2·2 = 4/);
  assert.throws(() => selectionCounts({ topkIdx: [0, 5] }, 1, 3, 2), /topkIdx\[1\] = 5 is not an expert index in 0 … 2/);
  assert.throws(() => coactivationCounts({ topkIdx: [1, 1] }, 1, 3, 2), /lists expert 1 twice/);
  assert.throws(() => meanProbabilities({ topkIdx: [0] }, 1, 2), /no probs/);
});

test("vocabulary specialisation: top-1 fractions per token id, min count, deterministic order", () => {
  // ids [5, 5, 7, 5] with the LAYER above: top-1 experts 0, 0, 1, 2.
  // id 5: 3 occurrences → expert 0 twice, expert 2 once. id 7: once → expert 1.
  const acc = accumulateVocab(emptyVocabCounts(), [5, 5, 7, 5], LAYER, e, k);
  assert.deepEqual(acc.total.get(5), 3);
  assert.deepEqual(acc.top1.get(5), [2, 0, 1]);
  const lists = specialisedTokens(acc, e, 2, 1);
  assert.deepEqual(lists[0], [{ id: 5, count: 3, fraction: 2 / 3 }]);
  assert.deepEqual(lists[1], [{ id: 7, count: 1, fraction: 1 }]);
  assert.deepEqual(lists[2], [{ id: 5, count: 3, fraction: 1 / 3 }]);
  assert.deepEqual(specialisedTokens(acc, e, 2, 2)[1], []); // id 7 seen once: skipped
  // Ties break by count, then by the lower id.
  const tie = accumulateVocab(emptyVocabCounts(), [9, 3, 3], { topkIdx: [0, 0, 0] }, 1, 1);
  assert.deepEqual(specialisedTokens(tie, 1, 3, 1)[0].map((t) => t.id), [3, 9]);
});

test("symmetric eigenvalues (known spectra)", () => {
  const a = symmetricEigenvalues([
    [2, 1],
    [1, 2],
  ]);
  close(a[0], 3, 1e-12);
  close(a[1], 1, 1e-12);
  // The 3×3 second-difference matrix has eigenvalues 2 + √2, 2, 2 − √2.
  const b = symmetricEigenvalues([
    [2, -1, 0],
    [-1, 2, -1],
    [0, -1, 2],
  ]);
  close(b[0], 2 + Math.SQRT2, 1e-12);
  close(b[1], 2, 1e-12);
  close(b[2], 2 - Math.SQRT2, 1e-12);
});

test("condition number on hand-worked router matrices", () => {
  // Unit rows at cosine c: Gram [[1, c], [c, 1]] has eigenvalues 1 ± c, so cond = √((1+c)/(1−c)).
  // c = 0.6 ⇒ √(1.6 / 0.4) = 2.
  close(conditionNumber([[1, 0], [0.6, 0.8]]), 2, 1e-12);
  // Orthogonal rows: 1. A diagonal matrix: ratio of its extreme entries.
  close(conditionNumber([[1, 0, 0], [0, 1, 0]]), 1, 1e-12);
  close(conditionNumber([[3, 0, 0], [0, 2, 0], [0, 0, 1]]), 3, 1e-12);
  // Parallel rows: infinitely ill-conditioned (torch.linalg.cond gives inf too).
  assert.equal(conditionNumber([[1, 2], [2, 4]]), Infinity);
  // Singular values of rows (3, 4) and (0, 0)… are the norms for orthogonal rows.
  const s = singularValues([[3, 4, 0], [0, 0, 2]]);
  close(s[0], 5, 1e-12);
  close(s[1], 2, 1e-12);
  // mergekit normalises rows first: scaling a row changes the raw number, not the normalised one.
  const rows = [[1, 0], [6, 8]]; // cos 0.6, norms 1 and 10
  close(conditionNumber(normaliseRows(rows)), 2, 1e-12);
  assert.ok(conditionNumber(rows) > 10);
});

test("cosine matrix: 1 on the diagonal, null for zero rows", () => {
  const c = cosineMatrix([[1, 0], [0.6, 0.8], [0, 0]]);
  close(c[0][0] as number, 1);
  close(c[0][1] as number, 0.6);
  assert.equal(c[2][0], null);
});

test("Levenshtein distance and normalised similarity (classic cases)", () => {
  assert.equal(levenshtein("kitten", "sitting"), 3); // k→s, e→i, +g
  assert.equal(levenshtein("", "abc"), 3);
  assert.equal(levenshtein("flaw", "lawn"), 2);
  assert.equal(levenshtein("é🙂", "e🙂"), 1); // code points, not UTF-16 units
  close(normalisedSimilarity("kitten", "sitting"), 1 - 3 / 7);
  assert.equal(normalisedSimilarity("", ""), 1);
  assert.equal(normalisedSimilarity("abc", "abc"), 1);
  assert.equal(normalisedSimilarity("abc", "xyz"), 0);
});
