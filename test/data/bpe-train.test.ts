import { test } from "node:test";
import assert from "node:assert/strict";

import {
  byteToUnicode,
  countPreTokens,
  learnMerges,
  preTokenize,
  toByteLevel,
  trainByteLevelBpe,
} from "../../lib/data/bpe-train";

/** A small code-like corpus: functions with blank lines and 4/8-space indents, as in Python. */
function codeCorpus(n: number): string[] {
  const names = ["alpha", "beta", "gamma", "delta", "omega", "sigma"];
  const docs: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = names[i % names.length];
    const b = names[(i * 7 + 3) % names.length];
    docs.push(
      `import os\n\n\nclass ${a[0].toUpperCase()}${a.slice(1)}${i}:\n    """Doc ${i}."""\n\n    def ${b}(self, x):\n` +
        `        if x > ${i}:\n            return x + ${i}\n        return self.${a}(x)\n\n    def ${a}(self, y):\n        return y * 2\n`,
    );
  }
  return docs;
}

test("GPT-2 pre-tokenizer keeps whitespace runs together and leaves one space for the next word", () => {
  // Worked by hand from the regex: "\s+(?!\S)" takes "\n\n   " (it must stop one space before "def"),
  // then " ?\p{L}+" takes " def".
  assert.deepEqual(preTokenize("x\n\n    def f"), ["x", "\n\n   ", " def", " f"]);
  assert.deepEqual(preTokenize("I'll go 42 times!!"), ["I", "'ll", " go", " 42", " times", "!!"]);
  assert.equal(toByteLevel(" \n"), "ĠĊ"); // GPT-2's bytes_to_unicode: 0x20 → U+0120, 0x0A → U+010A
  assert.equal(new Set(byteToUnicode).size, 256);
});

test("hand-worked corpus gives the expected merges, including the tie-break", () => {
  // Pre-tokens of "hug hug hug pug pun bun": "hug" ×1, " hug" ×2, " pug", " pun", " bun" (×1 each).
  // Pair counts (Ġ = space): (u,g)=4, (h,u)=3, (Ġ,h)=(Ġ,p)=(p,u)=(u,n)=2, (Ġ,b)=(b,u)=1.
  //  1. (u,g) 4 → "ug".   Then (h,ug)=3, (Ġ,h)=(Ġ,p)=(u,n)=2, rest 1.
  //  2. (h,ug) 3 → "hug". Then (Ġ,hug)=(Ġ,p)=(u,n)=2, rest 1.
  //  3. three-way tie at 2: smallest left id wins (Ġ=0x20 < u=0x75), then smallest right id
  //     (p=0x70 < "hug", a merged token with id ≥ 256) → (Ġ,p).
  //  4. (Ġ,hug) vs (u,n), both 2: Ġ < u → "Ġhug".
  //  5. (u,n) 2 → "un". Every remaining pair occurs once < minFrequency 2: stop.
  const json = trainByteLevelBpe(["hug hug hug pug pun bun"], { vocabSize: 300 });
  assert.deepEqual(json.model.merges, [
    ["u", "g"],
    ["h", "ug"],
    ["Ġ", "p"],
    ["Ġ", "hug"],
    ["u", "n"],
  ]);
  // Ids: 2 specials, then 256 bytes in byte order, then merged tokens in creation order.
  assert.equal(json.model.vocab["<|endoftext|>"], 0);
  assert.equal(json.model.vocab["<|pad|>"], 1);
  assert.equal(json.model.vocab["a"], 2 + 0x61);
  assert.equal(json.model.vocab["ug"], 258);
  assert.equal(json.model.vocab["un"], 262);
  assert.equal(Object.keys(json.model.vocab).length, 263);
  // vocabSize caps the merges: 261 = 2 + 256 + 3.
  assert.deepEqual(trainByteLevelBpe(["hug hug hug pug pun bun"], { vocabSize: 261 }).model.merges.length, 3);
});

/**
 * Reference trainer, written for clarity only: recount every pair from scratch before each merge.
 * Same tie-break (count desc, then left id, then right id; byte ids = byte values, merged ids by
 * creation) and the same reuse of an id when two merges spell the same string.
 */
function naiveMerges(counts: Map<string, number>, maxNew: number, minFrequency: number): [string, string][] {
  const strs = byteToUnicode.slice();
  const idOf = new Map(strs.map((s, i) => [s, i]));
  const words = [...counts].map(([w, c]) => ({ ids: [...Buffer.from(w, "utf8")], c }));
  const merges: [string, string][] = [];
  let created = 0;
  while (created < maxNew) {
    const pc = new Map<string, number>();
    for (const { ids, c } of words) for (let i = 0; i + 1 < ids.length; i++) pc.set(`${ids[i]},${ids[i + 1]}`, (pc.get(`${ids[i]},${ids[i + 1]}`) ?? 0) + c);
    let best: [number, number, number] | null = null;
    for (const [k, c] of pc) {
      const [a, b] = k.split(",").map(Number);
      if (best === null || c > best[0] || (c === best[0] && (a < best[1] || (a === best[1] && b < best[2])))) best = [c, a, b];
    }
    if (best === null || best[0] < minFrequency) break;
    const [, a, b] = best;
    const s = strs[a] + strs[b];
    let z = idOf.get(s);
    if (z === undefined) {
      z = strs.length;
      strs.push(s);
      idOf.set(s, z);
      created++;
    }
    merges.push([strs[a], strs[b]]);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.ids.length; ) {
        if (i + 1 < w.ids.length && w.ids[i] === a && w.ids[i + 1] === b) {
          out.push(z);
          i += 2;
        } else out.push(w.ids[i++]);
      }
      w.ids = out;
    }
  }
  return merges;
}

