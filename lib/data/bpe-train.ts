/**
 * Our own byte-level BPE trainer: a small, readable teaching component.
 *
 * Why not the `tokenizers` npm package's trainer? It only exposes `tokenizer.train(files)`, which
 * runs Hugging Face's default `BpeTrainer` over the files LINE BY LINE. Pre-tokens therefore never
 * contain a newline followed by anything, so it never learns "\n\n" or "\n    " (newline + indent)
 * tokens, which matter a lot for code and paragraphs. Here we count pre-tokens over WHOLE documents:
 * the GPT-2 regex keeps a whitespace run such as "\n\n    " together as one pre-token, so those merges
 * are learned like any other.
 *
 * The algorithm, in four pure steps (each exported so a notebook can run them one at a time):
 *   1. `preTokenize`     split text with the GPT-2 regex (exactly what the ByteLevel pre-tokenizer does);
 *   2. `countPreTokens`  count each distinct pre-token over all documents ("word counts");
 *   3. `learnMerges`     start from the 256 single bytes and repeatedly merge the most frequent adjacent
 *                        pair. Pair counts are updated incrementally (only the words that contain the
 *                        merged pair are touched) and the best pair comes from a lazy max-heap, so a merge
 *                        costs time proportional to how often the pair occurs, not to the corpus size;
 *   4. `toTokenizerJson` write a Hugging Face `tokenizer.json` (BPE model + ByteLevel pre-tokenizer and
 *                        decoder) that both `tokenizers` (Rust) and `@huggingface/tokenizers` (pure JS) load.
 *
 * Determinism: same texts in the same order ⇒ byte-identical JSON. Ties between equally frequent pairs
 * are broken explicitly (see `heapBefore`), and every Map is iterated in insertion order.
 *
 * Cost, FlexMix-mini train split (19 M chars, 128 k distinct pre-tokens, vocab 4096) on the 2-core dev
 * machine: ≈ 0.9 s counting + 0.8 s merging, ≈ 70 MB above the loaded text. Hugging Face's trainer
 * takes ≈ 5 s on the same text (it trains all 30 000 tokens; see data/build/tokenizer-compare.ts).
 */

/** GPT-2's pre-tokenizer regex, as used by the Hugging Face ByteLevel pre-tokenizer (`use_regex: true`). */
// NOTE: `tokenizers` (Rust) runs this pattern through Oniguruma, `@huggingface/tokenizers` and we run
// it through JavaScript RegExp. Their `\s` differ on two rare code points (U+0085 is space only in
// Oniguruma, U+FEFF only in JS), so texts containing those may pre-tokenize differently. We use the JS
// form because the pure-JS tokenizer is the one that must agree with training in the browser.
export const GPT2_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Special tokens added by default: `<|endoftext|>` separates documents (EOS), `<|pad|>` pads batches. */
export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ["<|endoftext|>", "<|pad|>"];

export interface BpeTrainOptions {
  /** Final vocabulary size, specials + 256 bytes + merged tokens. FlexMix-mini uses 4096. */
  vocabSize: number;
  /** Added tokens, given ids 0, 1, … in this order. Default `DEFAULT_SPECIAL_TOKENS`. */
  specialTokens?: readonly string[];
  /**
   * Stop early when the best pair occurs fewer times than this. Default 2: a pair seen once only
   * memorises one occurrence, so the token would never generalise. (HF's trainer default is 0.)
   */
  minFrequency?: number;
}

/** The subset of Hugging Face's `tokenizer.json` schema that we write. */
export interface TokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: null;
  pre_tokenizer: { type: "ByteLevel"; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  post_processor: null;
  decoder: { type: "ByteLevel"; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  model: {
    type: "BPE";
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: [string, string][];
  };
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** What `learnMerges` returns, in byte-level strings (one visible char per byte, see `byteToUnicode`). */
export interface LearnedMerges {
  /** Merges in the order they were learned (= their rank at encode time). */
  merges: [string, string][];
  /** Tokens created by the merges, in creation order, without duplicates (see NOTE in `learnMerges`). */
  newTokens: string[];
  /** Count of the pair at the moment it was merged, for inspection and plots. */
  counts: number[];
}

// ---------------------------------------------------------------------------------------------
// The byte ↔ visible-character table (GPT-2's `bytes_to_unicode`)
// ---------------------------------------------------------------------------------------------

/**
 * GPT-2 maps every byte to a printable Unicode character so that tokens are readable strings:
 * printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in byte order.
 * So space (0x20) is "Ġ" (U+0120) and newline (0x0A) is "Ċ" (U+010A).
 */
export const byteToUnicode: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : next++);
  return table;
})();

