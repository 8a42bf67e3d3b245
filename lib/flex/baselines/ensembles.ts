/**
 * Baselines whose output depends on the input in a way one set of weights cannot express
 * (spec §7): the likelihood-weighted model soup, BTM (an output ensemble), and prompt routing.
 * Each holds its own copies of its member models and behaves like a model: `evaluate`,
 * `generate`, `attribution` (which member produced what), `manifest`, `without` (drop members:
 * exact opt-out, as the members never saw each other's data), `save` / `loadEnsemble`, `dispose`.
 *
 * WHICH TOKENS THE WEIGHTS USE (so no evaluation target leaks into its own prediction):
 *   - soup (likelihood) and prompt routing choose per evaluation window from the text BEFORE the
 *     window's first target: the previous window of the stream (T + 1 tokens ending with this
 *     window's first input). The first window of a stream has no such text: the soup falls back to
 *     uniform weights, routing classifies that single token. In `generate`, the prompt decides.
 *   - BTM weighs per position t from the targets before t within the window (the prefix up to
 *     each position), as BTM's Bayesian ensemble does; position 0 gets uniform weights.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { disposeParams } from "../../model/model";
import { trainDomainClassifier, type DomainClassifier } from "../../data/classifier";
import type { DataCard, OptOutGuarantee, Provenance } from "../cards";
import { OPT_OUT_NOTE } from "../cards";
import type { DataContext } from "../context";
import type { Lab } from "../lab";
import { FlexModel, resolveGenerateOptions, sampleToken, type GenerateOptions } from "../model";
import { AttributionResult, EvalResult, GenerateResult, ManifestResult } from "../results";
import {
  checkSameArchitecture,
  checkUniqueLabels,
  dataOf,
  evaluateWindows,
  flexModelOf,
  labOf,
  ownedCopy,
  shiftRow,
  targetLogProbs,
  topKSoftmax,
  weightedAverage,
  type ModelSource,
  type ScoreBatch,
  type WindowEvalOptions,
} from "./common";
import { DenseExpert } from "./dense";

/** How a model's fit to the context becomes its score: total NLL (Bayes' rule) or NLL per token. */
export type LikelihoodMode = "sum" | "mean";

/** Saved next to the members by `save(dir)`. */
interface EnsembleFile {
  format: "flexolmo-ensemble-v1";
  kind: "btm" | "soup-likelihood" | "prompt-routing";
  label: string;
  options: Record<string, unknown>;
  members: Array<{ label: string; dir: string; domain?: string }>;
}

abstract class Ensemble {
  readonly label: string;
  /** The members, in order (owned copies: the ensemble is unaffected by later training of the sources). */
  readonly members: FlexModel[];
  protected readonly lab?: Lab;

  constructor(sources: readonly ModelSource[], label: string, who: string, lab?: Lab) {
    if (!Array.isArray(sources) || sources.length === 0) throw new Error(`${who}: pass at least one model, e.g. ${who}([pub, math, code]).`);
    const ms = sources.map((s) => flexModelOf(s, who));
    checkUniqueLabels(ms.map((m) => m.label), who);
    // Every member predicts over the same tokens: the vocabularies must agree (architectures may differ).
    checkSameArchitecture(ms, who, { fields: ["vocabSize"] });
    this.lab = lab ?? sources.map(labOf).find((l) => l !== undefined);
    this.members = ms.map((m) => ownedCopy(m, this.lab));
    this.label = label;
  }

  abstract readonly kind: EnsembleFile["kind"];
  protected abstract options(): Record<string, unknown>;
  /** A new ensemble of the same kind and options over `members` (copied). */
  protected abstract rebuild(members: FlexModel[]): Ensemble;
  /** Per row of the batch, the summed NLL of its targets. */
  protected abstract score(b: ScoreBatch): Promise<Float64Array>;
  abstract generate(prompt: string, opts?: GenerateOptions): Promise<GenerateResult>;
  abstract attribution(text: string): Promise<AttributionResult>;

  /** Member labels (the "experts" of this model). */
  get experts(): string[] {
    return this.members.map((m) => m.label);
  }

