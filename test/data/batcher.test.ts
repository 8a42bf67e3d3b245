import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import {
  clearTokenStreamCache,
  corpusBatcher,
  evalBatches,
  inputsAndTargets,
  joinWithEos,
  TokenBatcher,
  tokenStreams,
  windowCount,
  windowOrder,
  type Batch,
  type CorpusLike,
  type TokenStreams,
} from "../../lib/data/batcher";
import { trainByteLevelBpe } from "../../lib/data/bpe-train";
import { defaultCorpusDir, loadCorpus } from "../../lib/data/corpus";
import { loadTokenizer, tokenizerFromJson, type Tokenizer } from "../../lib/data/tokenizer";

/** Streams whose token at position i is offset + i, so a row tells exactly where it came from. */
function positional(lengths: Record<string, number>): TokenStreams {
  const out: TokenStreams = {};
  Object.entries(lengths).forEach(([d, n], k) => {
    const s = new Int32Array(n);
    for (let i = 0; i < n; i++) s[i] = (k + 1) * 1_000_000 + i;
    out[d] = s;
  });
  return out;
}

const rows = (b: Batch) => Array.from({ length: b.batchSize }, (_, r) => Array.from(b.ids.subarray(r * (b.seqLen + 1), (r + 1) * (b.seqLen + 1))));

test("windowCount: windows of T+1 tokens with stride T", () => {
  // n = W·T + 1 tokens hold exactly W windows (window k = tokens k·T … k·T+T).
  assert.equal(windowCount(4 * 8 + 1, 8), 4);
  assert.equal(windowCount(4 * 8, 8), 3);
  assert.equal(windowCount(8, 8), 0);
  assert.equal(windowCount(9, 8), 1);
});

test("batches have shape [B, T+1] and each row is a contiguous window", () => {
  const streams = positional({ a: 10 * 16 + 1 });
  const b = new TokenBatcher(streams, { batchSize: 3, seqLen: 16, seed: 1, mix: "a" }).next();
  assert.equal(b.ids.length, 3 * 17);
  assert.equal(b.batchSize, 3);
  assert.equal(b.seqLen, 16);
  rows(b).forEach((row, r) => {
    const k = b.windows[r];
    assert.deepEqual(row, Array.from({ length: 17 }, (_, i) => 1_000_000 + k * 16 + i));
  });
  const { inputs, targets } = inputsAndTargets(b);
  assert.equal(inputs.length, 3 * 16);
  for (let r = 0; r < 3; r++) for (let t = 0; t < 16; t++) assert.equal(targets[r * 16 + t], inputs[r * 16 + t] + 1);
});

test("same seed ⇒ same batches; different seed ⇒ different batches", () => {
  const streams = positional({ a: 5000, b: 7000 });
  const take = (seed: number) => new TokenBatcher(streams, { batchSize: 4, seqLen: 32, seed, mix: { a: 1, b: 2 } }).take(6);
  const x = take(7);
  assert.deepEqual(take(7), x);
  const y = take(8);
  assert.notDeepEqual(y.map((b) => Array.from(b.ids)), x.map((b) => Array.from(b.ids)));
  // The literal's key order does not matter.
  const z = new TokenBatcher(streams, { batchSize: 4, seqLen: 32, seed: 7, mix: { b: 2, a: 1 } }).take(6);
  assert.deepEqual(z, x);
});

test("one epoch visits every window exactly once; the next epoch reshuffles", () => {
  const W = 24;
  const T = 8;
  const streams = positional({ a: W * T + 1 });
  const batcher = new TokenBatcher(streams, { batchSize: 4, seqLen: T, seed: 3, mix: "a" });
  const epoch = (n: number) => batcher.take(n).flatMap((b) => b.windows);
  const first = epoch(W / 4);
  assert.deepEqual([...first].sort((p, q) => p - q), Array.from({ length: W }, (_, i) => i));
  // Every token after the first is a target exactly once (the stride-T windows tile the stream).
  const targetHits = new Map<number, number>();
  for (const k of first) for (let i = 1; i <= T; i++) targetHits.set(k * T + i, (targetHits.get(k * T + i) ?? 0) + 1);
  assert.equal(targetHits.size, W * T);
  assert.ok([...targetHits.values()].every((c) => c === 1));
  const second = epoch(W / 4);
  assert.deepEqual([...second].sort((p, q) => p - q), first.slice().sort((p, q) => p - q));
  assert.notDeepEqual(second, first);
  assert.notDeepEqual(first, Array.from({ length: W }, (_, i) => i)); // shuffled, not in stream order
});