/** Inverse of `byteToUnicode`. */
export const unicodeToByte: ReadonlyMap<string, number> = new Map(byteToUnicode.map((ch, b) => [ch, b]));

/** UTF-8 bytes of `text` rendered as byte-level characters, e.g. "é\n" → "Ã©Ċ". */
export function toByteLevel(text: string): string {
  let out = "";
  for (const b of Buffer.from(text, "utf8")) out += byteToUnicode[b];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Steps 1 and 2: pre-tokenize and count
// ---------------------------------------------------------------------------------------------

/** Step 1: the GPT-2 pre-tokenization of `text` (no special-token handling). */
export function preTokenize(text: string): string[] {
  return text.match(new RegExp(GPT2_SPLIT_PATTERN, "gu")) ?? [];
}

/**
 * Step 2: how often each distinct pre-token occurs over all documents.
 * Special tokens inside a text are treated as boundaries and not counted, exactly as the tokenizer
 * splits them out before pre-tokenizing at encode time.
 */
export function countPreTokens(texts: Iterable<string>, specialTokens: readonly string[] = DEFAULT_SPECIAL_TOKENS): Map<string, number> {
  const counts = new Map<string, number>();
  const re = new RegExp(GPT2_SPLIT_PATTERN, "gu");
  const specials = specialTokens.filter((s) => s.length > 0);
  const specialRe = specials.length > 0 ? new RegExp(specials.map(escapeRegExp).join("|"), "g") : null;
  let docIndex = 0;
  for (const text of texts) {
    if (typeof text !== "string") {
      throw new TypeError(`countPreTokens: document ${docIndex} is ${typeof text}, expected a string`);
    }
    const pieces = specialRe ? text.split(specialRe) : [text];
    for (const piece of pieces) {
      re.lastIndex = 0;
      for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
        const w = m[0];
        counts.set(w, (counts.get(w) ?? 0) + 1);
      }
    }
    docIndex++;
  }
  return counts;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---------------------------------------------------------------------------------------------
// Step 3: learn merges
// ---------------------------------------------------------------------------------------------

/** One heap entry: a pair and the count it had when pushed (may be stale; see `learnMerges`). */
interface HeapEntry {
  count: number;
  a: number;
  b: number;
}

/**
 * Tie-breaking rule (the whole determinism story): a higher count wins; on equal counts the pair with
 * the smaller left symbol id wins, then the smaller right id. Symbol ids are byte values for the 256
 * bytes and 256 + creation order for merged tokens, so byte ties resolve in byte order (like sorting
 * the strings) and merged-token ties resolve by age. Hugging Face's trainer uses the same rule over
 * its own ids (which sort the alphabet by character rather than by byte), so tie order can differ.
 */
function heapBefore(x: HeapEntry, y: HeapEntry): boolean {
  if (x.count !== y.count) return x.count > y.count;
  if (x.a !== y.a) return x.a < y.a;
  return x.b < y.b;
}

/** A binary max-heap under `heapBefore`. A class because it is stateful. */
class PairHeap {
  private items: HeapEntry[] = [];
  get size(): number {
    return this.items.length;
  }
  push(e: HeapEntry): void {
    const h = this.items;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!heapBefore(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }
  pop(): HeapEntry | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < h.length && heapBefore(h[l], h[best])) best = l;
        if (r < h.length && heapBefore(h[r], h[best])) best = r;
        if (best === i) break;
        [h[i], h[best]] = [h[best], h[i]];
        i = best;
      }
    }
    return top;
  }
}