  /**
   * Dropping a member removes every weight trained on its data when members are separate models
   * of disjoint closed data (public model + dense experts): exact. A member that itself mixes data
   * with approximate opt-out (e.g. a router-tuned MoE) makes the whole ensemble approximate.
   */
  get optOut(): OptOutGuarantee {
    return this.members.every((m) => m.config.experts.length === 1 || m.optOut === "exact") ? "exact" : "approximate";
  }

  protected async ctx(): Promise<DataContext> {
    return dataOf(this.lab);
  }

  /** Per-domain perplexity over the same windows as `FlexModel.evaluate`. */
  evaluate(opts: WindowEvalOptions = {}): Promise<EvalResult> {
    return this.ctx().then((ctx) =>
      evaluateWindows(
        {
          label: this.label,
          experts: this.experts,
          optOut: this.optOut,
          data: ctx,
          maxSeqLen: Math.min(...this.members.map((m) => m.config.maxSeqLen)),
          defaultDomains: defaultDomains(this.members, ctx),
          score: (b) => this.score(b),
        },
        opts,
      ),
    );
  }

  /** The ensemble without some members (by label): a new ensemble; this one is untouched. */
  without(...labels: string[]): Ensemble {
    for (const l of labels) if (!this.experts.includes(l)) throw new Error(`without: unknown member "${l}". Members: ${this.experts.join(", ")}.`);
    const keep = this.members.filter((m) => !labels.includes(m.label));
    if (keep.length === 0) throw new Error("without: that would drop every member; keep at least one.");
    return this.rebuild(keep);
  }

  /** The data in effect: every member's data cards. */
  manifest(): ManifestResult {
    const cards = new Map<string, DataCard>();
    for (const m of this.members) for (const c of m.manifest().active) if (!cards.has(c.expert)) cards.set(c.expert, c);
    return new ManifestResult({
      model: this.label,
      optOut: this.optOut,
      note: this.optOut === "exact" ? "Opt-out is exact: drop the member trained on that data with without(label); no other member saw it." : OPT_OUT_NOTE.approximate,
      active: [...cards.values()],
      excluded: [],
      provenance: { kind: "baseline", routerTuned: false, optOut: this.optOut, baseline: { method: this.kind, note: "an ensemble of separate models" } },
    });
  }

  /** Save every member (as a FlexOlmo checkpoint) and `ensemble.json`, written last and atomically. */
  async save(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    const members: EnsembleFile["members"] = [];
    for (let i = 0; i < this.members.length; i++) {
      const rel = path.join("members", String(i).padStart(2, "0"));
      await this.members[i].save(path.join(dir, rel));
      members.push({ label: this.members[i].label, dir: rel, ...this.memberExtra(i) });
    }
    const file: EnsembleFile = { format: "flexolmo-ensemble-v1", kind: this.kind, label: this.label, options: this.options(), members };
    const target = path.join(dir, "ensemble.json");
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(file, null, 2));
    fs.renameSync(tmp, target);
  }

  protected memberExtra(_i: number): { domain?: string } {
    return {};
  }

  toString(): string {
    return `${this.label}: ${this.kind} over ${this.experts.join(", ")} (opt-out ${this.optOut})`;
  }

  dispose(): void {
    for (const m of this.members) disposeParams(m.params);
  }
}

function defaultDomains(members: FlexModel[], ctx: DataContext): string[] {
  const ds = [...new Set(members.flatMap((m) => m.config.experts))].filter((e) => ctx.domains.includes(e) && e !== "public");
  if (ctx.domains.includes("public")) ds.push("public");
  return ds;
}

/** log Σ_m w_m exp(lp_m), over the members with w_m > 0. */
function logMix(w: ArrayLike<number>, lp: ArrayLike<number>): number {
  let m = -Infinity;
  for (let j = 0; j < w.length; j++) if (w[j] > 0 && lp[j] > m) m = lp[j];
  let s = 0;
  for (let j = 0; j < w.length; j++) if (w[j] > 0) s += w[j] * Math.exp(lp[j] - m);
  return m + Math.log(s);
}

