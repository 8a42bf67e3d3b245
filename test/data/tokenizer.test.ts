import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { defaultCorpusDir, loadCorpus } from "../../lib/data/corpus";
import { trainByteLevelBpe } from "../../lib/data/bpe-train";
import { defaultTokenizerPath, loadTokenizer, referenceEncoders, tokenizerFromJson } from "../../lib/data/tokenizer";

/** Mixed training text: prose with accents, code with indents, a little CJK. */
const TRAIN_DOCS: string[] = [];
for (let i = 0; i < 40; i++) {
  TRAIN_DOCS.push(
    `Chapter ${i}. The café's naïve owner said: "Don't worry, it'll be fine." Über alles, señor.\n\n` +
      `def handler_${i}(event, context):\n    if event is None:\n        return {"status": ${200 + i}}\n    return process(event)\n\n` +
      `東京は日本の首都です。 Ceci n'est pas une pipe — ${i * 17} items cost €${i}.50\n`,
  );
}

/** Round-trip and agreement samples: every script and whitespace pattern we could think of. */
const SAMPLES = [
  "",
  "hello world",
  "  leading and trailing spaces  ",
  "tabs\tand\r\nwindows\r\nline endings\n\n\n    indented",
  "Accents: àéîõü ÀÉÎÕÜ ç ñ ß ø å, and e\u0301 (combining)",
  "CJK: 日本語のテキスト、中文文本，한국어 텍스트",
  "Emoji: 😀 👩‍👩‍👧 (ZWJ family) 🇫🇷 flag, 🏳️‍🌈, skin tone 👍🏽",
  "Other scripts: नमस्ते Привет עברית مرحبا ελληνικά 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "Specials inline: end<|endoftext|>start and <|pad|><|pad|> and <|endoftext",
  "Control chars \u0000\u0007\u001b[0m and NBSP\u00a0here, U+2028\u2028 U+FEFF\ufeff",
  "Numbers 3.14159 1,000,000 0xDEADBEEF 1e-9 and 'contractions' I'm you're they'll we'd it's",
  "def f(x):\n    return x ** 2  # comment\n\n\nclass A:\n\tpass\n",
];

const json = trainByteLevelBpe(TRAIN_DOCS, { vocabSize: 600 });

test("hand-worked encode: merges apply by rank, lowest first", () => {
  // Merges of "hug hug hug pug pun bun" (derived by hand in bpe-train.test.ts):
  // rank 0 (u,g)→"ug" id 258, 1 (h,ug)→"hug" 259, 2 (Ġ,p)→"Ġp" 260, 3 (Ġ,hug)→"Ġhug" 261, 4 (u,n)→"un" 262.
  const tok = tokenizerFromJson(trainByteLevelBpe(["hug hug hug pug pun bun"], { vocabSize: 300 }));
  // "hug": h u g → h ug (rank 0) → hug (rank 1).
  // " pug": Ġ p u g → Ġ p ug (rank 0) → Ġp ug (rank 2); no merge (Ġp, ug) exists.
  assert.deepEqual(tok.encode("hug pug"), [259, 260, 258]);
  // " hugs": Ġ h u g s → Ġ h ug s → Ġ hug s → Ġhug s; "s" is byte 0x73 → id 2 + 0x73.
  assert.deepEqual(tok.encode(" hugs"), [261, 2 + 0x73]);
  assert.deepEqual([259, 260, 258].map((id) => tok.tokenString(id)), ["hug", "Ġp", "ug"]);
});

test("decode(encode(x)) is exact, including non-ASCII, emoji and specials", () => {
  const tok = tokenizerFromJson(json);
  for (const s of [...SAMPLES, ...TRAIN_DOCS.slice(0, 3)]) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  // Specials are recognised inside text and survive the round trip as single ids.
  const ids = tok.encode("a<|endoftext|>b");
  assert.ok(ids.includes(tok.eosId));
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "ab");
});

test("our encoder, @huggingface/tokenizers (JS) and tokenizers (Rust) give identical ids", async () => {
  const tok = tokenizerFromJson(json);
  const ref = referenceEncoders(tok.json);
  const texts = [...SAMPLES, ...TRAIN_DOCS.slice(0, 5)];
  const rust = await ref.hfRust.encodeBatch(texts);
  texts.forEach((s, i) => {
    const ours = tok.encode(s);
    assert.deepEqual(ours, ref.hfJs.encode(s), `JS differs on ${JSON.stringify(s)}`);
    assert.deepEqual(ours, rust[i], `Rust differs on ${JSON.stringify(s)}`);
  });
  assert.deepEqual(await tok.encodeBatch(texts), rust);
  // The decoders agree too, also on an id sequence that cuts an emoji in half (→ U+FFFD).
  const half = tok.encode("a😀").slice(0, 2);
  assert.equal(tok.decode(half), await ref.hfRust.decode(half));
  assert.equal(tok.decode(half), "a\ufffd");
  for (const s of SAMPLES) assert.equal(ref.hfJs.decode(tok.encode(s)), s);
});