/**
 * Step 3: learn up to `maxNewTokens` merges from pre-token counts.
 *
 * Data layout: every distinct pre-token ("word") is a run of symbol ids inside one big Int32Array,
 * starting as its UTF-8 bytes and shrinking in place as merges apply. For each adjacent pair we keep
 * its total count (weighted by word frequency) and a list of words that may contain it.
 *
 * One merge of (a, b) → z:
 *   - visit only the words listed for (a, b); rewrite each left to right, replacing a b by z;
 *   - for every replacement update the neighbours: (prev, a) and (b, next) lose `count(word)`,
 *     (prev, z) and (z, next) gain it. Only pairs containing z ever gain, so they are pushed to the heap
 *     with their exact counts afterwards; pairs that lost count keep a too-high heap entry, which is fixed
 *     lazily when it reaches the top (popped count ≠ current count ⇒ push the current count, try again).
 *
 * NOTE: could two different merges spell the same string, e.g. ("ab","c") and ("a","bc")? Hugging Face's
 * trainer guards against it by giving both the SAME token id (the vocabulary maps strings to ids), and
 * so do we: such a merge would add a merge rule but no vocabulary entry. We never saw it happen (a
 * search over 20 000 random small corpora found no case), so treat this as a defensive guard.
 */
export function learnMerges(
  wordCounts: ReadonlyMap<string, number>,
  maxNewTokens: number,
  minFrequency = 2,
): LearnedMerges {
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new RangeError(`learnMerges: maxNewTokens must be a non-negative integer (got ${maxNewTokens})`);
  }
  if (!(minFrequency >= 0)) throw new RangeError(`learnMerges: minFrequency must be ≥ 0 (got ${minFrequency})`);

  // --- lay every word out as bytes in one buffer -----------------------------------------------
  const nWords = wordCounts.size;
  const wordCount = new Float64Array(nWords); // frequency of each distinct pre-token
  const start = new Int32Array(nWords); // offset of word w in `syms`
  const len = new Int32Array(nWords); // current number of symbols in word w
  const encoded: Buffer[] = [];
  let total = 0;
  for (const w of wordCounts.keys()) {
    const bytes = Buffer.from(w, "utf8");
    encoded.push(bytes);
    total += bytes.length;
  }
  const syms = new Int32Array(total);
  let wi = 0;
  let off = 0;
  for (const c of wordCounts.values()) {
    const bytes = encoded[wi];
    start[wi] = off;
    len[wi] = bytes.length;
    for (let i = 0; i < bytes.length; i++) syms[off + i] = bytes[i];
    wordCount[wi] = c;
    off += bytes.length;
    wi++;
  }
  encoded.length = 0;

  // Symbol ids: 0..255 are bytes, 256.. are merged tokens. Strings are byte-level (readable) forms.
  const symStr: string[] = byteToUnicode.slice();
  const idOfStr = new Map<string, number>(symStr.map((s, i) => [s, i]));
  const KEY = 1 << 21; // pair key = a * KEY + b; ids stay far below 2^21, keys below 2^42 (exact doubles)
  if (256 + maxNewTokens >= KEY) throw new RangeError(`learnMerges: maxNewTokens ${maxNewTokens} is too large`);

  // --- initial pair counts and where-lists ----------------------------------------------------
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>(); // pair → words that contained it when the entry was added
  for (let w = 0; w < nWords; w++) {
    const s = start[w];
    for (let i = s; i < s + len[w] - 1; i++) {
      const key = syms[i] * KEY + syms[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + wordCount[w]);
      const list = where.get(key);
      if (list === undefined) where.set(key, [w]);
      else if (list[list.length - 1] !== w) list.push(w); // consecutive repeats within a word
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push({ count, a: Math.floor(key / KEY), b: key % KEY });

  // --- the merge loop -------------------------------------------------------------------------
  const out: LearnedMerges = { merges: [], newTokens: [], counts: [] };
  const visited = new Int32Array(nWords).fill(-1); // merge index that last rewrote word w (dedups where-lists)
  while (out.newTokens.length < maxNewTokens) {
    const top = heap.pop();
    if (top === undefined) break; // nothing left to merge: every word is a single token
    const key = top.a * KEY + top.b;
    const current = pairCount.get(key) ?? 0;
    if (current !== top.count) {
      if (current > 0) heap.push({ count: current, a: top.a, b: top.b }); // stale entry: requeue
      continue;
    }
    if (current < minFrequency || current <= 0) break;

    const a = top.a;
    const b = top.b;
    const mergedStr = symStr[a] + symStr[b];
    let z = idOfStr.get(mergedStr);
    if (z === undefined) {
      z = symStr.length;
      symStr.push(mergedStr);
      idOfStr.set(mergedStr, z);
      out.newTokens.push(mergedStr);
    }
    const mergeIndex = out.merges.length;
    out.merges.push([symStr[a], symStr[b]]);
    out.counts.push(current);

    const gained = new Set<number>(); // pairs containing z whose count went up
    const add = (x: number, y: number, delta: number, w: number) => {
      const k = x * KEY + y;
      const next = (pairCount.get(k) ?? 0) + delta;
      if (next === 0) pairCount.delete(k);
      else pairCount.set(k, next);
      if (delta > 0) {
        gained.add(k);
        const list = where.get(k);
        if (list === undefined) where.set(k, [w]);
        else if (list[list.length - 1] !== w) list.push(w);
      }
    };

    for (const w of where.get(key) ?? []) {
      if (visited[w] === mergeIndex) continue;
      visited[w] = mergeIndex;
      const c = wordCount[w];
      const s = start[w];
      const end = s + len[w];
      let write = s;
      let read = s;
      // Rewrite in place; `write <= read` always, so unread symbols are never overwritten.
      while (read < end) {
        if (read + 1 < end && syms[read] === a && syms[read + 1] === b) {
          if (write > s) {
            const prev = syms[write - 1]; // already rewritten: may itself be z (e.g. "a a a a")
            add(prev, a, -c, w);
            add(prev, z, +c, w);
          }
          if (read + 2 < end) {
            const next = syms[read + 2];
            add(b, next, -c, w);
            add(z, next, +c, w);
          }
          syms[write++] = z;
          read += 2;
        } else {
          syms[write++] = syms[read++];
        }
      }
      len[w] = write - s;
    }
    // Every occurrence of (a, b) is gone now (a left-to-right rewrite leaves no adjacent a b).
    pairCount.delete(key);
    where.delete(key);
    for (const k of gained) {
      const count = pairCount.get(k);
      if (count !== undefined && count > 0) heap.push({ count, a: Math.floor(k / KEY), b: k % KEY });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Step 4: write tokenizer.json
// ---------------------------------------------------------------------------------------------

/**
 * Step 4: the Hugging Face `tokenizer.json`. Ids: specials first (0, 1, …, as HF's trainer does), then
 * the 256 byte symbols in byte order, then merged tokens in creation order.
 */
export function toTokenizerJson(learned: LearnedMerges, specialTokens: readonly string[] = DEFAULT_SPECIAL_TOKENS): TokenizerJson {
  const vocab: Record<string, number> = {};
  let id = 0;
  const addToVocab = (tok: string) => {
    if (Object.prototype.hasOwnProperty.call(vocab, tok)) {
      throw new Error(`toTokenizerJson: token ${JSON.stringify(tok)} appears twice; special tokens must be distinct from byte symbols and from each other`);
    }
    vocab[tok] = id++;
  };
  specialTokens.forEach(addToVocab);
  byteToUnicode.forEach(addToVocab);
  learned.newTokens.forEach(addToVocab);
  const byteLevel = { type: "ByteLevel" as const, add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content, i) => ({
      id: i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false, // match the raw text: specials must not be byte-level mapped
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null, // no BOS/EOS added automatically; the batcher inserts EOS itself
    decoder: { ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null, // every byte is in the vocabulary, so nothing is ever unknown
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: learned.merges.map(([l, r]) => [l, r] as [string, string]),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// All four steps
// ---------------------------------------------------------------------------------------------

/**
 * Train a byte-level BPE tokenizer on whole documents and return its `tokenizer.json` object.
 * Save it with `JSON.stringify(json)`; load it with `loadTokenizer` (lib/data/tokenizer.ts).
 */
export function trainByteLevelBpe(texts: Iterable<string>, opts: BpeTrainOptions): TokenizerJson {
  const specials = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const minVocab = specials.length + 256;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < minVocab) {
    throw new RangeError(
      `trainByteLevelBpe: vocabSize must be an integer ≥ ${minVocab} (${specials.length} specials + 256 byte symbols); got ${opts.vocabSize}`,
    );
  }
  if (new Set(specials).size !== specials.length || specials.some((s) => s.length === 0)) {
    throw new Error(`trainByteLevelBpe: special tokens must be distinct non-empty strings (got ${JSON.stringify(specials)})`);
  }
  const counts = countPreTokens(texts, specials);
  const learned = learnMerges(counts, opts.vocabSize - minVocab, opts.minFrequency ?? 2);
  return toTokenizerJson(learned, specials);
}
