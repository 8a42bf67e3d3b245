import { test } from "node:test";
import assert from "node:assert/strict";

import * as fs from "node:fs";
import * as path from "node:path";

import { DomainClassifier, featureBuckets, snippet, trainDomainClassifier, wordTokens } from "../../lib/data/classifier";
import { defaultCorpusDir, loadCorpus } from "../../lib/data/corpus";

// ---------------------------------------------------------------------------------------------
// A synthetic fixture with known difficulty
// ---------------------------------------------------------------------------------------------

const SHARED = (
  "the of and to in is that it was for on are with as be at by this from or have an but not what all were when " +
  "we there can which their if will each about how up out them then she many some so these would other into has " +
  "more her two like him see time could no make than first been its who now people my made over did down only way"
).split(" ");
const POOLS: Record<string, string[]> = {
  cooking: "flour butter oven simmer garlic onion whisk saucepan roast pepper salt bake dough knead sugar stir chop boil fry recipe".split(" "),
  sailing: "hull mast keel sail tack jib starboard port anchor mooring knot harbour rudder bow stern mainsail wind gust reef dinghy".split(" "),
  finance: "equity bond yield interest dividend portfolio asset liability market stock credit loan hedge fund capital inflation rate bank debt".split(" "),
  astronomy: "orbit planet telescope galaxy comet nebula star lunar solar eclipse asteroid meteor redshift quasar pulsar cosmic moon light parsec".split(" "),
};

/**
 * Documents whose words are 25 % from their domain's pool (of which 1 in 10 is borrowed from another
 * domain, as noise) and 75 % shared function words. A 256-character snippet has ~45 words, so the
 * chance that it holds no own-domain word is 0.775^45 ≈ 1e-5, and own words outnumber borrowed ones
 * about 9:1. A working naive Bayes should therefore be right on essentially every snippet; the floor
 * of 97 % below leaves room only for hash collisions and unlucky draws.
 */
function fixture(perDomain: number, seed: number): { domain: string; text: string }[] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const names = Object.keys(POOLS);
  const docs: { domain: string; text: string }[] = [];
  for (const d of names) {
    for (let i = 0; i < perDomain; i++) {
      const words: string[] = [];
      let chars = 0;
      while (chars < 1500) {
        const r = rand();
        if (r < 0.225) words.push(pick(POOLS[d]));
        else if (r < 0.25) words.push(pick(POOLS[pick(names.filter((n) => n !== d))]));
        else words.push(pick(SHARED));
        if (rand() < 0.08) words[words.length - 1] += pick([".", ",", ";"]);
        chars += words[words.length - 1].length + 1;
      }
      docs.push({ domain: d, text: words.join(" ") });
    }
  }
  return docs;
}

test("features: lowercased words and punctuation, plus bigrams", () => {
  assert.deepEqual(wordTokens("Hello, World! it's 42"), ["hello", ",", "world", "!", "it", "'", "s", "42"]);
  assert.equal(featureBuckets("a b c", 1 << 18, false).length, 3);
  assert.equal(featureBuckets("a b c", 1 << 18, true).length, 5); // 3 unigrams + 2 bigrams
  // Bigram order matters: "a b" and "b a" share unigrams but not the bigram.
  const ab = featureBuckets("a b", 1 << 18);
  const ba = featureBuckets("b a", 1 << 18);
  // Layout: unigram 0, unigram 1, bigram (0,1).
  const num = (x: number, y: number) => x - y;
  assert.deepEqual([ab[0], ab[1]].sort(num), [ba[0], ba[1]].sort(num));
  assert.notEqual(ab[2], ba[2]);
});

test("posterior matches the naive Bayes formula on a hand-worked case", () => {
  // A: "a a b" (counts a=2, b=1, total 3); B: "b c" (b=1, c=1, total 2). Unigrams, add-1, V buckets.
  // P(a|A) = (2+1)/(3+V), P(a|B) = (0+1)/(2+V); uniform prior ⇒ P(A|"a") = P(a|A) / (P(a|A) + P(a|B)).
  const V = 1 << 18;
  const b = featureBuckets("a b c", V, false);
  assert.equal(new Set(b).size, 3, "the three words must not collide for this hand computation");
  const clf = trainDomainClassifier(
    [
      { domain: "A", text: "a a b" },
      { domain: "B", text: "b c" },
    ],
    { buckets: V, alpha: 1, bigrams: false },
  );
  const pA = 3 / (3 + V);
  const pB = 1 / (2 + V);
  const r = clf.classify("a");
  assert.equal(r.domain, "A");
  assert.ok(Math.abs(r.scores.A - pA / (pA + pB)) < 1e-6, `${r.scores.A} vs ${pA / (pA + pB)}`);
  assert.ok(Math.abs(r.scores.A + r.scores.B - 1) < 1e-12);
  // "b c": P(b|A)=2/(3+V), P(c|A)=1/(3+V); P(b|B)=2/(2+V), P(c|B)=2/(2+V).
  const lA = Math.log(2 / (3 + V)) + Math.log(1 / (3 + V));
  const lB = Math.log(2 / (2 + V)) + Math.log(2 / (2 + V));
  const r2 = clf.classify("b c");
  assert.equal(r2.domain, "B");
  assert.ok(Math.abs(r2.logProbs.A - r2.logProbs.B - (lA - lB)) < 1e-5);
});

