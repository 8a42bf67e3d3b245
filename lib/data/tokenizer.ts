/**
 * The FlexMix-mini tokenizer: load a byte-level BPE `tokenizer.json` and encode/decode with it.
 *
 * Three implementations read the same file and give the same ids (tests check this on samples,
 * including accents, CJK and emoji):
 *   - "ours": the small encoder below (pre-tokenize with the GPT-2 regex, apply merges by rank,
 *     cache each distinct pre-token). This is what `Tokenizer` uses, for `encode` and `encodeBatch`.
 *   - `@huggingface/tokenizers` (pure JS, works in the browser): synchronous.
 *   - `tokenizers` (Rust via napi): async only, 64 MB of native binaries.
 * Bulk speed, FlexMix-mini valid split (2.4 M chars) on the 2-core dev machine, cold caches
 * (`node dist/data/build/tokenizer-compare.js --speed`): ours ≈ 11 M chars/s, Rust `encodeBatch`
 * ≈ 4.4 M chars/s, pure JS ≈ 0.9 M chars/s. On 4.7 M chars of Python: 9 / 1.3 / 0.7 M chars/s.
 * So ours is the bulk path too. The references stay available through `referenceEncoders` for
 * cross-checks and for people who want the Hugging Face objects.
 *
 * Why our own encoder is exact: Hugging Face BPE repeatedly merges the adjacent pair with the lowest
 * merge rank, leftmost first; `encodeWord` does literally that. Added (special) tokens are split out
 * of the raw text first, longest match first, as HF's added-token matcher does.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

import { byteToUnicode, GPT2_SPLIT_PATTERN, type TokenizerJson } from "./bpe-train";
import { packageRoot } from "../util/package";

/** The document separator / end-of-sequence token. */
export const EOS_TOKEN = "<|endoftext|>";
/** The padding token (falls back to EOS for tokenizers trained without it). */
export const PAD_TOKEN = "<|pad|>";

