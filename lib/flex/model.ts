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
import { evalBatches, inputsAndTargets, tokenStreams } from "../data/batcher";
import type { Tokenizer } from "../data/tokenizer";
import { DataContext, defaultDataContext } from "./context";
import { DataCard, optOutGuarantee, optOutNote, OptOutGuarantee, Provenance } from "./cards";
import { BiasMode, checkView, includedNames, viewOnly, ViewSpec, viewWithout } from "./view";
import { EvalResult, EvalRow, GenerateResult, AttributionResult, ManifestResult } from "./results";
import type { Lab } from "./lab";
import type { TuneRouterOptions } from "./tune";
import type { TrainRecord } from "./records";
import type { TaskOptions, TaskResult } from "./tasks";

export interface FlexModelInit {
  config: ModelConfig;
  params: ModelParams;
  cards?: Record<string, DataCard>;
  provenance: Provenance;
  view?: Partial<ViewSpec>;
  /** A short label for tables ("public", "flexolmo", "flexolmo − news"). */
  label?: string;
  data?: DataContext;
  /** The lab that built it (router tuning needs its data and training settings). */
  lab?: Lab;
  /** For router-tuned models: the tuning run and the proxy documents it used. */
  tuning?: { record: TrainRecord; proxies: Record<string, string[]> };
}

export interface EvaluateOptions {
  /** Domains to evaluate (default: every domain that has an expert in the full model, plus public). */
  domains?: readonly string[];
  /** Corpus split (default "test"). */
  split?: "train" | "valid" | "test";
  /** Windows per domain (evenly spaced across the split); default 32, enough for ±2 % perplexity at toy scale. */
  maxWindows?: number;
  /** Context per window (default: the model's training context from the data context, else 128). */
  seqLen?: number;
  /** Rows per forward pass (default 16). */
  batchSize?: number;
  /** A model to compare against: the result gains its perplexities and the relative improvement. */
  reference?: FlexModel;
}

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
  /** The lab that built it, when known (router tuning and baselines need its settings). */
  readonly lab?: Lab;
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
    this.lab = init.lab;
    this.tuning = init.tuning;
    Object.freeze(this.view.include);
    Object.freeze(this);
  }

  private with(view: ViewSpec, label: string): FlexModel {
    return new FlexModel({ config: this.config, params: this.params, cards: this.cards, provenance: this.provenance, view, label, data: this.data, lab: this.lab, tuning: this.tuning });
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

  /**
   * Router tuning on public proxy data (spec §4.2): returns a NEW model; this one is untouched.
   * Afterwards opt-out is approximate, and every view and report of the tuned model says so.
   */
  async tuneRouter(opts: TuneRouterOptions): Promise<FlexModel> {
    if (!this.lab) throw new Error("tuneRouter needs the lab this model came from (merge it with flex.merge(pub, owners) from a lab).");
    const { tuneRouter } = await import("./tune");
    return tuneRouter(this, this.lab, opts);
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
  async evaluate(opts: EvaluateOptions = {}): Promise<EvalResult> {
    const ctx = await this.ctx();
    const split = opts.split ?? "test";
    const domains = opts.domains ?? defaultEvalDomains(this.config.experts, ctx);
    if (domains.length === 0) throw new Error("evaluate: no domains given; pass e.g. { domains: [\"math\", \"public\"] }.");
    for (const d of domains) ctx.checkDomain(d);
    const seqLen = Math.min(opts.seqLen ?? ctx.seqLen, this.config.maxSeqLen);
    const t0 = performance.now();
    const streams = await tokenStreams(ctx.corpus, ctx.tokenizer, { split, domains });
    const rows: EvalRow[] = [];
    const sums = new Map<string, { loss: number; tokens: number }>();
    for (const batch of evalBatches(streams, { batchSize: opts.batchSize ?? 16, seqLen, domains, maxWindows: opts.maxWindows ?? 32 })) {
      const { inputs, targets } = inputsAndTargets(batch);
      const B = batch.batchSize, T = batch.seqLen;
      const lossT = tf.tidy(() => {
        const ids = tf.tensor2d(inputs, [B, T], "int32");
        const logits = forward(this.params, this.config, ids, this.forwardOptions()).logits; // [B, T, V]
        return softmaxCrossEntropy(tf.reshape(logits, [B * T, this.config.vocabSize]) as tf.Tensor2D, targets); // mean over B·T
      });
      const loss = (await lossT.data())[0];
      lossT.dispose();
      const d = batch.domains[0]; // eval batches never mix domains
      const s = sums.get(d) ?? { loss: 0, tokens: 0 };
      s.loss += loss * B * T;
      s.tokens += B * T;
      sums.set(d, s);
      await new Promise((r) => setImmediate(r)); // keep the kernel responsive
    }
    for (const d of domains) {
      const s = sums.get(d);
      if (!s || s.tokens === 0) throw new Error(`evaluate: the ${split} split of "${d}" has too few tokens for one window of ${seqLen + 1}.`);
      const loss = s.loss / s.tokens;
      rows.push({ domain: d, tokens: s.tokens, loss, ppl: Math.exp(loss) });
    }
    let reference: EvalResult | undefined;
    if (opts.reference) reference = await opts.reference.evaluate({ ...opts, reference: undefined, domains });
    return new EvalResult({
      model: this.label,
      experts: this.experts,
      optOut: this.optOut,
      split,
      seqLen,
      rows,
      reference,
      seconds: (performance.now() - t0) / 1000,
    });
  }

  /**
   * Toy downstream tasks scored by likelihood: multiple-choice cloze per domain, and math
   * answer choice (ordinary and held-out family). See lib/flex/tasks.ts.
   */
  async tasks(opts: TaskOptions & { domains?: readonly string[] } = {}): Promise<TaskResult> {
    const ctx = await this.ctx();
    const { runTasks } = await import("./tasks");
    return runTasks(this, ctx, opts.domains ?? defaultEvalDomains(this.config.experts, ctx), opts);
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
    const { saveCheckpoint } = await import("../io/checkpoint");
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

/** Domains with an expert in the model (those the corpus knows), then public. */
export function defaultEvalDomains(experts: readonly string[], ctx: DataContext): string[] {
  const ds = experts.filter((e) => ctx.domains.includes(e));
  if (!ds.includes("public") && ctx.domains.includes("public")) ds.push("public");
  return ds;
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