test("incremental pair counting gives exactly the merges of a full recount", () => {
  // Random words over a 3-letter alphabet produce runs ("aaaa": overlapping pairs), the hard case
  // for incremental updates, and many ties. Seeded LCG so the corpus is fixed.
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const docs: string[] = [];
  for (let d = 0; d < 40; d++) {
    let t = "";
    for (let w = 0; w < 30; w++) {
      const len = 1 + Math.floor(rand() * 7);
      for (let k = 0; k < len; k++) t += "abc"[Math.floor(rand() * 3)];
      t += rand() < 0.2 ? "\n" : " ";
    }
    docs.push(t + "ünï ☃ " + codeCorpus(1)[0]);
  }
  const counts = countPreTokens(docs);
  const fast = learnMerges(counts, 400, 2);
  const slow = naiveMerges(counts, 400, 2);
  assert.deepEqual(fast.merges, slow);
  assert.ok(fast.merges.length > 150, `expected many merges, got ${fast.merges.length}`);
  assert.equal(fast.counts.length, fast.merges.length);
  // Counts never increase: each merge takes the most frequent pair left (a property of greedy BPE).
  for (let i = 1; i < fast.counts.length; i++) assert.ok(fast.counts[i] <= fast.counts[i - 1], `count rose at merge ${i}`);
});

test("whole-document training learns newline + indent merges; line-by-line training cannot", () => {
  const docs = codeCorpus(60);
  const json = trainByteLevelBpe(docs, { vocabSize: 400 });
  const tokens = Object.keys(json.model.vocab);
  assert.ok(tokens.includes("ĊĠĠĠ"), "newline + 3-space indent (the 4th space goes with the next word)");
  assert.ok(tokens.includes("ĊĠĠĠĠĠĠĠ"), "newline + 7-space indent");
  assert.ok(tokens.some((t) => t.startsWith("ĊĊ")), "a blank line (two newlines) as one token");
  const withNewline = json.model.merges.filter(([l, r]) => (l + r).includes("Ċ")).length;
  assert.ok(withNewline >= 4, `got ${withNewline} merges containing a newline`);

  // What the `tokenizers` package's trainer sees: every line separately, so no newline+X pair exists.
  const lines = docs.flatMap((d) => d.split("\n"));
  const lineJson = trainByteLevelBpe(lines, { vocabSize: 400 });
  assert.equal(lineJson.model.merges.filter(([l, r]) => (l + r).includes("Ċ")).length, 0);
});

test("training is deterministic: same input gives byte-identical JSON", () => {
  const docs = codeCorpus(30).concat(["Ça va? Über straße — 東京 🙂 " .repeat(5)]);
  const a = JSON.stringify(trainByteLevelBpe(docs, { vocabSize: 350 }));
  const b = JSON.stringify(trainByteLevelBpe(docs, { vocabSize: 350 }));
  assert.equal(a, b);
  // …and a different corpus gives a different tokenizer (the check above is not vacuous).
  assert.notEqual(a, JSON.stringify(trainByteLevelBpe(docs.slice(1), { vocabSize: 350 })));
});

test("special tokens in the text are boundaries, never merged into other tokens", () => {
  const json = trainByteLevelBpe(["ab<|endoftext|>ab<|endoftext|>ab"], { vocabSize: 300 });
  assert.deepEqual(json.model.merges, [["a", "b"]]); // "b<" or "|>" pairs would appear otherwise
  assert.deepEqual(json.added_tokens.map((t) => [t.content, t.id, t.special]), [
    ["<|endoftext|>", 0, true],
    ["<|pad|>", 1, true],
  ]);
});

test("bad options give clear errors", () => {
  assert.throws(() => trainByteLevelBpe(["x"], { vocabSize: 100 }), /vocabSize must be an integer ≥ 258/);
  assert.throws(() => trainByteLevelBpe(["x"], { vocabSize: 300, specialTokens: ["<a>", "<a>"] }), /distinct non-empty/);
  assert.throws(() => trainByteLevelBpe([42 as unknown as string], { vocabSize: 300 }), /document 0 is number/);
  assert.throws(() => trainByteLevelBpe(["x"], { vocabSize: 300, specialTokens: ["a"] }), /appears twice/);
});