/** Each member's NLL of a token sequence (length ≥ 2), as "sum" or "mean" over its tokens after the first. */
async function sequenceNll(members: FlexModel[], ids: ArrayLike<number>, mode: LikelihoodMode): Promise<number[]> {
  const { inputs, targets, T } = shiftRow(ids);
  const out: number[] = [];
  for (const m of members) {
    const lp = await targetLogProbs(m, inputs, targets, 1, T);
    let s = 0;
    for (const x of lp) s -= x;
    out.push(mode === "sum" ? s : s / T);
  }
  return out;
}

function checkTau(tau: number, who: string): void {
  if (!(typeof tau === "number" && tau > 0 && Number.isFinite(tau))) throw new Error(`${who}: tau must be a positive number (got ${tau}).`);
}

function checkMode(m: string, who: string): asserts m is LikelihoodMode {
  if (m !== "sum" && m !== "mean") throw new Error(`${who}: likelihood must be "sum" or "mean" (got ${JSON.stringify(m)}).`);
}

/** Tokens of a prompt (an empty prompt starts a fresh document, as in FlexModel.generate). */
function promptIds(ctx: DataContext, prompt: string): number[] {
  const ids = ctx.tokenizer.encode(prompt);
  if (ids.length === 0) ids.push(ctx.tokenizer.eosId);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Model soup, likelihood-weighted

export interface LikelihoodSoupOptions {
  /** Temperature of softmax(−L/τ). Default 1 (nats). */
  tau?: number;
  /**
   * "mean" (default): L = NLL per token of the context, so weights stay a blend (a soup) instead of
   * collapsing onto one model as a 128-token total NLL would. "sum": total NLL (Bayes' rule).
   */
  likelihood?: LikelihoodMode;
  label?: string;
  lab?: Lab;
}

/**
 * Model soup with input-dependent weights (spec §7): for each evaluation window (or prompt), the
 * parameters are Σ_i w_i θ_i with w = softmax_i(−L_i/τ), L_i = model i's NLL of the context (see the
 * file comment for which tokens). All members need one architecture (same shapes).
 */
export class LikelihoodSoup extends Ensemble {
  readonly kind = "soup-likelihood" as const;
  readonly tau: number;
  readonly likelihood: LikelihoodMode;

  constructor(sources: readonly ModelSource[], opts: LikelihoodSoupOptions = {}) {
    super(sources, opts.label ?? "soup (likelihood)", "likelihoodSoup", opts.lab);
    checkSameArchitecture(this.members, "likelihoodSoup", { sameExperts: true });
    this.tau = opts.tau ?? 1;
    this.likelihood = opts.likelihood ?? "mean";
    checkTau(this.tau, "likelihoodSoup");
    checkMode(this.likelihood, "likelihoodSoup");
  }

  protected options(): Record<string, unknown> {
    return { tau: this.tau, likelihood: this.likelihood };
  }

  protected rebuild(members: FlexModel[]): LikelihoodSoup {
    return new LikelihoodSoup(members, { tau: this.tau, likelihood: this.likelihood, label: `${this.label} − ${this.experts.filter((e) => !members.some((m) => m.label === e)).join(", ")}`, lab: this.lab });
  }

  /** Soup weights for a context (uniform when it has fewer than 2 tokens). */
  async weights(context: ArrayLike<number>): Promise<number[]> {
    const M = this.members.length;
    if (context.length < 2) return new Array(M).fill(1 / M);
    const L = await sequenceNll(this.members, context, this.likelihood);
    return Array.from(topKSoftmax(L.map((l) => -l / this.tau), M));
  }

  /** A temporary model with the soup's parameters for these weights (dispose its params). */
  private souped(w: readonly number[]): FlexModel {
    const m0 = this.members[0];
    return new FlexModel({ config: m0.config, params: weightedAverage(this.members.map((m) => m.params), w), provenance: { kind: "merged", routerTuned: false }, view: m0.view, label: this.label, data: this.lab?.data });
  }

  protected async score(b: ScoreBatch): Promise<Float64Array> {
    const out = new Float64Array(b.B);
    for (let r = 0; r < b.B; r++) {
      const w = await this.weights(b.contexts[r]);
      const m = this.souped(w);
      try {
        const lp = await targetLogProbs(m, b.inputs.subarray(r * b.T, (r + 1) * b.T), b.targets.subarray(r * b.T, (r + 1) * b.T), 1, b.T);
        for (const x of lp) out[r] -= x;
      } finally {
        disposeParams(m.params);
      }
    }
    return out;
  }

  /** The prompt sets the weights (its own NLL under each member); the soup then generates as one model. */
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const ctx = await this.ctx();
    const w = await this.weights(promptIds(ctx, prompt).slice(-this.members[0].config.maxSeqLen));
    const m = this.souped(w);
    try {
      return await m.generate(prompt, opts);
    } finally {
      disposeParams(m.params);
    }
  }

  /** The weights this text gets (every token of it shares them). */
  async attribution(text: string): Promise<AttributionResult> {
    const ctx = await this.ctx();
    const ids = promptIds(ctx, text).slice(0, this.members[0].config.maxSeqLen);
    const w = await this.weights(ids);
    return new AttributionResult({ model: this.label, experts: this.experts, owners: this.experts, tokens: ids.map((i) => ctx.tokenizer.decode([i])), shares: ids.map(() => [...w]) });
  }
}