export interface Tokenizer {
  /** Where it was loaded from (null when built from an in-memory object). */
  readonly path: string | null;
  /** sha256 of the canonical JSON text; use it in cache keys. */
  readonly sha256: string;
  /** Number of ids, specials included. Ids are 0 … vocabSize-1. */
  readonly vocabSize: number;
  /** Id of `<|endoftext|>`, the document separator. */
  readonly eosId: number;
  /** Id of `<|pad|>` (or of EOS if the tokenizer has no pad token). */
  readonly padId: number;
  /** The parsed tokenizer.json. */
  readonly json: TokenizerJson;
  /** Token ids of `text`. Special-token strings in the text become their ids. */
  encode(text: string): number[];
  /** `encode` for many texts; async so callers need not care which implementation runs. */
  encodeBatch(texts: readonly string[]): Promise<number[][]>;
  /** Text of `ids`. Incomplete UTF-8 sequences become U+FFFD, as in Hugging Face's decoder. */
  decode(ids: ArrayLike<number>, opts?: { skipSpecialTokens?: boolean }): string;
  /** The vocabulary string of one id, in byte-level form (e.g. "Ġthe", "ĊĊ"). */
  tokenString(id: number): string;
  /** The id of a vocabulary string, or undefined. */
  tokenId(token: string): number | undefined;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** The shipped FlexMix-mini tokenizer: `<package root>/data/flexmix-mini/tokenizer.json`. */
export function defaultTokenizerPath(): string {
  return path.join(packageRoot(), "data", "flexmix-mini", "tokenizer.json");
}

/** Load a tokenizer.json from disk (default: the shipped FlexMix-mini tokenizer). */
export async function loadTokenizer(file?: string): Promise<Tokenizer> {
  const p = path.resolve(file ?? defaultTokenizerPath());
  let text: string;
  try {
    text = await fs.promises.readFile(p, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") {
      throw new Error(
        `loadTokenizer: tokenizer file not found: ${p}. ` +
          (file === undefined
            ? "The shipped tokenizer is built with the corpus (npm run data:build); or pass the path of a tokenizer.json."
            : "Check the path, or train one with trainByteLevelBpe (lib/data/bpe-train.ts)."),
      );
    }
    throw new Error(`loadTokenizer: cannot read ${p}: ${e.message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`loadTokenizer: ${p} is not valid JSON (${(err as Error).message}); is it a tokenizer.json?`);
  }
  return tokenizerFromJson(json, p);
}

/** Build a tokenizer from an in-memory tokenizer.json object or string (e.g. straight from training). */
export function tokenizerFromJson(json: unknown, source: string | null = null): Tokenizer {
  const obj = typeof json === "string" ? parseJsonOrThrow(json) : json;
  const checked = validateTokenizerJson(obj, source ?? "tokenizer json");
  return new ByteLevelBpeTokenizer(checked, source);
}

function parseJsonOrThrow(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch (err) {
    throw new Error(`tokenizerFromJson: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Check that `obj` is a byte-level BPE tokenizer.json of the kind `trainByteLevelBpe` writes, which
 * is exactly what our encoder implements. Anything else gets a specific error instead of wrong ids.
 */
export function validateTokenizerJson(obj: unknown, where: string): TokenizerJson {
  const fail = (what: string): never => {
    throw new Error(`${where}: unsupported tokenizer.json: ${what}. Expected a byte-level BPE as written by trainByteLevelBpe (lib/data/bpe-train.ts).`);
  };
  if (typeof obj !== "object" || obj === null) fail("not a JSON object");
  const j = obj as Record<string, any>;
  const model = j.model;
  if (typeof model !== "object" || model === null || model.type !== "BPE") fail(`model.type is ${JSON.stringify(model?.type)}, not "BPE"`);
  if (j.pre_tokenizer?.type !== "ByteLevel" || j.pre_tokenizer.use_regex === false || j.pre_tokenizer.add_prefix_space === true) {
    fail(`pre_tokenizer must be ByteLevel with use_regex true and add_prefix_space false (got ${JSON.stringify(j.pre_tokenizer)})`);
  }
  if (j.normalizer != null) fail(`normalizer must be null (got ${JSON.stringify(j.normalizer?.type)})`);
  if (j.decoder != null && j.decoder.type !== "ByteLevel") fail(`decoder must be ByteLevel (got ${JSON.stringify(j.decoder.type)})`);
  if (model.continuing_subword_prefix || model.end_of_word_suffix || model.byte_fallback || model.dropout) {
    fail("continuing_subword_prefix / end_of_word_suffix / byte_fallback / dropout are not supported");
  }
  if (model.ignore_merges === true) fail("ignore_merges: true is not supported");
  if (typeof model.vocab !== "object" || model.vocab === null || !Array.isArray(model.merges)) fail("model.vocab or model.merges missing");
  // Normalise the older "left right" merge format to pairs.
  const merges: [string, string][] = model.merges.map((m: unknown, i: number) => {
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return [m[0], m[1]];
    if (typeof m === "string" && m.split(" ").length === 2) return m.split(" ") as [string, string];
    return fail(`merge ${i} is ${JSON.stringify(m)}, expected ["left", "right"]`);
  });
  const vocab = model.vocab as Record<string, number>;
  const ids = Object.values(vocab);
  const seen = new Uint8Array(ids.length);
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= ids.length || seen[id]) fail(`vocab ids must be exactly 0 … ${ids.length - 1} (bad or repeated id ${id})`);
    seen[id] = 1;
  }
  for (const ch of byteToUnicode) if (!(ch in vocab)) fail(`byte symbol ${JSON.stringify(ch)} is missing from the vocab (all 256 are required)`);
  merges.forEach(([l, r], i) => {
    if (!(l in vocab) || !(r in vocab) || !(l + r in vocab)) fail(`merge ${i} (${l} ${r}) uses or makes a token that is not in the vocab`);
  });
  const added = Array.isArray(j.added_tokens) ? j.added_tokens : [];
  for (const t of added) {
    if (typeof t?.content !== "string" || vocab[t.content] !== t.id) fail(`added token ${JSON.stringify(t)} does not match the vocab`);
    if (t.normalized === true || t.lstrip === true || t.rstrip === true || t.single_word === true) {
      fail(`added token ${JSON.stringify(t.content)} uses normalized/lstrip/rstrip/single_word, which we do not implement`);
    }
  }
  return { ...(j as TokenizerJson), added_tokens: added, model: { ...model, merges } };
}

// ---------------------------------------------------------------------------------------------
// The encoder
// ---------------------------------------------------------------------------------------------

/** Pair key for two ids; ids < 2^21 so keys are exact doubles. */
const KEY = 1 << 21;
/** Distinct pre-tokens kept in the cache before it is cleared (bounds memory at ~tens of MB). */
const CACHE_LIMIT = 1 << 19;

class ByteLevelBpeTokenizer implements Tokenizer {
  readonly path: string | null;
  readonly sha256: string;
  readonly vocabSize: number;
  readonly eosId: number;
  readonly padId: number;
  readonly json: TokenizerJson;

  private readonly idToToken: string[];
  private readonly tokenToId: Map<string, number>;
  private readonly byteId = new Int32Array(256); // byte value → id of its single-byte token
  private readonly mergeRank = new Map<number, number>(); // pair key → rank (lower merges first)
  private readonly mergeResult = new Map<number, number>(); // pair key → id of the merged token
  private readonly specialIds = new Map<string, number>();
  private readonly specialSplit: RegExp | null;
  private readonly tokenBytes: Uint8Array[]; // id → the bytes it stands for
  private readonly isSpecial: Uint8Array;
  private readonly splitter = new RegExp(GPT2_SPLIT_PATTERN, "gu");
  private cache = new Map<string, number[]>();

  constructor(json: TokenizerJson, source: string | null) {
    this.json = json;
    this.path = source;
    this.sha256 = crypto.createHash("sha256").update(JSON.stringify(json)).digest("hex");
    const vocab = json.model.vocab;
    this.vocabSize = Object.keys(vocab).length;
    this.idToToken = new Array(this.vocabSize);
    this.tokenToId = new Map();
    for (const [tok, id] of Object.entries(vocab)) {
      this.idToToken[id] = tok;
      this.tokenToId.set(tok, id);
    }
    byteToUnicode.forEach((ch, b) => (this.byteId[b] = vocab[ch]));
    json.model.merges.forEach(([l, r], rank) => {
      const key = vocab[l] * KEY + vocab[r];
      // A duplicated merge rule can only repeat an earlier one; HF keeps the first (lowest) rank.
      if (!this.mergeRank.has(key)) {
        this.mergeRank.set(key, rank);
        this.mergeResult.set(key, vocab[l + r]);
      }
    });
    this.isSpecial = new Uint8Array(this.vocabSize);
    for (const t of json.added_tokens) {
      this.specialIds.set(t.content, t.id);
      this.isSpecial[t.id] = 1;
    }
    // Longest first, so "<|endoftext|>" wins over a shorter special that is its prefix.
    const specials = [...this.specialIds.keys()].filter((s) => s.length > 0).sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    this.specialSplit = specials.length > 0 ? new RegExp(`(${specials.map(escapeRegExp).join("|")})`) : null;
    this.tokenBytes = this.idToToken.map((tok, id) =>
      this.isSpecial[id] ? new Uint8Array(Buffer.from(tok, "utf8")) : byteLevelToBytes(tok),
    );
    const eos = this.specialIds.get(EOS_TOKEN);
    if (eos === undefined) {
      throw new Error(`${source ?? "tokenizer json"}: no ${EOS_TOKEN} special token; FlexMix-mini uses it as the document separator. Train with specialTokens including it.`);
    }
    this.eosId = eos;
    this.padId = this.specialIds.get(PAD_TOKEN) ?? eos;
  }

  encode(text: string): number[] {
    if (typeof text !== "string") throw new TypeError(`encode: expected a string, got ${typeof text}`);
    const out: number[] = [];
    if (this.specialSplit === null) {
      this.encodeOrdinary(text, out);
      return out;
    }
    // split() with a capturing group alternates ordinary text and special tokens.
    const parts = text.split(this.specialSplit);
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 1) out.push(this.specialIds.get(parts[i])!);
      else if (parts[i].length > 0) this.encodeOrdinary(parts[i], out);
    }
    return out;
  }

