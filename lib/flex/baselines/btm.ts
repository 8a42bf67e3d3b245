/**
 * Branch-Train-Merge (docs/method.md §7): an output ensemble weighted per position by each member's
 * fit to the window so far.
 */
import * as tf from "../../tf";
import type { ScoreBatch } from "../evaluate";
import { logMix, logProbsOf, optionRows, optionSums, rowLogProbs, shiftRow, targetLogProbs } from "../likelihood";
import { resolveGenerateOptions, sampleToken, type FlexModel, type GenerateOptions } from "../model";
import { AttributionResult, GenerateResult } from "../results";
import { topKSoftmax, type ModelSource } from "./common";
import { checkMode, checkTau, Ensemble, promptIds, type LikelihoodMode, type LikelihoodWeightOptions } from "./ensemble";
// ---------------------------------------------------------------------------------------------
// BTM

/**
 * BTM's weights are w = softmax(−L/τ). Defaults: τ = 1 and likelihood "sum" (Bayes' rule as in
 * BTM): together, the Bayesian posterior over members (uniform prior).
 */
export interface BtmOptions extends LikelihoodWeightOptions {
  /** Keep only the k highest-weighted members per position, renormalised. Default 2 (the paper's strongest BTM is top-2). */
  topK?: number;
  /**
   * "probs" (default; the paper's §4.3): p(y) = Σ_m w_m p_m(y). "logits" (App. A.1): softmax(Σ_m w_m z_m).
   * (Mixing raw logits or log-probabilities is the same thing: they differ by a per-position constant.)
   */
  combine?: "probs" | "logits";
}

/**
 * Branch-Train-Merge (docs/method.md §7): an output ensemble. At position t, member m's weight is
 * softmax_m(−L_m(<t)/τ) with L_m(<t) its NLL of the window's tokens before t, restricted to the
 * top-k members and renormalised. With one member this is exactly that member.
 */
export class Btm extends Ensemble {
  readonly kind = "btm" as const;
  readonly tau: number;
  readonly topK: number;
  readonly combine: "probs" | "logits";
  readonly likelihood: LikelihoodMode;

  constructor(sources: readonly ModelSource[], opts: BtmOptions = {}) {
    super(sources, opts.label ?? `BTM (top-${Math.min(opts.topK ?? 2, sources.length)})`, "btm", opts.lab);
    this.tau = opts.tau ?? 1;
    this.topK = Math.min(opts.topK ?? 2, this.members.length);
    this.combine = opts.combine ?? "probs";
    this.likelihood = opts.likelihood ?? "sum";
    checkTau(this.tau, "btm");
    checkMode(this.likelihood, "btm");
    if (!Number.isInteger(opts.topK ?? 2) || (opts.topK ?? 2) < 1) throw new Error(`btm: topK must be a positive integer (got ${opts.topK}).`);
    if (this.combine !== "probs" && this.combine !== "logits") throw new Error(`btm: combine must be "probs" or "logits" (got ${JSON.stringify(this.combine)}).`);
  }

  protected options(): Record<string, unknown> {
    return { tau: this.tau, topK: this.topK, combine: this.combine, likelihood: this.likelihood };
  }

  protected rebuild(members: FlexModel[]): Btm {
    return new Btm(members, { tau: this.tau, topK: this.topK, combine: this.combine, likelihood: this.likelihood, ...this.rebuiltOptions(members) });
  }

  /**
   * Per position weights [B·T][M] from per-member target log-probs lp[m][B·T]: position t of a row
   * uses the targets at 0..t−1 of that row.
   */
  positionWeights(lp: Float32Array[], B: number, T: number): Float64Array[] {
    const M = lp.length;
    const out: Float64Array[] = new Array(B * T);
    const cum = new Float64Array(M);
    const s = new Float64Array(M);
    for (let r = 0; r < B; r++) {
      cum.fill(0);
      for (let t = 0; t < T; t++) {
        const i = r * T + t;
        for (let m = 0; m < M; m++) s[m] = t === 0 ? 0 : -(this.likelihood === "sum" ? cum[m] : cum[m] / t) / this.tau;
        out[i] = topKSoftmax(s, this.topK);
        for (let m = 0; m < M; m++) cum[m] -= lp[m][i]; // now includes target t, for position t + 1
      }
    }
    return out;
  }

