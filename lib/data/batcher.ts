/**
 * Seeded token-stream batcher for language-model training and evaluation.
 *
 * Data model (nanoGPT's train.bin, one per domain): the documents of one domain and split are
 * tokenised and joined into ONE stream, each followed by EOS:  doc₀ EOS doc₁ EOS …
 * A window is T+1 consecutive tokens; inputs are its first T, targets its last T.
 * Window k starts at k·T, so consecutive windows share one token (the last target of window k is
 * the first input of window k+1) and every token after the first is a target exactly once per epoch.
 * The last (N-1) mod T tokens of a stream are never targets; with T ≪ N that is negligible.
 *
 * Training order: each domain shuffles its window starts with the seed (a fresh shuffle per epoch,
 * from (seed, domain, epoch)), so within an epoch no window repeats. For a mix such as
 * `{ math: 1, public: 3 }`, each row's domain is drawn independently with probability ∝ weight from
 * a seeded generator, then that domain's next window is taken. Same seed ⇒ same batches.
 *
 * Two ways in: pre-tokenised streams (`new TokenBatcher(streams, opts)`, streams being
 * `Record<domain, Int32Array>`), or a corpus + tokenizer (`await corpusBatcher(corpus, tok, opts)`).
 * Encoding all ~17 k documents takes a few seconds, so `tokenStreams` caches streams in memory and
 * optionally on disk, keyed by a hash of the tokenizer and the exact document texts.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import type { Tokenizer } from "./tokenizer";
import { fnv1a32 } from "../util/hash";
import { makeDirs } from "../util/fs";

/** One token stream per domain (documents joined with EOS). */
export type TokenStreams = Record<string, Int32Array>;

/** A single domain, or domain → weight (weights need not sum to 1). */
export type DomainMix = string | Record<string, number>;

export interface Batch {
  /** [B, T+1] int32, row-major. inputs = ids[:, :T], targets = ids[:, 1:]. */
  ids: Int32Array;
  batchSize: number; // B (the last eval batch may be smaller than requested)
  seqLen: number; // T
  /** Domain of each row, length B. */
  domains: string[];
  /** Window index of each row within its domain's stream (row r covers tokens [k·T, k·T + T]). */
  windows: number[];
}

export interface BatcherOptions {
  /** Rows per batch (B). */
  batchSize: number;
  /** Tokens of context per row (T); each row holds T+1 ids. */
  seqLen: number;
  /** Seed for the shuffles and the domain draws. */
  seed: number;
  /** One domain (`"math"`) or a weighted mix (`{ math: 1, public: 3 }`). */
  mix: DomainMix;
}

/** Everything needed to resume a batcher exactly where it was (JSON-serialisable). */
export interface BatcherState {
  seed: number;
  /** State of the generator that draws each row's domain. */
  drawState: number;
  /** Per domain: current epoch and position in that epoch's shuffled window order. */
  cursors: Record<string, { epoch: number; pos: number }>;
  /** Batches produced so far. */
  step: number;
}

/** Number of full windows of T+1 tokens with stride T in a stream of `n` tokens. */
export function windowCount(n: number, seqLen: number): number {
  return n < seqLen + 1 ? 0 : Math.floor((n - 1) / seqLen);
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32; small, fast, good enough for shuffling)
// ---------------------------------------------------------------------------------------------

/** mulberry32 step: returns [value in [0, 1), next state]. Pure, so state is a plain number. */
function mulberry32(state: number): [number, number] {
  const s = (state + 0x6d2b79f5) | 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, s];
}

/** 32-bit FNV-1a (signed, as the generator state is kept): turns (seed, domain, epoch) into a seed. */
function fnv1a(s: string): number {
  return fnv1a32(s) | 0;
}

/**
 * Window order of one domain in one epoch: a Fisher–Yates shuffle of 0 … count-1 seeded by
 * (seed, domain, epoch). Depending only on these means adding a domain to a mix does not change
 * the order in which another domain's windows are visited.
 */