// ---------------------------------------------------------------------------------------------
// BTM

export interface BtmOptions {
  /** Temperature τ of w = softmax(−L/τ). Default 1: with likelihood "sum", the Bayesian posterior over members (uniform prior). */
  tau?: number;
  /** Keep only the k highest-weighted members per position, renormalised. Default 2 (the paper's strongest BTM is top-2). */
  topK?: number;
  /**
   * "probs" (default; the paper's §4.3): p(y) = Σ_m w_m p_m(y). "logits" (App. A.1): softmax(Σ_m w_m z_m).
   * (Mixing raw logits or log-probabilities is the same thing: they differ by a per-position constant.)
   */
  combine?: "probs" | "logits";
  /** "sum" (default, Bayes' rule as in BTM) or "mean" NLL of the prefix. */
  likelihood?: LikelihoodMode;
  label?: string;
  lab?: Lab;
}

/**
 * Branch-Train-Merge (spec §7): an output ensemble. At position t, member m's weight is
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
    return new Btm(members, { tau: this.tau, topK: this.topK, combine: this.combine, likelihood: this.likelihood, label: `${this.label} − ${this.experts.filter((e) => !members.some((m) => m.label === e)).join(", ")}`, lab: this.lab });
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
        lp.push(await gatherLogProbs(z, b.targets));
      }
      const w = this.positionWeights(lp, B, T);
      const wFlat = new Float32Array(N * M); // [N, M]
      for (let i = 0; i < N; i++) for (let m = 0; m < M; m++) wFlat[i * M + m] = w[i][m];
      const mixed = tf.tidy(() => {
        const wT = tf.tensor2d(wFlat, [N, M]);
        return tf.addN(zs.map((z, m) => tf.mul(z, tf.slice(wT, [0, m], [N, 1])))) as tf.Tensor2D; // [N, V]
      });
      const lpMix = await gatherLogProbs(mixed, b.targets);
      mixed.dispose();
      for (let i = 0; i < N; i++) out[Math.floor(i / T)] -= lpMix[i];
      return out;
    } finally {
      zs.forEach((z) => z.dispose());
    }
  }

  /** Sample with the ensemble: at each step the weights come from the prompt and the text generated so far. */
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const ctx = await this.ctx();
    const { maxTokens, temperature, topK, topP, rng } = resolveGenerateOptions(opts);
    const ids = promptIds(ctx, prompt);
    const promptLen = ids.length;
    const maxLen = Math.min(...this.members.map((m) => m.config.maxSeqLen));
    const V = this.members[0].config.vocabSize;
    for (let step = 0; step < maxTokens; step++) {
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
    }
    const completionIds = ids.slice(promptLen);
    return new GenerateResult({ model: this.label, prompt, completion: ctx.tokenizer.decode(completionIds), tokens: completionIds, seed: opts.seed ?? 0 });
  }

  /** Per token, each member's weight when that token was predicted (the first token: uniform). */
  async attribution(text: string): Promise<AttributionResult> {
    const ctx = await this.ctx();
    const ids = promptIds(ctx, text).slice(0, Math.min(...this.members.map((m) => m.config.maxSeqLen)) + 1);
    if (ids.length < 2) throw new Error("attribution: BTM needs at least two tokens of text (weights come from the tokens before each position).");
    const { inputs, targets, T } = shiftRow(ids);
    const lp: Float32Array[] = [];
    for (const m of this.members) lp.push(await targetLogProbs(m, inputs, targets, 1, T));
    const w = this.positionWeights(lp, 1, T);
    return new AttributionResult({ model: this.label, experts: this.experts, owners: this.experts, tokens: Array.from(targets, (i) => ctx.tokenizer.decode([i])), shares: w.map((x) => Array.from(x)) });
  }
}