  protected async score(b: ScoreBatch): Promise<Float64Array> {
    const { B, T } = b;
    const M = this.members.length;
    const out = new Float64Array(B);
    if (this.combine === "probs") {
      const lp: Float32Array[] = [];
      for (const m of this.members) lp.push(await targetLogProbs(m, b.inputs, b.targets, B, T));
      const w = this.positionWeights(lp, B, T);
      const col = new Float64Array(M);
      for (let i = 0; i < B * T; i++) {
        for (let m = 0; m < M; m++) col[m] = lp[m][i];
        out[Math.floor(i / T)] -= logMix(w[i], col);
      }
      return out;
    }
    // "logits": the weights need each member's target log-probs; the mixture needs the full logits.
    const V = this.members[0].config.vocabSize, N = B * T;
    const zs: tf.Tensor2D[] = [];
    try {
      const lp: Float32Array[] = [];
      for (const m of this.members) {
        const z = tf.tidy(() => tf.reshape(m.logits(tf.tensor2d(b.inputs, [B, T], "int32")), [N, V]) as tf.Tensor2D); // [N, V]
        zs.push(z);
        lp.push(await logProbsOf(z, b.targets));
      }
      const w = this.positionWeights(lp, B, T);
      const wFlat = new Float32Array(N * M); // [N, M]
      for (let i = 0; i < N; i++) for (let m = 0; m < M; m++) wFlat[i * M + m] = w[i][m];
      const mixed = tf.tidy(() => {
        const wT = tf.tensor2d(wFlat, [N, M]);
        return tf.addN(zs.map((z, m) => tf.mul(z, tf.slice(wT, [0, m], [N, 1])))) as tf.Tensor2D; // [N, V]
      });
      const lpMix = await logProbsOf(mixed, b.targets);
      mixed.dispose();
      for (let i = 0; i < N; i++) out[Math.floor(i / T)] -= lpMix[i];
      return out;
    } finally {
      zs.forEach((z) => z.dispose());
    }
  }

