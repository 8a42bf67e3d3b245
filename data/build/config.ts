/**
 * Build settings for FlexMix-mini. Typed data; each default says why. Changing any value changes
 * the corpus (and its hashes), so bump CORPUS_VERSION when you do.
 */

export const CORPUS_NAME = "flexmix-mini";
/** Bump when the build's output changes on purpose. */
export const CORPUS_VERSION = "1.0.0";

export const BUILD_CONFIG = {
  /** Characters per closed domain before the public slice: ≈1 M BPE tokens, plenty for a few-M-parameter expert, and the whole corpus stays ~6 MB compressed (≤ 12 MB budget). */
  capChars: 3_000_000,
  /** Fraction of each domain's parents moved to the public mix (FlexMix's public set is itself a broad mix). */
  publicFraction: 0.08,
  /** Train/valid share of split groups (test gets the rest): the usual 80/10/10. */
  trainFraction: 0.8,
  validFraction: 0.1,
  /** Prose chunk size: 3 k characters ≈ 1 k tokens, a few training windows per document. */
  proseChunk: 3000,
  /** SOTU sentences are packed a little shorter so chunks end near sentence boundaries evenly. */
  newsChunk: 2800,
  /** Code chunks may be longer: a whole function with its doc comment stays together. */
  codeChunk: 4000,
  /** WordNet pages: ~2 k characters of themed glossary lines. */
  wordnetChunk: 2000,
  /** Python share of the code domain, so JS/TS are not drowned out (the study's build was 85 % Python). */
  pythonChars: 1_500_000,
  /** KJV share of the public mix's general part: the whole Bible (4.3 M) would dominate public. */
  kjvChars: 1_500_000,
  /** Minimum sizes: shorter entries are mostly cross-reference stubs or one-liners. */
  foldocMinChars: 300,
  devilMinChars: 120,
  legalMinChars: 300,
  forumMinChars: 200,
  wordnetMinGloss: 25,
  /** Near-duplicate removal within a domain: MinHash over word 5-shingles, 32 bands × 4 rows, Jaccard ≥ 0.8 confirmed exactly. */
  minhash: { shingle: 5, bands: 32, rows: 4, threshold: 0.8 },
  /** Math generator: seed, worksheet count (≈ 3 M characters) and the held-out test worksheets. */
  math: { seed: 20250709, worksheets: 2500, heldOutWorksheets: 120 },
  /** ZSTD level for the committed Arrow file: 19 is ~25 % smaller than 3 and written only once. */
  zstdLevel: 19,
  /** Tokenizer: byte-level BPE, vocabulary 4096 (the model's default vocab size). */
  vocabSize: 4096,
} as const;