/** z[y] − logsumexp(z) per row of [N, V] logits. */
async function gatherLogProbs(z: tf.Tensor2D, targets: ArrayLike<number>): Promise<Float32Array> {
  const [N, V] = z.shape;
  const flat = new Int32Array(N);
  for (let i = 0; i < N; i++) flat[i] = i * V + targets[i];
  const lp = tf.tidy(() => tf.sub(tf.gather(tf.reshape(z, [N * V]), tf.tensor1d(flat, "int32")), tf.logSumExp(z, 1))); // [N]
  const out = Float32Array.from(await lp.data());
  lp.dispose();
  return out;
}

/** One member on a generation window: log p of window[1..], and the next token's log-softmax (or raw logits). */
async function memberStep(m: FlexModel, window: number[], V: number, logSoftmax: boolean): Promise<{ rows: Float32Array; last: Float32Array }> {
  const L = window.length;
  const z = tf.tidy(() => tf.reshape(m.logits(tf.tensor2d(Int32Array.from(window), [1, L], "int32")), [L, V]) as tf.Tensor2D); // [L, V]
  try {
    const rows = L > 1 ? (await gatherLogProbs(z, window.slice(1).concat([0]))).slice(0, L - 1) : new Float32Array(0);
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

// ---------------------------------------------------------------------------------------------
// Prompt routing

const classifierCache = new WeakMap<DataContext, DomainClassifier>();

/**
 * The naive-Bayes domain classifier (lib/data/classifier) over EVERY corpus domain, public
 * included, so public-looking text can go to the public model (`lab.classifier()` leaves public
 * out: it ranks public documents for router-tuning proxies). Cached per data context.
 */
export function routingClassifier(ctx: DataContext): DomainClassifier {
  let c = classifierCache.get(ctx);
  if (!c) {
    const docs = ctx.domains.flatMap((d) => ctx.corpus.documents({ domain: d, split: "train" }));
    c = trainDomainClassifier(docs.map((x) => ({ domain: x.domain, text: x.text })));
    classifierCache.set(ctx, c);
  }
  return c;
}

export interface PromptRoutingOptions {
  /** A classifier with a class per domain (default: `routingClassifier`, public included). */
  classifier?: DomainClassifier;
  label?: string;
  lab?: Lab;
}

/**
 * Prompt routing (spec §7): a domain classifier reads the prompt (in evaluation: the text before
 * the window) and ONE model answers — the dense expert of the predicted domain, or the public model
 * when the text looks public or no expert exists for that domain.
 */
export class PromptRouting extends Ensemble {
  readonly kind = "prompt-routing" as const;
  /** Domain of each member; index 0 is the public model. */
  readonly domains: string[];
  private readonly classifier?: DomainClassifier;

  constructor(pub: ModelSource, experts: readonly ModelSource[], opts: PromptRoutingOptions = {}) {
    if (!Array.isArray(experts) || experts.length === 0) throw new Error("promptRouting: pass at least one dense expert, e.g. promptRouting(pub, [math, code]).");
    super([pub, ...experts], opts.label ?? "prompt routing", "promptRouting", opts.lab);
    this.domains = ["public", ...experts.map((e, i) => (e instanceof DenseExpert ? e.domain : this.members[i + 1].config.experts[0]))];
    checkUniqueLabels(this.domains, "promptRouting (expert domains)");
    this.classifier = opts.classifier;
  }

  protected options(): Record<string, unknown> {
    return {};
  }

  protected override memberExtra(i: number): { domain?: string } {
    return { domain: this.domains[i] };
  }

  protected rebuild(members: FlexModel[]): PromptRouting {
    if (members[0] !== this.members[0]) throw new Error("without: prompt routing falls back to the public model; it cannot be dropped.");
    const idx = members.map((m) => this.members.indexOf(m));
    const label = `${this.label} − ${this.experts.filter((e) => !members.some((m) => m.label === e)).join(", ")}`;
    const r = new PromptRouting(members[0], members.slice(1), { classifier: this.classifier, label, lab: this.lab });
    idx.forEach((j, k) => (r.domains[k] = this.domains[j]));
    return r;
  }

  private async clf(): Promise<DomainClassifier> {
    return this.classifier ?? routingClassifier(await this.ctx());
  }

  /** The member that answers `text`: the predicted domain's expert, else the public model (index 0). */
  async route(text: string): Promise<{ domain: string; member: number }> {
    const d = (await this.clf()).classify(text).domain;
    const j = this.domains.indexOf(d);
    return { domain: d, member: j > 0 ? j : 0 };
  }

  protected async score(b: ScoreBatch): Promise<Float64Array> {
    const ctx = await this.ctx();
    const groups = new Map<number, number[]>();
    for (let r = 0; r < b.B; r++) {
      const { member } = await this.route(ctx.tokenizer.decode(b.contexts[r]));
      groups.set(member, [...(groups.get(member) ?? []), r]);
    }
    const out = new Float64Array(b.B);
    for (const [j, rows] of groups) {
      const inputs = new Int32Array(rows.length * b.T), targets = new Int32Array(rows.length * b.T); // [B_j, T]
      rows.forEach((r, k) => {
        inputs.set(b.inputs.subarray(r * b.T, (r + 1) * b.T), k * b.T);
        targets.set(b.targets.subarray(r * b.T, (r + 1) * b.T), k * b.T);
      });
      const lp = await targetLogProbs(this.members[j], inputs, targets, rows.length, b.T);
      rows.forEach((r, k) => {
        for (let t = 0; t < b.T; t++) out[r] -= lp[k * b.T + t];
      });
    }
    return out;
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const { member } = await this.route(prompt);
    const res = await this.members[member].generate(prompt, opts);
    return new GenerateResult({ model: `${this.label} → ${this.members[member].label}`, prompt: res.prompt, completion: res.completion, tokens: res.tokens, seed: res.seed });
  }

  /** The one member that would answer this text gets every token. */
  async attribution(text: string): Promise<AttributionResult> {
    const ctx = await this.ctx();
    const ids = promptIds(ctx, text);
    const { member } = await this.route(text);
    const row = this.members.map((_, j) => (j === member ? 1 : 0));
    return new AttributionResult({ model: this.label, experts: this.experts, owners: this.domains, tokens: ids.map((i) => ctx.tokenizer.decode([i])), shares: ids.map(() => [...row]) });
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Open an ensemble written by `save(dir)`. */
export async function loadEnsemble(dir: string, lab?: Lab): Promise<LikelihoodSoup | Btm | PromptRouting> {
  const file = path.join(dir, "ensemble.json");
  if (!fs.existsSync(file)) throw new Error(`${dir} has no ensemble.json: it is not a saved ensemble (or its save did not finish).`);
  const meta = JSON.parse(fs.readFileSync(file, "utf-8")) as EnsembleFile;
  if (meta.format !== "flexolmo-ensemble-v1") throw new Error(`${file}: unknown format ${JSON.stringify(meta.format)}.`);
  const { loadFlexModel } = await import("./load");
  const members: FlexModel[] = [];
  try {
    for (const m of meta.members) members.push(await loadFlexModel(path.join(dir, m.dir), lab, m.label));
    const o = meta.options as Record<string, never>;
    if (meta.kind === "btm") return new Btm(members, { ...o, label: meta.label, lab });
    if (meta.kind === "soup-likelihood") return new LikelihoodSoup(members, { ...o, label: meta.label, lab });
    if (meta.kind === "prompt-routing") return new PromptRouting(members[0], members.slice(1), { label: meta.label, lab });
    throw new Error(`${file}: unknown ensemble kind ${JSON.stringify(meta.kind)}.`);
  } finally {
    members.forEach((m) => disposeParams(m.params)); // the ensemble made its own copies
  }
}