test("fixture: whole documents and 256-character snippets are classified above the floor", () => {
  const clf = trainDomainClassifier(fixture(30, 1));
  const held = fixture(20, 2); // different seed: unseen documents
  const whole = clf.evaluate(held);
  assert.equal(whole.accuracy, 1, JSON.stringify(whole.confusion));
  const s256 = clf.evaluate(held, { snippetChars: 256, seed: 0 });
  assert.ok(s256.accuracy >= 0.97, `256-char macro accuracy ${s256.accuracy}`);
  // Evaluation bookkeeping: per-domain counts and the confusion matrix agree.
  for (const d of clf.domains) {
    assert.equal(s256.perDomain[d].n, 20);
    assert.equal(Object.values(s256.confusion[d]).reduce((a, b) => a + b, 0), 20);
    assert.equal(s256.perDomain[d].correct, s256.confusion[d][d]);
  }
  // Same seed ⇒ same snippets ⇒ same result.
  assert.deepEqual(clf.evaluate(held, { snippetChars: 64, seed: 4 }), clf.evaluate(held, { snippetChars: 64, seed: 4 }));
});

test("snippets start at word boundaries and have the requested length", () => {
  const text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi";
  for (let i = 0; i < 20; i++) {
    const s = snippet(text, 20, 7, i);
    assert.equal(s.length, 20);
    const at = text.indexOf(s);
    assert.ok(at === 0 || text[at - 1] === " ", JSON.stringify(s));
  }
  assert.equal(snippet("short", 20, 0, 0), "short");
});

test("toJSON / fromJSON round-trips exactly", () => {
  const clf = trainDomainClassifier(fixture(5, 3), { buckets: 1 << 12 });
  const back = DomainClassifier.fromJSON(JSON.parse(JSON.stringify(clf.toJSON())));
  assert.deepEqual(back.domains, clf.domains);
  for (const doc of fixture(2, 4)) assert.deepEqual(back.classify(doc.text), clf.classify(doc.text));
  const j = clf.toJSON();
  assert.throws(() => DomainClassifier.fromJSON({ ...j, format: "other" }), /not a classifier saved by toJSON/);
  assert.throws(() => DomainClassifier.fromJSON({ ...j, counts: j.counts.slice(0, 100) }), /must hold the same number of 4-byte entries/);
});

test("any label set works, e.g. public as a class, and `domains` selects classes", () => {
  const docs = fixture(10, 5).map((d) => (d.domain === "finance" ? { ...d, domain: "public" } : d));
  const clf = trainDomainClassifier(docs, { domains: ["public", "sailing"] });
  assert.deepEqual(clf.domains, ["public", "sailing"]);
  assert.equal(clf.classify("the yield on the bond and the dividend of the fund").domain, "public");
  assert.equal(clf.classify("the mast and the keel of the dinghy").domain, "sailing");
});

test("rank puts the documents most like a domain first", () => {
  const clf = trainDomainClassifier(fixture(10, 8));
  const pool = fixture(5, 9); // 5 docs of each of the 4 domains, in domain order
  const top = clf.rank(pool.map((d) => d.text), "sailing").slice(0, 5);
  assert.deepEqual(top.map((r) => pool[r.index].domain), Array(5).fill("sailing"));
  assert.ok(top[0].logProb >= top[4].logProb);
  assert.throws(() => clf.rank(["x"], "knitting"), /"knitting" is not a class/);
});

test("bad input gives clear errors", () => {
  const docs = fixture(3, 6);
  assert.throws(() => trainDomainClassifier(docs.filter((d) => d.domain === "cooking")), /need at least 2 domains/);
  assert.throws(() => trainDomainClassifier(docs, { domains: ["cooking", "knitting"] }), /no training documents for \["knitting"\]/);
  assert.throws(() => trainDomainClassifier(docs, { alpha: 0 }), /alpha must be > 0/);
  assert.throws(() => trainDomainClassifier(docs, { buckets: 0 }), /buckets must be an integer/);
  const clf = trainDomainClassifier(docs);
  assert.throws(() => clf.evaluate([{ domain: "knitting", text: "purl" }]), /"knitting", which is not a class/);
  assert.throws(() => clf.evaluate(docs, { snippetChars: 0 }), /snippetChars must be a positive integer/);
  assert.throws(() => clf.evaluate([]), /no documents/);
});

test("FlexMix-mini: held-out accuracy above floors derived from the data study", async (t) => {
  if (!fs.existsSync(path.join(defaultCorpusDir(), "manifest.json"))) {
    t.skip("FlexMix-mini is not built (npm run data:build)");
    return;
  }
  const rows = (await loadCorpus()).documents().filter((r) => r.domain !== "public");
  const train = rows.filter((r) => r.split === "train");
  // The study's protocol: train on train, test on valid + test, 8 closed domains. The corpus also
  // holds a deliberately unseen math template family (family "heldout-…", a generalisation test);
  // the study had none, so it is left out here to compare like with like.
  const held = rows.filter((r) => r.split !== "train" && !r.family.startsWith("heldout"));
  const clf = trainDomainClassifier(train);
  // Floors = the study's numbers (99.5 / 96.8 / 90.5 %, flexmix-mini-data.md §4) minus a margin for
  // a different corpus build and for hashing (we measured 99.2 / 96.3 / 89.7 % with 2^20 buckets);
  // the sampling sd of a macro accuracy over ~2 800 documents is about 0.4–0.6 points.
  const whole = clf.evaluate(held);
  const s256 = clf.evaluate(held, { snippetChars: 256, seed: 0 });
  const s64 = clf.evaluate(held, { snippetChars: 64, seed: 0 });
  assert.ok(whole.accuracy >= 0.98, `whole-document macro accuracy ${whole.accuracy}`);
  assert.ok(s256.accuracy >= 0.94, `256-char macro accuracy ${s256.accuracy}`);
  assert.ok(s64.accuracy >= 0.86, `64-char macro accuracy ${s64.accuracy}`);
  // Math is the easy case (template text): every held-in-family worksheet is recognised.
  assert.ok(whole.perDomain.math.accuracy >= 0.99, `math ${whole.perDomain.math.accuracy}`);
});
