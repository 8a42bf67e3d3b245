/**
 * FlexModel: an immutable handle on a FlexOlmo model plus a view (which experts, top-k, bias).
 *
 * Views share weights and never mutate: `model.without("news")` is the same tensors with a
 * different include mask, so a before/after comparison fits in one cell and costs no memory.
 * Verbs that compute are async and return plain result records.
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../model/config";
import type { ModelParams } from "../model/params";
import { forward, type RouterTelemetry } from "../model/model";
import { Rng } from "../model/rng";
import { softmaxCrossEntropy } from "../ops";
import type { Tokenizer } from "../data/tokenizer";
import { saveCheckpoint } from "../io/checkpoint";
import { DataContext, defaultDataContext } from "./context";
import { DataCard, optOutGuarantee, optOutNote, OptOutGuarantee, Provenance } from "./cards";
import { defaultEvalDomains, evaluateWindows, type ScoreBatch, type WindowEvalOptions } from "./evaluate";
import { scoreOptions } from "./likelihood";
import { BiasMode, checkView, includedNames, viewOnly, ViewSpec, viewWithout } from "./view";
import { EvalResult, GenerateResult, AttributionResult, ManifestResult } from "./results";
import type { TrainRecord } from "./records";

export interface FlexModelInit {
  config: ModelConfig;
  params: ModelParams;
  cards?: Record<string, DataCard>;
  provenance: Provenance;
  view?: Partial<ViewSpec>;
  /** A short label for tables ("public", "flexolmo", "flexolmo − news"). */
  label?: string;
  data?: DataContext;
  /** For router-tuned models: the tuning run and the proxy documents it used. */
  tuning?: { record: TrainRecord; proxies: Record<string, string[]> };
}

/** Options of `evaluate` (see ./evaluate.ts); `reference` adds that model's perplexities and the relative improvement. */
export type EvaluateOptions = WindowEvalOptions;

export interface GenerateOptions {
  maxTokens?: number;
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export class FlexModel {
  readonly config: ModelConfig;
  readonly params: ModelParams;
  readonly cards: Readonly<Record<string, DataCard>>;
  readonly provenance: Provenance;
  readonly view: ViewSpec;
  readonly label: string;
  /** The corpus/tokenizer this model evaluates on (undefined: the shipped ones, loaded on demand). */
  readonly data?: DataContext;
  readonly tuning?: { record: TrainRecord; proxies: Record<string, string[]> };

  constructor(init: FlexModelInit) {
    this.config = init.config;
    this.params = init.params;
    this.cards = init.cards ?? {};
    this.provenance = init.provenance;
    this.view = {
      include: init.view?.include ? [...init.view.include] : init.config.experts.map(() => true),
      topK: init.view?.topK ?? init.config.topK,
      bias: init.view?.bias ?? "keep",
    };
    checkView(this.config.experts, this.view);
    this.label = init.label ?? (init.provenance.kind === "public" ? "public" : "flexolmo");
    this.data = init.data;
    this.tuning = init.tuning;
    Object.freeze(this.view.include);
    Object.freeze(this);
  }

  private with(view: ViewSpec, label: string): FlexModel {
    return new FlexModel({ config: this.config, params: this.params, cards: this.cards, provenance: this.provenance, view, label, data: this.data, tuning: this.tuning });
  }

  /** Every expert of the full model, in router-row order. */
  get allExperts(): string[] {
    return [...this.config.experts];
  }

  /** The experts taking part under this view. */
  get experts(): string[] {
    return includedNames(this.config.experts, this.view);
  }

  get optOut(): OptOutGuarantee {
    return optOutGuarantee(this.provenance);
  }

  /** Opt out of experts (by name or index). Shares weights; never mutates. */
  without(...experts: Array<string | number | Array<string | number>>): FlexModel {
    const refs = experts.flat();
    return this.with(viewWithout(this.config.experts, this.view, refs), `${this.label} − ${refs.join(", ")}`);
  }

  /** Keep exactly these experts. */
  only(experts: ReadonlyArray<string | number>): FlexModel {
    return this.with(viewOnly(this.config.experts, this.view, experts), `${this.label} only ${experts.join(", ")}`);
  }

  /** Route each token to k experts. */
  withTopK(k: number): FlexModel {
    const next = { ...this.view, topK: k };
    checkView(this.config.experts, next);
    return this.with(next, `${this.label} k=${k}`);
  }

  /** Keep (paper) or drop (HF release) the learned expert bias at inference. */
  withBias(bias: BiasMode): FlexModel {
    const next = { ...this.view, bias };
    checkView(this.config.experts, next);
    return this.with(next, `${this.label} bias=${bias}`);
  }

  /** A copy with a different label (for tables). */
  named(label: string): FlexModel {
    return this.with(this.view, label);
  }

  /** Logits [B, T, V] under this view. The caller disposes the tensor (or wraps the call in tf.tidy). */
  logits(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => forward(this.params, this.config, ids, this.forwardOptions()).logits);
  }

