/**
 * The one likelihood scorer: log p(target) at every position under a model, and what is built on it
 * — the summed log-likelihood of answer options after a context (the toy tasks) for any model that
 * can give per-position log-probabilities. Evaluation windows, ensembles and tasks all use these, so
 * "the model's log-likelihood" is computed one way everywhere.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";

/** Anything that maps ids [B, T] to logits [B, T, V] under its own view. */
export interface LogitModel {
  config: ModelConfig;
  logits(ids: tf.Tensor2D): tf.Tensor3D;
}

/** log p of each option given the context (one number per option). */
export type OptionScorer = (context: number[], options: number[][]) => Promise<number[]>;

/**
 * log p(target) at every position of a [B, T] batch: [B·T], computed as z[y] − logsumexp(z) on the
 * backend and read back as a fresh array.
 */
export async function targetLogProbs(m: LogitModel, inputs: Int32Array, targets: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
  const z = tf.tidy(() => tf.reshape(m.logits(tf.tensor2d(inputs, [B, T], "int32")), [B * T, m.config.vocabSize]) as tf.Tensor2D); // [N, V]
  try {
    return await logProbsOf(z, targets);
  } finally {
    z.dispose();
  }
}

/** log p(target) per row of logits z [N, V] (a model's, or an ensemble's mixture): [N]. */
export async function logProbsOf(z: tf.Tensor2D, targets: ArrayLike<number>): Promise<Float32Array> {
  const [N, V] = z.shape;
  const flat = new Int32Array(N);
  for (let i = 0; i < N; i++) flat[i] = i * V + targets[i]; // position of each target in the flat [N·V] logits
  const lp = tf.tidy(() => tf.sub(tf.gather(tf.reshape(z, [N * V]), tf.tensor1d(flat, "int32")), tf.logSumExp(z, 1))); // [N]
  const out = Float32Array.from(await lp.data());
  lp.dispose();
  return out;
}

/** Inputs and targets of a token sequence: ids[:-1] and ids[1:] as one row (T = length − 1). */
export function shiftRow(ids: ArrayLike<number>): { inputs: Int32Array; targets: Int32Array; T: number } {
  const T = ids.length - 1;
  const inputs = new Int32Array(T), targets = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    inputs[t] = ids[t];
    targets[t] = ids[t + 1];
  }
  return { inputs, targets, T };
}

/** Rows [K, T] of context + option (zero-padded at the end: causal attention never looks ahead). */
export interface OptionRows {
  ids: Int32Array;
  K: number;
  T: number;
}

export function optionRows(context: number[], options: number[][]): OptionRows {
  const len = Math.max(...options.map((o) => o.length));
  const T = context.length + len;
  const ids = new Int32Array(options.length * T);
  options.forEach((o, r) => {
    ids.set(context, r * T);
    ids.set(o, r * T + context.length);
  });
  return { ids, K: options.length, T };
}

/** Log p of every next token of every option row: [K·(T−1)] (position t predicts token t + 1). */
export async function rowLogProbs(m: LogitModel, rows: OptionRows): Promise<Float32Array> {
  const { ids, K, T } = rows;
  const inputs = new Int32Array(K * (T - 1)), targets = new Int32Array(K * (T - 1)); // [K, T − 1]
  for (let r = 0; r < K; r++) {
    inputs.set(ids.subarray(r * T, r * T + T - 1), r * (T - 1));
    targets.set(ids.subarray(r * T + 1, (r + 1) * T), r * (T - 1));
  }
  return targetLogProbs(m, inputs, targets, K, T - 1);
}

/** Sum of each option's token log-probs from per-position values [K·(T−1)]. */
export function optionSums(perPos: ArrayLike<number>, context: number[], options: number[][], T: number): number[] {
  return options.map((o, r) => {
    let s = 0;
    for (let j = 0; j < o.length; j++) s += perPos[r * (T - 1) + context.length - 1 + j]; // position c−1+j predicts option token j
    return s;
  });
}

/** A context and its candidate continuations (a toy-task item without its answer). */
export interface OptionItem {
  context: number[];
  options: number[][];
}