  async encodeBatch(texts: readonly string[]): Promise<number[][]> {
    if (!Array.isArray(texts)) throw new TypeError("encodeBatch: expected an array of strings");
    // Our encoder is synchronous and already the fastest option measured (see the file header).
    return texts.map((t) => this.encode(t));
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`decode: id ${id} at position ${i} is outside the vocabulary 0 … ${this.vocabSize - 1}`);
      }
      if (opts.skipSpecialTokens && this.isSpecial[id]) continue;
      parts.push(this.tokenBytes[id]);
      total += this.tokenBytes[id].length;
    }
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.length;
    }
    return new TextDecoder("utf-8").decode(bytes);
  }

  tokenString(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`tokenString: id ${id} is outside the vocabulary 0 … ${this.vocabSize - 1}`);
    }
    return this.idToToken[id];
  }

  tokenId(token: string): number | undefined {
    return this.tokenToId.get(token);
  }

  /** Pre-tokenize (GPT-2 regex) and BPE each piece, with a cache of distinct pieces. */
  private encodeOrdinary(text: string, out: number[]): void {
    const re = this.splitter;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const piece = m[0];
      let ids = this.cache.get(piece);
      if (ids === undefined) {
        ids = this.encodeWord(piece);
        if (this.cache.size >= CACHE_LIMIT) this.cache = new Map();
        this.cache.set(piece, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /**
   * BPE of one pre-token: start from its bytes, then repeatedly apply the lowest-ranked merge,
   * leftmost occurrence first, until no adjacent pair has a merge. Quadratic in the piece length,
   * which is fine because pieces are short and cached.
   */
  private encodeWord(piece: string): number[] {
    const bytes = Buffer.from(piece, "utf8");
    const ids: number[] = new Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) ids[i] = this.byteId[bytes[i]];
    for (;;) {
      let bestRank = Infinity;
      let bestPos = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.mergeRank.get(ids[i] * KEY + ids[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          bestPos = i;
        }
      }
      if (bestPos < 0) return ids;
      ids.splice(bestPos, 2, this.mergeResult.get(ids[bestPos] * KEY + ids[bestPos + 1])!);
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Byte-level token string → the bytes it stands for ("Ġthe" → 0x20 t h e). */
function byteLevelToBytes(tok: string): Uint8Array {
  const out = new Uint8Array(tok.length);
  for (let i = 0; i < tok.length; i++) {
    const b = BYTE_OF_CHAR.get(tok[i]);
    if (b === undefined) throw new Error(`token ${JSON.stringify(tok)} contains ${JSON.stringify(tok[i])}, which is not a byte-level character`);
    out[i] = b;
  }
  return out;
}
const BYTE_OF_CHAR = new Map(byteToUnicode.map((ch, b) => [ch, b]));

// ---------------------------------------------------------------------------------------------
// The Hugging Face reference implementations (for cross-checks and interop)
// ---------------------------------------------------------------------------------------------

export interface ReferenceEncoders {
  /** `@huggingface/tokenizers` (pure JS): `new Tokenizer(json, {})`. */
  hfJs: { encode(text: string): number[]; decode(ids: number[]): string };
  /** `tokenizers` (Rust, napi): `Tokenizer.fromString(json)`. Async only. */
  hfRust: { encodeBatch(texts: string[]): Promise<number[][]>; decode(ids: number[]): Promise<string> };
}

/** The `tokenizers` package's Tokenizer class; the package is a development dependency (see below). */
type RustTokenizer = InstanceType<(typeof import("tokenizers"))["Tokenizer"]>;

/**
 * Load the same tokenizer.json into both Hugging Face libraries. The pure-JS one
 * (`@huggingface/tokenizers`, 0.6 MB) is a dependency and loads here; the Rust one (`tokenizers`,
 * 64 MB of native binaries for 13 platforms) is only a development dependency, used to cross-check
 * our encoder in the tests, so it loads on the first `hfRust` call and says how to install it when
 * it is missing.
 */
export function referenceEncoders(json: TokenizerJson): ReferenceEncoders {
  // CommonJS-loadable (it ships a .cjs build); required lazily so `require("flexolmo-lab")` stays light.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const hfjs = require("@huggingface/tokenizers") as typeof import("@huggingface/tokenizers");
  const jsTok = new hfjs.Tokenizer(json, {});
  let rustTok: RustTokenizer | undefined;
  const rust = (): RustTokenizer => {
    if (rustTok) return rustTok;
    let mod: typeof import("tokenizers");
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      mod = require("tokenizers") as typeof import("tokenizers");
    } catch (e) {
      if ((e as { code?: string }).code !== "MODULE_NOT_FOUND") throw e;
      throw new Error(
        "referenceEncoders(…).hfRust needs the Rust `tokenizers` package, a development dependency of flexolmo-lab " +
          "that npm does not install for users (64 MB of native binaries). Install it next to flexolmo-lab: npm install tokenizers@0.23.2",
      );
    }
    return (rustTok = mod.Tokenizer.fromString(JSON.stringify(json)));
  };
  return {
    hfJs: {
      encode: (text) => jsTok.encode(text, { add_special_tokens: false }).ids,
      // clean_up_tokenization_spaces defaults to true there and would turn " ." into "." (not lossless).
      // It also throws on an empty id list, where the answer is simply "".
      decode: (ids) => (ids.length === 0 ? "" : jsTok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })),
    },
    hfRust: {
      encodeBatch: async (texts) => (await rust().encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds()),
      decode: async (ids) => rust().decode(ids, false),
    },
  };
}