  /** Router telemetry for a batch of ids (original expert numbering). */
  telemetry(ids: tf.Tensor2D): RouterTelemetry {
    const res = forward(this.params, this.config, ids, { ...this.forwardOptions(), telemetry: true });
    const tel = res.telemetry!;
    res.logits.dispose();
    res.routerLogits.forEach((t) => t.dispose());
    return tel;
  }

  forwardOptions(): { include: boolean[]; topK: number; bias: BiasMode } {
    return { include: [...this.view.include], topK: this.view.topK, bias: this.view.bias };
  }

  private async ctx(): Promise<DataContext> {
    return this.data ?? (await defaultDataContext());
  }

  /**
   * Per-domain perplexity on a corpus split: deterministic (evenly spaced windows, in order) and
   * batched. With `reference`, also that model's perplexities and the relative improvement.
   */
  evaluate(opts: EvaluateOptions = {}): Promise<EvalResult> {
    return evaluateWindows(
      {
        label: this.label,
        experts: this.experts,
        optOut: this.optOut,
        data: this.data,
        maxSeqLen: this.config.maxSeqLen,
        defaultDomains: (ctx) => defaultEvalDomains(this.config.experts, ctx),
        score: (b) => this.batchNll(b),
      },
      opts,
    );
  }

  /** Summed NLL of a batch's targets: the training loss op's mean × B·T. */
  private async batchNll(b: ScoreBatch): Promise<number> {
    const lossT = tf.tidy(() => {
      const ids = tf.tensor2d(b.inputs, [b.B, b.T], "int32");
      const logits = forward(this.params, this.config, ids, this.forwardOptions()).logits; // [B, T, V]
      return softmaxCrossEntropy(tf.reshape(logits, [b.B * b.T, this.config.vocabSize]) as tf.Tensor2D, b.targets); // mean over B·T
    });
    const loss = (await lossT.data())[0];
    lossT.dispose();
    return loss * b.B * b.T;
  }

  /** Log-likelihood of each option after `context` (the toy tasks' scorer; one forward pass over the options). */
  scoreOptions(context: number[], options: number[][]): Promise<number[]> {
    return scoreOptions(this, context, options);
  }

  /** Sample a continuation. Deterministic for a seed; temperature 0 is greedy. */
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const ctx = await this.ctx();
    return generateWith(this, ctx.tokenizer, prompt, opts);
  }

  /**
   * Per token, each expert's share of the expert weight, averaged over layers: which owners'
   * parameters produced this text's representation (0 for experts outside the view).
   */
  async attribution(text: string): Promise<AttributionResult> {
    const ctx = await this.ctx();
    const ids = ctx.tokenizer.encode(text).slice(0, this.config.maxSeqLen);
    if (ids.length === 0) throw new Error("attribution: the text is empty after tokenisation.");
    const idsT = tf.tensor2d(Int32Array.from(ids), [1, ids.length], "int32");
    const tel = this.telemetry(idsT);
    idsT.dispose();
    const E = tel.e, L = tel.layers.length, k = tel.k;
    const shares = ids.map(() => new Array<number>(E).fill(0));
    for (const layer of tel.layers) {
      for (let t = 0; t < ids.length; t++) {
        let total = 0;
        for (let s = 0; s < k; s++) total += layer.topkWeight[t * k + s];
        for (let s = 0; s < k; s++) shares[t][layer.topkIdx[t * k + s]] += total > 0 ? layer.topkWeight[t * k + s] / total / L : 0;
      }
    }
    return new AttributionResult({
      model: this.label,
      experts: this.config.experts,
      tokens: ids.map((id) => ctx.tokenizer.decode([id])),
      shares,
      owners: this.config.experts.map((e) => this.cards[e]?.owner ?? e),
    });
  }

  /**
   * Save the full model (all experts; the view is recorded in the sidecar, not applied) as a
   * Hugging Face FlexOlmo checkpoint that transformers and `flexolmo logits` can open.
   */
  async save(dir: string): Promise<void> {
    await saveCheckpoint(dir, {
      config: { ...this.config, topK: this.view.topK },
      params: this.params,
      sidecar: {
        dataCards: { ...this.cards },
        provenance: { ...this.provenance, optOut: this.optOut, label: this.label } as unknown as Record<string, unknown>,
        metadata: { view: { include: this.view.include, topK: this.view.topK, bias: this.view.bias } },
      },
    });
  }

  /** The data in effect under this view: the data cards of the included experts. */
  manifest(): ManifestResult {
    const active = this.experts;
    return new ManifestResult({
      model: this.label,
      optOut: this.optOut,
      note: optOutNote(this.provenance),
      active: active.map((e) => this.cards[e] ?? missingCard(e)),
      excluded: this.config.experts.filter((e) => !active.includes(e)),
      provenance: this.provenance,
    });
  }
}

