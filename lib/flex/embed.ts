/**
 * Domain embeddings: the vectors FlexOlmo copies into the router row of every layer.
 *
 * The paper embeds 1 000 documents per domain with GritLM-7B (4096-d, the same width as the model)
 * and takes the mean (docs/method.md §2.2). We cannot run GritLM here, so the *external* embedder is its
 * stand-in: hashed word and character n-gram TF-IDF, pushed through a fixed, public, seeded random
 * projection to d_model. What matters for FlexOlmo is preserved: the embedder is independent of
 * the language model, identical for every owner (nothing in it depends on any owner's data —
 * the IDF table comes from the public split only), and it gives each domain a distinct direction.
 * (Spec §2.2 notes that GritLM space and the residual stream are unrelated anyway: the init gives
 * non-collapsed starting directions, not semantically aligned routing.)
 *
 * Two alternatives from the paper: the public model's own mean hidden state (Table 3, worse) and
 * random init (the ablation that makes router rows collapse together).
 */

import { Rng } from "../model/rng";
import { fmix32, fnv1a32 } from "../util/hash";

export type EmbedderName = "external" | "public" | "random";

/** Options of the external (TF-IDF + random projection) embedder. Each default says why. */
export interface ExternalEmbedderOptions {
  /** Hash buckets for n-gram features: 2^18 keeps collisions rare for a few thousand documents. */
  buckets: number;
  /** Seed of the public projection. Every owner must use the same one (it is part of the protocol). */
  projectionSeed: number;
  /** Character n-gram sizes; 3–5 capture sub-word style (code punctuation, math symbols). */
  charNgrams: number[];
  /** Word n-gram sizes; unigrams and bigrams carry topic. */
  wordNgrams: number[];
}

export const DEFAULT_EXTERNAL: ExternalEmbedderOptions = {
  buckets: 1 << 18,
  projectionSeed: 0x5eed_f1e0,
  charNgrams: [3, 4, 5],
  wordNgrams: [1, 2],
};

/**
 * FNV-1a, then murmur3's finaliser. Plain FNV-1a mixes its low bits weakly for short keys; the
 * avalanche makes `% buckets` safe. `seed` salts the hash per n-gram order.
 */
export function featureHash(s: string, seed = 0x811c9dc5): number {
  return fmix32(fnv1a32(s, seed));
}

/** Sparse term counts: bucket → count. */
export type SparseCounts = Map<number, number>;

/** Hashed word and char n-gram counts of one text (lower-cased, whitespace-normalised). */
export function ngramCounts(text: string, opts: ExternalEmbedderOptions = DEFAULT_EXTERNAL): SparseCounts {
  const counts: SparseCounts = new Map();
  const bump = (key: string, salt: number) => {
    const b = featureHash(key, salt) % opts.buckets;
    counts.set(b, (counts.get(b) ?? 0) + 1);
  };
  const norm = text.toLowerCase().replace(/\s+/g, " ").trim();
  // Words and punctuation marks are both tokens: code and math are recognisable by their symbols.
  const words = norm.match(/[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];
  for (const n of opts.wordNgrams) {
    for (let i = 0; i + n <= words.length; i++) bump(words.slice(i, i + n).join(" "), 0x1000 + n);
  }
  for (const n of opts.charNgrams) {
    for (let i = 0; i + n <= norm.length; i++) bump(norm.slice(i, i + n), 0x2000 + n);
  }
  return counts;
}

/** Inverse document frequencies, fitted on a reference set every owner can see (the public split). */
export interface IdfTable {
  /** log((1 + N) / (1 + df)) + 1, sklearn's smooth IDF; unseen buckets get the maximum. */
  idf: Map<number, number>;
  unseen: number;
  documents: number;
}

export function fitIdf(texts: Iterable<string>, opts: ExternalEmbedderOptions = DEFAULT_EXTERNAL): IdfTable {
  const df = new Map<number, number>();
  let n = 0;
  for (const t of texts) {
    n++;
    for (const b of ngramCounts(t, opts).keys()) df.set(b, (df.get(b) ?? 0) + 1);
  }
  const idf = new Map<number, number>();
  for (const [b, d] of df) idf.set(b, Math.log((1 + n) / (1 + d)) + 1);
  return { idf, unseen: Math.log(1 + n) + 1, documents: n };
}

/**
 * Projection entry for (bucket, dim): ±1/√d, a sign drawn by hashing — the Achlioptas random
 * projection, generated on the fly so the 2^18 × d matrix never needs storing. Fixed by the seed.
 */
function projectInto(out: Float64Array, bucket: number, weight: number, seed: number): void {
  const d = out.length;
  const scale = weight / Math.sqrt(d);
  let h = fmix32((bucket ^ seed) >>> 0);
  for (let j0 = 0; j0 < d; j0 += 32) {
    h = fmix32((h + Math.imul(j0 + 1, 0x9e3779b9)) >>> 0); // 32 signs per hash
    const end = Math.min(d, j0 + 32);
    // Branch-free: the signs are coin flips, so `bit ? scale : -scale` mispredicts half the time (4× slower).
    // Multiplying by exactly ±1 gives the same bits as the branch did.
    for (let j = j0; j < end; j++) out[j] += scale * ((((h >>> (j & 31)) & 1) << 1) - 1);
  }
}

/**
 * Embed one text: sublinear TF × IDF, L2-normalised in feature space, projected to `dModel`,
 * then L2-normalised again (sentence embedders such as GritLM return unit vectors).
 */
export function embedText(text: string, dModel: number, idf: IdfTable, opts: ExternalEmbedderOptions = DEFAULT_EXTERNAL): Float64Array {
  const counts = ngramCounts(text, opts);
  const out = new Float64Array(dModel);
  let sq = 0;
  const weights: Array<[number, number]> = [];
  for (const [b, c] of counts) {
    const w = (1 + Math.log(c)) * (idf.idf.get(b) ?? idf.unseen);
    weights.push([b, w]);
    sq += w * w;
  }
  if (sq === 0) return out; // empty text: the zero vector (it contributes nothing to a mean)
  const inv = 1 / Math.sqrt(sq);
  for (const [b, w] of weights) projectInto(out, b, w * inv, opts.projectionSeed);
  return l2normalise(out);
}

export function l2normalise(v: Float64Array): Float64Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  if (s === 0) return v;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return v;
}