/**
 * Log-likelihood of each option after its context, for many items (FlexModel.scoreOptions is one
 * item): their `optionRows` packed into forward passes of at most `maxTokens`
 * positions each (every row zero-padded at the end to the pass's longest, which causal attention
 * never reads). One pass per few dozen items instead of one per item. A single item is exactly
 * `optionRows` → `rowLogProbs` → `optionSums`; packed items equal that up to float rounding (a longer
 * row can change the order of a reduction).
 */
export async function scoreOptionsBatch(m: LogitModel, items: readonly OptionItem[], maxTokens = 4096): Promise<number[][]> {
  for (const it of items) checkOptions(m.config, it.context, it.options);
  const rows = items.map((it) => optionRows(it.context, it.options)); // [K_i, T_i] each
  const out: number[][] = new Array(items.length);
  for (let i = 0; i < items.length; ) {
    // Take items while the padded pass stays within maxTokens (always at least one item).
    let j = i, T = 0, R = 0;
    while (j < items.length) {
      const nT = Math.max(T, rows[j].T), nR = R + rows[j].K;
      if (j > i && nR * (nT - 1) > maxTokens) break;
      [T, R] = [nT, nR];
      j++;
    }
    const ids = new Int32Array(R * T); // [R, T]
    for (let k = i, r = 0; k < j; r += rows[k].K, k++) {
      for (let q = 0; q < rows[k].K; q++) ids.set(rows[k].ids.subarray(q * rows[k].T, (q + 1) * rows[k].T), (r + q) * T);
    }
    const lp = await rowLogProbs(m, { ids, K: R, T }); // [R·(T−1)]
    for (let k = i, r = 0; k < j; r += rows[k].K, k++) out[k] = optionSums(lp.subarray(r * (T - 1)), items[k].context, items[k].options, T);
    i = j;
  }
  return out;
}

/**
 * Refuses what would otherwise fail deep in TF.js ("shape comprised of positive integers", a
 * GatherV2 index error) or score nothing: the context predicts each option's first token, so it
 * needs one token; every id must be in the vocabulary; context + option must fit the context window.
 */
export function checkOptions(cfg: Pick<ModelConfig, "vocabSize" | "maxSeqLen">, context: number[], options: number[][]): void {
  const ids = (xs: unknown, what: string) => {
    if (!Array.isArray(xs)) throw new Error(`scoreOptions: ${what} must be an array of token ids (got ${xs === null ? "null" : typeof xs}).`);
    xs.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new Error(`scoreOptions: ${what}[${i}] = ${String(id)} is not a token id in [0, ${cfg.vocabSize}); encode text with the model's tokenizer.`);
    });
  };
  ids(context, "context");
  if (context.length === 0) throw new Error("scoreOptions: the context is empty; it needs at least one token (the one that predicts each option's first token), e.g. the end-of-text id.");
  if (!Array.isArray(options) || options.length === 0) throw new Error("scoreOptions: pass at least one option (an array of token-id arrays).");
  options.forEach((o, r) => {
    ids(o, `options[${r}]`);
    if (o.length === 0) throw new Error(`scoreOptions: options[${r}] is empty; every option needs at least one token to score.`);
  });
  const longest = Math.max(...options.map((o) => o.length));
  if (context.length + longest - 1 > cfg.maxSeqLen) {
    throw new Error(`scoreOptions: context (${context.length} tokens) + the longest option (${longest}) needs ${context.length + longest - 1} positions, more than the model's context of ${cfg.maxSeqLen}; shorten the context.`);
  }
}

/** log Σ_m w_m exp(lp_m) over the members with w_m > 0 (a mixture's log-probability). */
export function logMix(w: ArrayLike<number>, lp: ArrayLike<number>): number {
  let mx = -Infinity;
  for (let j = 0; j < w.length; j++) if (w[j] > 0 && lp[j] > mx) mx = lp[j];
  let s = 0;
  for (let j = 0; j < w.length; j++) if (w[j] > 0) s += w[j] * Math.exp(lp[j] - mx);
  return mx + Math.log(s);
}
