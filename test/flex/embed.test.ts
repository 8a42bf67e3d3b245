import { test } from "node:test";
import assert from "node:assert/strict";
import { cosine, embedText, fitIdf, meanEmbedding, ngramCounts, randomEmbedding, featureHash } from "../../lib/flex/embed";

const math = [
  "Problem 1. Solve 3x + 2 = 11. Solution. Subtract 2 from both sides: 3x = 9, so x = 3.",
  "Problem 2. Compute 12 * 7. Solution. 12 * 7 = 84.",
  "Problem 3. Solve 5x - 4 = 16. Solution. Add 4: 5x = 20, so x = 4.",
];
const code = [
  "def add(a, b):\n    return a + b\n",
  "function identity(value) {\n  return value;\n}\n",
  "for i in range(10):\n    print(i)\n",
];
const publicDocs = ["In the beginning was the word.", "The president spoke to the nation.", ...math.slice(0, 1), ...code.slice(0, 1)];

test("featureHash is FNV-1a + fmix32: fixed values (computed by hand from the definition)", () => {
  // FNV-1a of "" is the offset basis 0x811c9dc5; fmix32(0x811c9dc5) computed step by step below.
  let h = 0x811c9dc5;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  assert.equal(featureHash(""), h >>> 0);
  assert.notEqual(featureHash("ab"), featureHash("ba"));
});

test("n-gram counts: 'a b a' has word unigram 'a' twice", () => {
  const c = ngramCounts("a b a", { buckets: 1 << 20, projectionSeed: 1, charNgrams: [], wordNgrams: [1] });
  const counts = [...c.values()].sort();
  assert.deepEqual(counts, [1, 2]);
});

test("embeddings are unit vectors, deterministic, and independent of call order", () => {
  const idf = fitIdf(publicDocs);
  const a = embedText(math[0], 64, idf);
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-12);
  embedText(code[0], 64, idf);
  assert.deepEqual(embedText(math[0], 64, idf), a);
});

test("domain means: same-domain documents are closer than cross-domain ones", () => {
  const idf = fitIdf(publicDocs);
  const d = 128;
  const mathMean = meanEmbedding(math.slice(0, 2), d, idf);
  const codeMean = meanEmbedding(code.slice(0, 2), d, idf);
  const heldMath = embedText(math[2], d, idf);
  const heldCode = embedText(code[2], d, idf);
  assert.ok(cosine(heldMath, mathMean) > cosine(heldMath, codeMean));
  assert.ok(cosine(heldCode, codeMean) > cosine(heldCode, mathMean));
  // A mean of unit vectors has norm ≤ 1 (triangle inequality), < 1 unless all are identical.
  const n = Math.sqrt(mathMean.reduce((s, x) => s + x * x, 0));
  assert.ok(n < 1 && n > 0);
});

test("zero documents is a clear error", () => {
  assert.throws(() => meanEmbedding([], 8, fitIdf(["x"])), /at least one document/);
});

test("random init follows the spec's truncated normal: std 0.002 within [-0.006, 0]", () => {
  const v = randomEmbedding(4096, 7);
  let s = 0, s2 = 0;
  for (const x of v) { assert.ok(x <= 0 && x >= -0.006); s += x; s2 += x * x; }
  // A normal(0, σ) truncated to [−3σ, 0] has mean σ·(φ(−3) − φ(0)) / (Φ(0) − Φ(−3))
  // = σ·(0.004432 − 0.398942) / (0.5 − 0.001350) ≈ −0.7912σ. Standard error here ≈ 0.6σ/√4096 ≈ 0.009σ.
  const mean = s / v.length;
  assert.ok(Math.abs(mean - -0.7912 * 0.002) < 0.05 * 0.002, `mean ${mean}`);
  assert.deepEqual(randomEmbedding(16, 7), randomEmbedding(16, 7));
});