/** Mean of unit document embeddings (docs/method.md §2.2: r_i = (1/|S_i|) Σ E(d)); its norm is ≤ 1. */
export function meanEmbedding(texts: readonly string[], dModel: number, idf: IdfTable, opts: ExternalEmbedderOptions = DEFAULT_EXTERNAL): Float32Array {
  if (texts.length === 0) throw new Error("Cannot embed a domain from zero documents: pass at least one document (docs ≥ 1).");
  const acc = new Float64Array(dModel);
  for (const t of texts) {
    const e = embedText(t, dModel, idf, opts);
    for (let j = 0; j < dModel; j++) acc[j] += e[j];
  }
  const out = new Float32Array(dModel);
  for (let j = 0; j < dModel; j++) out[j] = acc[j] / texts.length;
  return out;
}

/** Cosine similarity of two vectors (0 when either is zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine: length mismatch (${a.length} vs ${b.length})`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/**
 * The random-init ablation, as FlexOlmo's code initialises a router without domain embeddings
 * (docs/method.md §2.2: truncated normal, std 0.002, clipped to [−0.006, 0]). NOTE: the upper clip at 0
 * is what the spec records from `MoELinearRouterWithExpertBias.reset_parameters`; it puts every
 * row in the negative orthant, which may be part of why random rows end up similar.
 */
export function randomEmbedding(dModel: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(dModel);
  const std = 0.002;
  for (let j = 0; j < dModel; j++) {
    // Rejection outside the clip range: a truncated normal, not a clamped one.
    let z = rng.truncNormal(std, 3);
    while (z > 0) z = rng.truncNormal(std, 3);
    out[j] = z;
  }
  return out;
}

/** A domain embedding: the vector copied into a router row of every layer (docs/method.md §2.2). */
export interface DomainEmbedding {
  domain: string;
  embedder: EmbedderName;
  /** Documents it was averaged over. */
  documents: number;
  vector: Float32Array;
  /** sha256 of the vector's bytes: two owners with equal hashes used bit-identical rows. */
  sha256: string;
}

/** The public model as the "public" embedder sees it: weights, config and a fingerprint (for caching). */
export interface EmbeddingModel {
  params: import("../model/params").ModelParams;
  config: import("../model/config").ModelConfig;
  trunkFingerprint(): string;
}

export interface EmbedOptions {
  embedder?: EmbedderName;
  /** Documents to average over (the paper samples 1 000). */
  docs?: number;
  /** The public model, for embedder "public". */
  from?: EmbeddingModel;
}