export function windowOrder(count: number, seed: number, domain: string, epoch: number): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  let state = fnv1a(`${seed}\u0000${domain}\u0000${epoch}`);
  for (let i = count - 1; i > 0; i--) {
    let u: number;
    [u, state] = mulberry32(state);
    const j = Math.floor(u * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

// ---------------------------------------------------------------------------------------------
// Validation shared by training and evaluation batches
// ---------------------------------------------------------------------------------------------

function checkShape(batchSize: number, seqLen: number, who: string): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${who}: batchSize (B) must be a positive integer (got ${batchSize})`);
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`${who}: seqLen (T) must be a positive integer (got ${seqLen})`);
}

function checkStream(streams: TokenStreams, domain: string, seqLen: number, who: string): Int32Array {
  const s = streams[domain];
  if (s === undefined || !Object.prototype.hasOwnProperty.call(streams, domain)) {
    throw new Error(`${who}: unknown domain ${JSON.stringify(domain)}; streams have ${JSON.stringify(Object.keys(streams))}`);
  }
  if (!(s instanceof Int32Array)) throw new TypeError(`${who}: stream of ${JSON.stringify(domain)} must be an Int32Array`);
  if (windowCount(s.length, seqLen) < 1) {
    throw new Error(
      `${who}: domain ${JSON.stringify(domain)} has ${s.length} tokens, fewer than one window of seqLen + 1 = ${seqLen + 1}; ` +
        `use a smaller seqLen or a split with more text`,
    );
  }
  return s;
}

/** Normalise a mix to sorted domain names and cumulative probabilities; clear errors on bad weights. */
function resolveMix(mix: DomainMix, who: string): { domains: string[]; cumulative: number[] } {
  if (typeof mix === "string") return { domains: [mix], cumulative: [1] };
  if (typeof mix !== "object" || mix === null) throw new TypeError(`${who}: mix must be a domain name or { domain: weight } (got ${String(mix)})`);
  // Sorted names: the same mix gives the same batches whatever the key order of the literal.
  const domains = Object.keys(mix).sort();
  if (domains.length === 0) throw new Error(`${who}: empty mix; give at least one domain, e.g. { math: 1 }`);
  for (const d of domains) {
    const w = mix[d];
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0) throw new RangeError(`${who}: weight of ${JSON.stringify(d)} must be a finite number ≥ 0 (got ${w})`);
  }
  const total = domains.reduce((s, d) => s + mix[d], 0);
  if (total <= 0) throw new Error(`${who}: all mix weights are zero; at least one domain needs a positive weight`);
  let acc = 0;
  const cumulative = domains.map((d) => (acc += mix[d] / total));
  cumulative[cumulative.length - 1] = 1; // guard against rounding: the last bucket always closes at 1
  // Zero-weight domains are dropped: they would never be drawn, and need not be long enough.
  const kept = domains.map((d, i) => ({ d, c: cumulative[i], w: mix[d] })).filter((x) => x.w > 0);
  return { domains: kept.map((x) => x.d), cumulative: kept.map((x) => x.c) };
}

// ---------------------------------------------------------------------------------------------
// Training batches
// ---------------------------------------------------------------------------------------------

/** Stateful, seeded batcher over one domain or a weighted mix. A class because it has a cursor. */
export class TokenBatcher implements Iterable<Batch> {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly seed: number;
  /** Domains that can be drawn, sorted, with their probabilities. */
  readonly weights: Record<string, number>;
  private readonly streams: TokenStreams;
  private readonly domains: string[];
  private readonly cumulative: number[];
  private readonly counts: Record<string, number>; // windows per domain
  private orders: Record<string, Int32Array> = {}; // current epoch's order per domain
  private st: BatcherState;

  constructor(streams: TokenStreams, opts: BatcherOptions) {
    const who = "TokenBatcher";
    checkShape(opts.batchSize, opts.seqLen, who);
    if (!Number.isFinite(opts.seed)) throw new RangeError(`${who}: seed must be a finite number (got ${opts.seed})`);
    const { domains, cumulative } = resolveMix(opts.mix, who);
    // Unknown names are errors even at weight 0: they are almost always typos.
    if (typeof opts.mix === "object") {
      for (const d of Object.keys(opts.mix)) if (!Object.prototype.hasOwnProperty.call(streams, d)) checkStream(streams, d, opts.seqLen, who);
    }
    this.batchSize = opts.batchSize;
    this.seqLen = opts.seqLen;
    this.seed = opts.seed;
    this.streams = streams;
    this.domains = domains;
    this.cumulative = cumulative;
    this.counts = {};
    this.weights = {};
    domains.forEach((d, i) => {
      this.counts[d] = windowCount(checkStream(streams, d, opts.seqLen, who).length, opts.seqLen);
      this.weights[d] = cumulative[i] - (i > 0 ? cumulative[i - 1] : 0);
    });
    this.st = {
      seed: opts.seed,
      drawState: fnv1a(`${opts.seed}\u0000mix`),
      cursors: Object.fromEntries(domains.map((d) => [d, { epoch: 0, pos: 0 }])),
      step: 0,
    };
  }

  /** Windows per domain (one epoch of a domain = this many rows from it). */
  windowsPerDomain(): Record<string, number> {
    return { ...this.counts };
  }

  /** The next [B, T+1] batch. */
  next(): Batch {
    const B = this.batchSize;
    const T = this.seqLen;
    const ids = new Int32Array(B * (T + 1)); // [B, T+1]
    const domains: string[] = new Array(B);
    const windows: number[] = new Array(B);
    for (let r = 0; r < B; r++) {
      const d = this.drawDomain();
      const k = this.nextWindow(d);
      ids.set(this.streams[d].subarray(k * T, k * T + T + 1), r * (T + 1));
      domains[r] = d;
      windows[r] = k;
    }
    this.st.step++;
    return { ids, batchSize: B, seqLen: T, domains, windows };
  }

  /** The next `n` batches. */
  take(n: number): Batch[] {
    return Array.from({ length: n }, () => this.next());
  }

  /** Endless iterator: `for (const batch of batcher) { … break; }`. */
  *[Symbol.iterator](): Iterator<Batch> {
    for (;;) yield this.next();
  }

  /** A copy of the state, for checkpoints. */
  state(): BatcherState {
    return JSON.parse(JSON.stringify(this.st));
  }

  /** Resume from `state()` taken on a batcher with the same streams and options. */
  restore(state: BatcherState): void {
    if (state.seed !== this.seed) throw new Error(`restore: state was saved with seed ${state.seed}, this batcher uses ${this.seed}`);
    for (const d of this.domains) {
      const c = state.cursors[d];
      if (c === undefined) throw new Error(`restore: state has no cursor for domain ${JSON.stringify(d)}; was it saved with another mix?`);
      if (!(Number.isInteger(c.pos) && c.pos >= 0 && c.pos <= this.counts[d])) {
        throw new Error(`restore: cursor of ${JSON.stringify(d)} (pos ${c.pos}) does not fit its ${this.counts[d]} windows; different streams or seqLen?`);
      }
    }
    this.st = JSON.parse(JSON.stringify(state));
    this.orders = {};
  }

  private drawDomain(): string {
    if (this.domains.length === 1) return this.domains[0];
    let u: number;
    [u, this.st.drawState] = mulberry32(this.st.drawState);
    for (let i = 0; i < this.cumulative.length; i++) if (u < this.cumulative[i]) return this.domains[i];
    return this.domains[this.domains.length - 1];
  }

  private nextWindow(d: string): number {
    const cur = this.st.cursors[d];
    if (cur.pos >= this.counts[d]) {
      cur.epoch++;
      cur.pos = 0;
      delete this.orders[d];
    }
    let order = this.orders[d];
    if (order === undefined) {
      order = windowOrder(this.counts[d], this.seed, d, cur.epoch);
      this.orders[d] = order;
    }
    return order[cur.pos++];
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation batches
// ---------------------------------------------------------------------------------------------

export interface EvalOptions {
  batchSize: number;
  seqLen: number;
  /** Domains to evaluate, in this order (default: every stream, in key order). */
  domains?: readonly string[];
  /**
   * Cap per domain. When a domain has more windows, this many evenly spaced ones are used
   * (window ⌊i·W/max⌋), which keeps a quick eval representative of the whole stream.
   */
  maxWindows?: number;
}

/**
 * Deterministic evaluation pass: for each domain in turn, every window once, in stream order,
 * packed into batches of up to B rows (a domain's last batch may be smaller; rows never mix domains).
 */
export function* evalBatches(streams: TokenStreams, opts: EvalOptions): Generator<Batch> {
  const who = "evalBatches";
  checkShape(opts.batchSize, opts.seqLen, who);
  if (opts.maxWindows !== undefined && !(Number.isInteger(opts.maxWindows) && opts.maxWindows >= 1)) {
    throw new RangeError(`${who}: maxWindows must be a positive integer (got ${opts.maxWindows})`);
  }
  const domains = opts.domains ?? Object.keys(streams);
  if (domains.length === 0) throw new Error(`${who}: no domains to evaluate`);
  const T = opts.seqLen;
  // Validate everything before yielding anything, so a bad domain fails fast.
  const plans = domains.map((d) => {
    const stream = checkStream(streams, d, T, who);
    const W = windowCount(stream.length, T);
    const n = opts.maxWindows === undefined ? W : Math.min(W, opts.maxWindows);
    const windows = Array.from({ length: n }, (_, i) => (n === W ? i : Math.floor((i * W) / n)));
    return { d, stream, windows };
  });
  for (const { d, stream, windows } of plans) {
    for (let first = 0; first < windows.length; first += opts.batchSize) {
      const rows = windows.slice(first, first + opts.batchSize);
      const ids = new Int32Array(rows.length * (T + 1)); // [B, T+1]
      rows.forEach((k, r) => ids.set(stream.subarray(k * T, k * T + T + 1), r * (T + 1)));
      yield { ids, batchSize: rows.length, seqLen: T, domains: rows.map(() => d), windows: rows };
    }
  }
}

/** Split a batch into inputs [B, T] and targets [B, T] (targets are inputs shifted left by one). */
export function inputsAndTargets(batch: Batch): { inputs: Int32Array; targets: Int32Array } {
  const { batchSize: B, seqLen: T, ids } = batch;
  const inputs = new Int32Array(B * T); // [B, T]
  const targets = new Int32Array(B * T); // [B, T]
  for (let r = 0; r < B; r++) {
    inputs.set(ids.subarray(r * (T + 1), r * (T + 1) + T), r * T);
    targets.set(ids.subarray(r * (T + 1) + 1, (r + 1) * (T + 1)), r * T);
  }
  return { inputs, targets };
}

// ---------------------------------------------------------------------------------------------
// Building token streams from a corpus
// ---------------------------------------------------------------------------------------------

/** The part of `Corpus` (lib/data/corpus.ts) the batcher needs. */
export interface CorpusLike {
  documents(query?: { domain?: string; split?: string }): { domain: string; text: string }[];
}

export interface TokenStreamOptions {
  /** "train" | "valid" | "test". */
  split: string;
  /** Domains to build (default: every domain that has documents in the split, sorted). */
  domains?: readonly string[];
  /**
   * "memory" (default): reuse streams within this process. "disk": also read/write
   * `<cacheDir>/tokens-<key>.i32`. "none": always encode.
   */
  cache?: "memory" | "disk" | "none";
  /** Default: $FLEXOLMO_CACHE, else ~/.cache/flexolmo-lab, else the OS temp dir. */
  cacheDir?: string;
}

const memoryCache = new Map<string, Int32Array>();

/** Forget the in-memory token streams (the disk cache is left alone). */
export function clearTokenStreamCache(): void {
  memoryCache.clear();
}

/** Join encoded documents into one stream, each followed by EOS: doc₀ EOS doc₁ EOS … */
export function joinWithEos(docs: readonly ArrayLike<number>[], eosId: number): Int32Array {
  const total = docs.reduce((s, d) => s + d.length + 1, 0);
  const out = new Int32Array(total);
  let off = 0;
  for (const d of docs) {
    out.set(d, off);
    off += d.length;
    out[off++] = eosId;
  }
  return out;
}

/**
 * Token streams of a split, one per domain, in the corpus's document order.
 * Cache key: sha256 of (tokenizer hash, split, domain, every document text). Hashing the texts
 * costs ~0.1 s for the whole corpus, far less than encoding, and can never go stale.
 */
export async function tokenStreams(corpus: CorpusLike, tokenizer: Tokenizer, opts: TokenStreamOptions): Promise<TokenStreams> {
  const who = "tokenStreams";
  const cacheMode = opts.cache ?? "memory";
  if (!["memory", "disk", "none"].includes(cacheMode)) throw new Error(`${who}: cache must be "memory", "disk" or "none" (got ${JSON.stringify(cacheMode)})`);
  const docs = corpus.documents({ split: opts.split });
  const byDomain = new Map<string, string[]>();
  for (const doc of docs) {
    let list = byDomain.get(doc.domain);
    if (list === undefined) byDomain.set(doc.domain, (list = []));
    list.push(doc.text);
  }
  const domains = opts.domains ?? [...byDomain.keys()].sort();
  const out: TokenStreams = {};
  for (const d of domains) {
    const texts = byDomain.get(d);
    if (texts === undefined || texts.length === 0) {
      throw new Error(`${who}: no documents for domain ${JSON.stringify(d)} in split ${JSON.stringify(opts.split)}; available: ${JSON.stringify([...byDomain.keys()].sort())}`);
    }
    const h = crypto.createHash("sha256").update(`${tokenizer.sha256}\u0000${opts.split}\u0000${d}\u0000${texts.length}`);
    for (const t of texts) h.update(t).update("\u0000");
    const key = h.digest("hex").slice(0, 32);
    let stream = cacheMode === "none" ? undefined : memoryCache.get(key);
    const file = cacheMode === "disk" ? path.join(opts.cacheDir ?? defaultCacheDir(), `tokens-${key}.i32`) : null;
    if (stream === undefined && file !== null) stream = readStreamFile(file);
    if (stream === undefined) {
      stream = joinWithEos(await tokenizer.encodeBatch(texts), tokenizer.eosId);
      if (file !== null) writeStreamFile(file, stream);
    }
    if (cacheMode !== "none") memoryCache.set(key, stream);
    out[d] = stream;
  }
  return out;
}

/**
 * Convenience: token streams of `split` for the mix's domains, then a `TokenBatcher` over them.
 *   const batcher = await corpusBatcher(corpus, tok, { split: "train", mix: { math: 1, public: 3 }, batchSize: 16, seqLen: 128, seed: 0 });
 */
export async function corpusBatcher(
  corpus: CorpusLike,
  tokenizer: Tokenizer,
  opts: BatcherOptions & { split: string; cache?: TokenStreamOptions["cache"]; cacheDir?: string },
): Promise<TokenBatcher> {
  // Validate the mix before spending seconds on encoding.
  resolveMix(opts.mix, "corpusBatcher");
  const domains = typeof opts.mix === "string" ? [opts.mix] : Object.keys(opts.mix).sort();
  const streams = await tokenStreams(corpus, tokenizer, { split: opts.split, domains, cache: opts.cache, cacheDir: opts.cacheDir });
  return new TokenBatcher(streams, opts);
}

function defaultCacheDir(): string {
  if (process.env.FLEXOLMO_CACHE) return process.env.FLEXOLMO_CACHE;
  const home = os.homedir();
  return home ? path.join(home, ".cache", "flexolmo-lab") : path.join(os.tmpdir(), "flexolmo-lab");
}

/** A cached stream, or undefined if missing or unreadable (a bad cache file is just a miss). */
function readStreamFile(file: string): Int32Array | undefined {
  try {
    const buf = fs.readFileSync(file);
    if (buf.length % 4 !== 0) return undefined;
    const out = new Int32Array(buf.length / 4);
    new Uint8Array(out.buffer).set(buf); // copy: Buffer slices may be unaligned
    return out;
  } catch {
    return undefined;
  }
}

/** Atomic write (temp file + rename), so a crash never leaves a truncated cache file behind. */
function writeStreamFile(file: string, stream: Int32Array): void {
  try {
    makeDirs(path.dirname(file));
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, new Uint8Array(stream.buffer, stream.byteOffset, stream.byteLength));
    fs.renameSync(tmp, file);
  } catch (err) {
    // The cache is an optimisation: failing to write it must not fail the caller.
    process.emitWarning(`tokenStreams: could not write cache file ${file}: ${(err as Error).message}`);
  }
}