test("a weighted mix draws row domains with the given frequencies", () => {
  const streams = positional({ math: 20_000, public: 20_000, code: 20_000 });
  const batcher = new TokenBatcher(streams, { batchSize: 50, seqLen: 4, seed: 11, mix: { math: 1, public: 3, code: 0 } });
  const counts: Record<string, number> = { math: 0, public: 0, code: 0 };
  for (const b of batcher.take(80)) for (const d of b.domains) counts[d]++;
  const n = 80 * 50;
  // Binomial sd of a frequency near 0.25 over 4000 rows is √(0.25·0.75/4000) ≈ 0.0068; allow 4 sd.
  assert.ok(Math.abs(counts.math / n - 0.25) < 0.028, `math ${counts.math / n}`);
  assert.ok(Math.abs(counts.public / n - 0.75) < 0.028, `public ${counts.public / n}`);
  assert.equal(counts.code, 0); // weight 0 ⇒ never drawn
  // Row contents come from the drawn domain's stream.
  const b = batcher.next();
  b.domains.forEach((d, r) => assert.equal(Math.floor(rows(b)[r][0] / 1_000_000), d === "math" ? 1 : 2));
});

test("adding a domain to the mix does not change another domain's window order", () => {
  const streams = positional({ a: 3000, b: 3000 });
  const alone = new TokenBatcher(streams, { batchSize: 8, seqLen: 16, seed: 5, mix: "a" }).take(10).flatMap((b) => b.windows);
  const mixed = new TokenBatcher(streams, { batchSize: 8, seqLen: 16, seed: 5, mix: { a: 1, b: 1 } })
    .take(20)
    .flatMap((b) => b.windows.filter((_, r) => b.domains[r] === "a"));
  const n = Math.min(alone.length, mixed.length);
  assert.ok(n > 40);
  assert.deepEqual(mixed.slice(0, n), alone.slice(0, n));
  assert.deepEqual(windowOrder(10, 5, "a", 0), windowOrder(10, 5, "a", 0));
});

test("state() / restore() resumes exactly", () => {
  const streams = positional({ a: 150, b: 200 }); // 9 and 12 windows of T = 16
  const opts = { batchSize: 5, seqLen: 16, seed: 9, mix: { a: 1, b: 1 } };
  const one = new TokenBatcher(streams, opts);
  one.take(7); // 35 rows: both domains are past their first epoch
  assert.ok(one.state().cursors.a.epoch >= 1 && one.state().cursors.b.epoch >= 1);
  const saved = JSON.parse(JSON.stringify(one.state()));
  const expected = one.take(12);
  const two = new TokenBatcher(streams, opts);
  two.restore(saved);
  assert.deepEqual(two.take(12), expected);
  assert.throws(() => new TokenBatcher(streams, { ...opts, seed: 10 }).restore(saved), /saved with seed 9/);
});

test("evalBatches: every window once, in order, domain by domain; maxWindows spreads evenly", () => {
  const T = 10;
  const streams = positional({ x: 7 * T + 1, y: 3 * T + 5 });
  const batches = [...evalBatches(streams, { batchSize: 3, seqLen: T })];
  assert.deepEqual(batches.map((b) => [b.domains[0], b.batchSize, b.windows]), [
    ["x", 3, [0, 1, 2]],
    ["x", 3, [3, 4, 5]],
    ["x", 1, [6]],
    ["y", 3, [0, 1, 2]],
  ]);
  for (const b of batches) rows(b).forEach((row, r) => assert.equal(row[0] % 1_000_000, b.windows[r] * T));
  // Capped: 4 of 7 windows, evenly spaced ⌊i·7/4⌋ = 0, 1, 3, 5.
  const capped = [...evalBatches(streams, { batchSize: 8, seqLen: T, domains: ["x"], maxWindows: 4 })];
  assert.deepEqual(capped.map((b) => b.windows), [[0, 1, 3, 5]]);
});

test("bad input gives clear errors", () => {
  const streams = positional({ a: 100, b: 5 });
  const mk = (o: Partial<ConstructorParameters<typeof TokenBatcher>[1]>) => () =>
    new TokenBatcher(streams, { batchSize: 2, seqLen: 8, seed: 0, mix: "a", ...o });
  assert.throws(mk({ mix: "nope" }), /unknown domain "nope"/);
  assert.throws(mk({ mix: { a: 1, typo: 0 } }), /unknown domain "typo"/);
  assert.throws(mk({ mix: {} }), /empty mix/);
  assert.throws(mk({ mix: { a: 0 } }), /all mix weights are zero/);
  assert.throws(mk({ mix: { a: -1 } }), /weight of "a" must be a finite number ≥ 0/);
  assert.throws(mk({ mix: "b" }), /"b" has 5 tokens, fewer than one window of seqLen \+ 1 = 9/);
  assert.throws(mk({ batchSize: 0 }), /batchSize \(B\) must be a positive integer/);
  assert.throws(mk({ seqLen: 2.5 }), /seqLen \(T\) must be a positive integer/);
  assert.throws(() => [...evalBatches(streams, { batchSize: 2, seqLen: 8, domains: ["a", "zz"] })], /unknown domain "zz"/);
});