  /** Sample with the ensemble: at each step the weights come from the prompt and the text generated so far. */
  /** Per position, members weighted by their NLL of everything before it (context and option so far), mixed. */
  async scoreOptions(context: number[], options: number[][]): Promise<number[]> {
    const rows = optionRows(context, options);
    const lp: Float32Array[] = [];
    for (const m of this.members) lp.push(await rowLogProbs(m, rows));
    const w = this.positionWeights(lp, rows.K, rows.T - 1);
    const col = new Float64Array(lp.length);
    const mixed = new Float64Array(rows.K * (rows.T - 1));
    for (let i = 0; i < mixed.length; i++) {
      for (let m = 0; m < lp.length; m++) col[m] = lp[m][i];
      mixed[i] = logMix(w[i], col);
    }
    return optionSums(mixed, context, options, rows.T);
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const ctx = await this.ctx();
    const { maxTokens, temperature, topK, topP, rng, signal } = resolveGenerateOptions(opts);
    const ids = promptIds(ctx, prompt);
    const promptLen = ids.length;
    const maxLen = Math.min(...this.members.map((m) => m.config.maxSeqLen));
    const V = this.members[0].config.vocabSize;
    let aborted = false;
    for (let step = 0; step < maxTokens; step++) {
      // As FlexModel.generate: the signal (default: the kernel's interrupt) is checked between tokens.
      if (signal.aborted) {
        aborted = true;
        break;
      }
      const window = ids.slice(-maxLen);
      const L = window.length;
      const next: Float32Array[] = []; // per member: log-softmax (probs) or raw logits (logits) of the next token
      const lp: Float32Array[] = []; // per member: log p of window[1..L-1]
      for (const m of this.members) {
        const { rows, last } = await memberStep(m, window, V, this.combine === "probs");
        lp.push(rows);
        next.push(last);
      }
      // Weights for the next position: the whole window is its prefix.
      const s = lp.map((x) => {
        let nll = 0;
        for (const v of x) nll -= v;
        return L < 2 ? 0 : -(this.likelihood === "sum" ? nll : nll / (L - 1)) / this.tau;
      });
      const w = topKSoftmax(s, this.topK);
      const z = new Float32Array(V);
      const col = new Float64Array(this.members.length);
      for (let v = 0; v < V; v++) {
        if (this.combine === "probs") {
          for (let m = 0; m < col.length; m++) col[m] = next[m][v];
          z[v] = logMix(w, col); // log of the mixture probability: a valid "logit" for sampling
        } else {
          let acc = 0;
          for (let m = 0; m < col.length; m++) acc += w[m] * next[m][v];
          z[v] = acc;
        }
      }
      const tok = sampleToken(z, { temperature, topK, topP }, rng);
      ids.push(tok);
      if (tok === ctx.tokenizer.eosId) break;
      await new Promise((r) => setImmediate(r)); // let a timer or the interrupt abort the signal before the next token
    }
    const completionIds = ids.slice(promptLen);
    return new GenerateResult({ model: this.label, prompt, completion: ctx.tokenizer.decode(completionIds), tokens: completionIds, seed: opts.seed ?? 0, aborted });
  }

  /** Per token, each member's weight when that token was predicted (the first token: uniform). */
  async attribution(text: string): Promise<AttributionResult> {
    const ctx = await this.ctx();
    const ids = promptIds(ctx, text);
    const maxLen = Math.min(...this.members.map((m) => m.config.maxSeqLen));
    // BTM's weights at a position come from every token before it in the window, so a longer text
    // cannot be cut into independent windows without changing what is attributed: refuse it clearly.
    if (ids.length > maxLen + 1) throw new Error(`attribution: BTM attributes one window of at most ${maxLen + 1} tokens, and this text has ${ids.length}; pass a shorter text (or attribute it in parts).`);
    if (ids.length < 2) throw new Error("attribution: BTM needs at least two tokens of text (weights come from the tokens before each position).");
    const { inputs, targets, T } = shiftRow(ids);
    const lp: Float32Array[] = [];
    for (const m of this.members) lp.push(await targetLogProbs(m, inputs, targets, 1, T));
    const w = this.positionWeights(lp, 1, T);
    return new AttributionResult({ model: this.label, experts: this.experts, owners: this.experts, tokens: Array.from(targets, (i) => ctx.tokenizer.decode([i])), shares: w.map((x) => Array.from(x)) });
  }
}

/** One member on a generation window: log p of window[1..], and the next token's log-softmax (or raw logits). */
async function memberStep(m: FlexModel, window: number[], V: number, logSoftmax: boolean): Promise<{ rows: Float32Array; last: Float32Array }> {
  const L = window.length;
  const z = tf.tidy(() => tf.reshape(m.logits(tf.tensor2d(Int32Array.from(window), [1, L], "int32")), [L, V]) as tf.Tensor2D); // [L, V]
  try {
    const rows = L > 1 ? (await logProbsOf(z, window.slice(1).concat([0]))).slice(0, L - 1) : new Float32Array(0);
    const lastT = tf.tidy(() => {
      const row = tf.reshape(tf.slice(z, [L - 1, 0], [1, V]), [V]); // [V]
      return logSoftmax ? tf.sub(row, tf.logSumExp(row)) : row;
    });
    const last = Float32Array.from(await lastT.data());
    lastT.dispose();
    return { rows, last };
  } finally {
    z.dispose();
  }
}