test("whole-document training makes code cheaper than line-by-line training would", () => {
  // The point of our trainer: newline+indent runs become single tokens.
  const tok = tokenizerFromJson(json);
  const code = "    if event is None:\n        return {}\n    return process(event)\n";
  const pieces = tok.encode(code).map((id) => tok.tokenString(id));
  assert.ok(pieces.includes("ĊĠĠĠĠĠĠĠ"), `newline + 7 spaces should be one token; got ${JSON.stringify(pieces)}`);
});

test("vocabSize, eosId, padId, tokenString, tokenId", () => {
  const tok = tokenizerFromJson(json);
  assert.equal(tok.vocabSize, Object.keys(json.model.vocab).length);
  assert.equal(tok.eosId, 0);
  assert.equal(tok.padId, 1);
  assert.equal(tok.tokenString(tok.eosId), "<|endoftext|>");
  assert.equal(tok.tokenId("Ġ"), 2 + 0x20);
  assert.throws(() => tok.tokenString(tok.vocabSize), /outside the vocabulary/);
  assert.throws(() => tok.decode([0, -1]), /id -1 at position 1/);
  // Without <|pad|>, padding falls back to EOS.
  const noPad = tokenizerFromJson(trainByteLevelBpe(["x y"], { vocabSize: 300, specialTokens: ["<|endoftext|>"] }));
  assert.equal(noPad.padId, noPad.eosId);
});

test("loadTokenizer reads a file and gives clear errors for bad ones", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-tok-"));
  try {
    const good = path.join(dir, "tokenizer.json");
    fs.writeFileSync(good, JSON.stringify(json));
    const tok = await loadTokenizer(good);
    assert.equal(tok.path, good);
    assert.deepEqual(tok.encode(SAMPLES[4]), tokenizerFromJson(json).encode(SAMPLES[4]));
    assert.equal(tok.sha256, tokenizerFromJson(json).sha256);

    await assert.rejects(loadTokenizer(path.join(dir, "missing.json")), /tokenizer file not found: .*missing\.json/);
    const notJson = path.join(dir, "bad.json");
    fs.writeFileSync(notJson, "{ not json");
    await assert.rejects(loadTokenizer(notJson), /is not valid JSON/);
    const wordPiece = path.join(dir, "wp.json");
    fs.writeFileSync(wordPiece, JSON.stringify({ ...json, model: { ...json.model, type: "WordPiece" } }));
    await assert.rejects(loadTokenizer(wordPiece), /model\.type is "WordPiece", not "BPE"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => tokenizerFromJson({ ...json, normalizer: { type: "NFC" } }), /normalizer must be null/);
  const broken = { ...json, model: { ...json.model, merges: [["zz", "q"]] } };
  assert.throws(() => tokenizerFromJson(broken), /merge 0 \(zz q\) uses or makes a token that is not in the vocab/);
  const noEos = trainByteLevelBpe(["x"], { vocabSize: 300, specialTokens: ["<s>"] });
  assert.throws(() => tokenizerFromJson(noEos), /no <\|endoftext\|> special token/);
});

test("the default path points into the package, whatever the cwd", () => {
  const p = defaultTokenizerPath();
  assert.ok(path.isAbsolute(p));
  assert.ok(p.endsWith(path.join("data", "flexmix-mini", "tokenizer.json")));
  assert.ok(fs.existsSync(path.join(p, "..", "..", "..", "package.json")));
});

test("the shipped FlexMix-mini tokenizer: 4096 ids, and all three encoders agree on corpus text", async (t) => {
  if (!fs.existsSync(path.join(defaultCorpusDir(), "manifest.json"))) {
    t.skip("FlexMix-mini is not built (npm run data:build)");
    return;
  }
  const tok = await loadTokenizer();
  assert.equal(tok.vocabSize, 4096); // data/build/config.ts: vocabSize 4096, the model's default
  assert.equal(tok.tokenString(tok.eosId), "<|endoftext|>");
  const corpus = await loadCorpus();
  // Three documents per domain from the valid split: every domain's typical text, kept small.
  const byDomain = new Map<string, string[]>();
  for (const r of corpus.documents({ split: "valid" })) {
    const list = byDomain.get(r.domain) ?? [];
    if (list.length < 3) list.push(r.text);
    byDomain.set(r.domain, list);
  }
  const texts = [...byDomain.values()].flat();
  assert.ok(byDomain.size >= 9 && texts.length >= 27, `expected 9 domains, got ${[...byDomain.keys()]}`);
  const ref = referenceEncoders(tok.json);
  const rust = await ref.hfRust.encodeBatch(texts);
  texts.forEach((text, i) => {
    const ids = tok.encode(text);
    assert.deepEqual(ids, rust[i]);
    assert.deepEqual(ids, ref.hfJs.encode(text));
    assert.equal(tok.decode(ids), text);
  });
});