test("tokenStreams joins documents with EOS and caches in memory and on disk", async () => {
  const tok = tokenizerFromJson(trainByteLevelBpe(["the cat sat on the mat. the dog sat on the log."], { vocabSize: 300 }));
  let encodeCalls = 0;
  const counting: Tokenizer = { ...tok, encode: (t) => tok.encode(t), decode: (i) => tok.decode(i), tokenString: (i) => tok.tokenString(i), tokenId: (s) => tok.tokenId(s), encodeBatch: async (texts) => (encodeCalls++, tok.encodeBatch(texts)) };
  const docs = [
    { domain: "pets", split: "train", text: "the cat sat" },
    { domain: "pets", split: "train", text: "the dog sat" },
    { domain: "home", split: "train", text: "on the mat" },
    { domain: "pets", split: "valid", text: "a log" },
  ];
  const corpus: CorpusLike = { documents: (q = {}) => docs.filter((d) => (q.split === undefined || d.split === q.split) && (q.domain === undefined || d.domain === q.domain)) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-batcher-"));
  try {
    clearTokenStreamCache();
    const s1 = await tokenStreams(corpus, counting, { split: "train", cache: "disk", cacheDir: dir });
    assert.deepEqual(Object.keys(s1), ["home", "pets"]);
    const expectedPets = [...tok.encode("the cat sat"), tok.eosId, ...tok.encode("the dog sat"), tok.eosId];
    assert.deepEqual(Array.from(s1.pets), expectedPets);
    assert.deepEqual(s1.pets, joinWithEos([tok.encode("the cat sat"), tok.encode("the dog sat")], tok.eosId));
    assert.equal(encodeCalls, 2);
    assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith(".i32")).length, 2);
    // Memory hit.
    await tokenStreams(corpus, counting, { split: "train", cache: "disk", cacheDir: dir });
    assert.equal(encodeCalls, 2);
    // Disk hit after the memory cache is gone.
    clearTokenStreamCache();
    const s3 = await tokenStreams(corpus, counting, { split: "train", cache: "disk", cacheDir: dir });
    assert.equal(encodeCalls, 2);
    assert.deepEqual(s3, s1);
    // A changed document changes the key: encoded again.
    docs[0].text = "the cat sat down";
    await tokenStreams(corpus, counting, { split: "train", domains: ["pets"], cache: "memory" });
    assert.equal(encodeCalls, 3);
    await assert.rejects(tokenStreams(corpus, counting, { split: "valid", domains: ["home"] }), /no documents for domain "home" in split "valid"/);
    // Corpus + tokenizer straight to a batcher.
    const batcher = await corpusBatcher(corpus, tok, { split: "train", mix: "pets", batchSize: 2, seqLen: 3, seed: 1 });
    assert.equal(batcher.next().ids.length, 2 * 4);
    await assert.rejects(corpusBatcher(corpus, tok, { split: "train", mix: {}, batchSize: 2, seqLen: 3, seed: 1 }), /empty mix/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    clearTokenStreamCache();
  }
});

test("FlexMix-mini end to end: streams decode back to the documents; a mix batches them", async (t) => {
  if (!fs.existsSync(path.join(defaultCorpusDir(), "manifest.json"))) {
    t.skip("FlexMix-mini is not built (npm run data:build)");
    return;
  }
  const corpus = await loadCorpus();
  const tok = await loadTokenizer();
  const streams = await tokenStreams(corpus, tok, { split: "valid", domains: ["math", "creative"], cache: "none" });
  for (const d of ["math", "creative"]) {
    const texts = corpus.documents({ domain: d, split: "valid" }).map((r) => r.text);
    // Exact: the stream is the documents in corpus order, each followed by EOS.
    assert.equal(tok.decode(streams[d]), texts.map((x) => x + "<|endoftext|>").join(""));
  }
  const batcher = new TokenBatcher(streams, { batchSize: 8, seqLen: 64, seed: 0, mix: { math: 1, creative: 1 } });
  const b = batcher.next();
  assert.equal(b.ids.length, 8 * 65);
  assert.ok(b.ids.every((id) => id >= 0 && id < tok.vocabSize));
  b.domains.forEach((d, r) => assert.deepEqual(Array.from(b.ids.subarray(r * 65, (r + 1) * 65)), Array.from(streams[d].subarray(b.windows[r] * 64, b.windows[r] * 64 + 65))));
});