function missingCard(e: string): DataCard {
  const now = new Date(0).toISOString();
  return { expert: e, owner: "unknown", domain: "unknown", licenses: [], documents: 0, tokensSeen: 0, training: {}, seed: 0, createdAt: now, updatedAt: now };
}

/** Generation options with defaults applied and checked (shared by every model kind that generates). */
export function resolveGenerateOptions(opts: GenerateOptions): { maxTokens: number; temperature: number; topK: number; topP: number; rng: Rng } {
  const maxTokens = opts.maxTokens ?? 64;
  const temperature = opts.temperature ?? 1;
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 1;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`generate: maxTokens must be a non-negative integer (got ${maxTokens}).`);
  if (!(temperature >= 0)) throw new Error(`generate: temperature must be ≥ 0 (got ${temperature}).`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`generate: topP must be in (0, 1] (got ${topP}).`);
  return { maxTokens, temperature, topK, topP, rng: new Rng(opts.seed ?? 0) };
}

async function generateWith(model: FlexModel, tok: Tokenizer, prompt: string, opts: GenerateOptions): Promise<GenerateResult> {
  const { maxTokens, temperature, topK, topP, rng } = resolveGenerateOptions(opts);
  const ids = tok.encode(prompt);
  if (ids.length === 0) ids.push(tok.eosId); // an empty prompt starts a fresh document
  const promptLen = ids.length;
  const V = model.config.vocabSize;
  for (let step = 0; step < maxTokens; step++) {
    // No KV cache: recompute the window. At toy sizes (T ≤ 256) this costs milliseconds per token.
    const window = ids.slice(-model.config.maxSeqLen);
    const last = tf.tidy(() => {
      const x = tf.tensor2d(Int32Array.from(window), [1, window.length], "int32");
      const logits = model.logits(x); // [1, T, V]
      return tf.reshape(tf.slice(logits, [0, window.length - 1, 0], [1, 1, V]), [V]);
    });
    const z = (await last.data()) as Float32Array;
    last.dispose();
    const next = sampleToken(z, { temperature, topK, topP }, rng);
    ids.push(next);
    if (next === tok.eosId) break;
  }
  const completionIds = ids.slice(promptLen);
  return new GenerateResult({ model: model.label, prompt, completion: tok.decode(completionIds), tokens: completionIds, seed: opts.seed ?? 0 });
}

/**
 * Temperature, top-k, then top-p (nucleus) sampling over logits `z`. Ties in the ranking break by
 * lower token id, so a seed always gives the same token on every backend.
 */
export function sampleToken(z: ArrayLike<number>, o: { temperature: number; topK: number; topP: number }, rng: Rng): number {
  const V = z.length;
  let best = 0;
  for (let i = 1; i < V; i++) if (z[i] > z[best]) best = i;
  if (o.temperature === 0) return best;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => z[b] - z[a] || a - b);
  const keep = o.topK > 0 ? order.slice(0, Math.min(o.topK, V)) : order;
  const m = z[keep[0]];
  const w = keep.map((i) => Math.exp((z[i] - m) / o.temperature));
  const total = w.reduce((s, x) => s + x, 0);
  let cut = keep.length, acc = 0;
  for (let j = 0; j < keep.length; j++) {
    acc += w[j] / total;
    if (acc >= o.topP) {
      cut = j + 1;
      break;
    }
  }
  const mass = w.slice(0, cut).reduce((s, x) => s + x, 0);
  let u = rng.next() * mass;
  for (let j = 0; j < cut; j++) {
    u -= w[j];
    if (u < 0) return keep[j];
  }
  return keep[cut - 1];
}
