/**
 * FlexModel: an immutable handle on a FlexOlmo model plus a view (which experts, top-k, bias).
 *
 * Views share weights and never mutate: `model.without("news")` is the same tensors with a
 * different include mask, so a before/after comparison fits in one cell and costs no memory.
 * Verbs that compute are async and return plain result records.
 *
 * Ownership (who frees the tensors). A FlexModel either OWNS its parameters (`owns: true`: a merge,
 * a router-tuned model, a model loaded from disk, a soup) or BORROWS them (`pub.model()`,
 * `owner.model()`, a trainable baseline's `model()`: the tensors belong to that object, which
 * training replaces and whose own `dispose()` frees them). Every view (`without`, `only`, `withTopK`,
 * `withBias`, `named`) shares its parent's tensors and its ownership record, and never owns.
 *   - `dispose()` on the owning model frees its tensors, once; its views then refuse to run, with an
 *     error that says so. Dispose a model after you are done with its views.
 *   - `dispose()` on a view or a borrowing model frees nothing: it retires that handle only.
 *   - Disposing twice is a no-op. Compute verbs on a retired handle, or on weights that were freed
 *     (here or by their owner, e.g. `pub.dispose()`), throw a clear "disposed" error instead of a
 *     TF.js internal one. Metadata (`experts`, `manifest()`, `optOut`) stays readable.
 * Verbs never keep tensors: every forward pass runs in a tidy, and results are plain numbers.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import { inspect } from "node:util";
import type { ModelParams } from "../model/params";
import { forward, forwardTelemetry, type RouterTelemetry } from "../model/model";
import { Rng } from "../model/rng";
import { disposeParams } from "../model/model";
import { paramEntries } from "../model/params";
import { kernelAbortSignal } from "../display/kernel-signal";
import { softmaxCrossEntropy } from "../ops";
import type { Tokenizer } from "../data/tokenizer";
import { saveCheckpoint } from "../io/checkpoint";
import { DataContext, defaultDataContext } from "./context";
import { DataCard, optOutGuarantee, optOutNote, OptOutGuarantee, Provenance } from "./cards";
import { defaultEvalDomains, evaluateWindows, type ScoreBatch, type WindowEvalOptions } from "./evaluate";
import { scoreOptionsBatch, type OptionItem } from "./likelihood";
import { BiasMode, checkView, includedNames, viewOnly, ViewSpec, viewWithout } from "./view";
import { EvalResult, GenerateResult, AttributionResult, ManifestResult } from "./results";
import type { TrainRecord } from "./records";
import { checkOptionKeys } from "../util/options";
import { hfTokenizerFiles } from "../io/hf-tokenizer";

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
  /**
   * true: this model owns `params` and `dispose()` frees them (pass it only for tensors nobody else
   * frees). Default false: the tensors are borrowed from their owner (a PublicModel, an owner expert).
   */
  owns?: boolean;
}

/** The record of who holds a model's tensors, shared by a model and all its views. */
interface Holding {
  readonly owns: boolean;
  /** The label of the model that owns (or borrowed) the tensors: named in errors from its views. */
  readonly label: string;
  /** The handle of the model the holding was made for (views have their own handle). */
  readonly root: { retired: boolean };
  freed: boolean;
}

/** Options of `evaluate` (see ./evaluate.ts); `reference` adds that model's perplexities and the relative improvement. */
export type EvaluateOptions = WindowEvalOptions;

export interface GenerateOptions {
  /** Tokens to sample at most (default 64, at most MAX_GENERATE_TOKENS); generation also stops at end-of-text. */
  maxTokens?: number;
  /** Softmax temperature, a finite number ≥ 0; 0 = greedy. Default 1. */
  temperature?: number;
  /** Sample among the k most likely tokens (an integer ≥ 0; 0 = no cut). Default 0. */
  topK?: number;
  /** Nucleus sampling: the smallest set of tokens with this much probability, in (0, 1]. Default 1. */
  topP?: number;
  /** Integer seed of the sampler (same seed, same text). Default 0. */
  seed?: number;
  /**
   * Stop between tokens: the result holds the tokens sampled so far and `aborted: true`. Default: the
   * notebook kernel's interrupt (so "interrupt" stops a long generation cleanly).
   */
  signal?: AbortSignal;
}

/**
 * The most tokens one `generate` call samples. Without a KV cache every token recomputes its whole
 * window, so at the cpu preset 4 096 tokens already take minutes; a larger request (say 1e9) is a
 * mistake that would hold the kernel for hours. Longer texts: generate in chunks.
 */
export const MAX_GENERATE_TOKENS = 4096;

const GENERATE_KEYS: readonly string[] = ["maxTokens", "temperature", "topK", "topP", "seed", "signal"];

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
  /** Shared with every view of this model (see the ownership note at the top of this file). */
  private readonly holding: Holding;
  /** This handle only: set by `dispose()` (the object itself is frozen, this record is not). */
  private readonly handle = { retired: false };

  /** `shared` is internal: the parent's holding, passed by the view methods. */
  constructor(init: FlexModelInit, shared?: Holding) {
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
    this.holding = shared ?? { owns: init.owns === true, label: this.label, root: this.handle, freed: false };
    Object.freeze(this.view.include);
    Object.freeze(this);
  }

  private with(view: ViewSpec, label: string): FlexModel {
    this.assertLive("a view");
    return new FlexModel({ config: this.config, params: this.params, cards: this.cards, provenance: this.provenance, view, label, data: this.data, tuning: this.tuning }, this.holding);
  }

  /** True when this handle owns its tensors: `owns` was set and it is not a view. */
  get ownsTensors(): boolean {
    return this.holding.owns && this.handle === this.holding.root;
  }

  /** True once this handle was disposed, or its tensors were freed (by its owner or by their owner). */
  get disposed(): boolean {
    return this.handle.retired || this.holding.freed || paramEntries(this.params).some((e) => e.tensor.isDisposed);
  }

  /**
   * Throws a clear error when this model cannot compute: the handle was disposed, or the tensors it
   * runs on were freed. Every compute verb (and `tuneRouter`, `merge`…) calls it first.
   */
  assertLive(verb: string): void {
    if (this.handle.retired) throw new Error(`${verb}: the model "${this.label}" was disposed (model.dispose()); it can no longer run. Use a live model or view.`);
    if (this.holding.freed) {
      throw new Error(
        `${verb}: "${this.label}" is a view of "${this.holding.label}", whose weights were freed by its dispose(); views share their parent's tensors. Dispose a model only after its views are done.`,
      );
    }
    if (paramEntries(this.params).some((e) => e.tensor.isDisposed)) {
      throw new Error(`${verb}: the weights of "${this.label}" were disposed by their owner (e.g. pub.dispose() or owner.dispose()); rebuild the model from a live one.`);
    }
  }

  /**
   * Free what this handle owns. The model that owns its tensors (a merge, a router-tuned or loaded
   * model) frees them, and its views stop working; a view or a borrowed model (pub.model()) only
   * retires itself. Idempotent.
   */
  dispose(): void {
    if (this.handle.retired) return;
    this.handle.retired = true;
    if (this.ownsTensors && !this.holding.freed) {
      this.holding.freed = true;
      disposeParams(this.params);
    }
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
    this.assertLive("logits");
    return tf.tidy(() => forward(this.params, this.config, ids, this.forwardOptions()).logits);
  }

  /**
   * Router telemetry for a batch of ids (original expert numbering). Plain arrays: no tensor survives
   * the call (forwardTelemetry frees the pass's tensors, about 65 per layer). Async: on GPU backends
   * the router tensors are read back without stalling.
   */
  async telemetry(ids: tf.Tensor2D): Promise<RouterTelemetry> {
    this.assertLive("telemetry");
    return forwardTelemetry(this.params, this.config, ids, this.forwardOptions());
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
    try {
      this.assertLive("evaluate");
    } catch (e) {
      return Promise.reject(e);
    }
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
    this.assertLive("evaluate"); // between batches another cell may have disposed the model
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
    return this.scoreOptionsBatch([{ context, options }]).then((x) => x[0]);
  }

  /** `scoreOptions` of many items at once, in a few large forward passes (the toy tasks use it). */
  scoreOptionsBatch(items: readonly OptionItem[]): Promise<number[][]> {
    try {
      this.assertLive("scoreOptions");
    } catch (e) {
      return Promise.reject(e);
    }
    return scoreOptionsBatch(this, items);
  }

  /** Sample a continuation. Deterministic for a seed; temperature 0 is greedy. */
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    this.assertLive("generate");
    const ctx = await this.ctx();
    return generateWith(this, ctx.tokenizer, prompt, opts);
  }

  /**
   * Per token, each expert's share of the expert weight, averaged over layers: which owners'
   * parameters produced this text's representation (0 for experts outside the view).
   * A text longer than the context is covered window by window (consecutive windows of maxSeqLen
   * tokens, each routed on its own, as `generate` would see it with a fresh context); the result
   * says how many windows it took.
   */
  async attribution(text: string): Promise<AttributionResult> {
    this.assertLive("attribution");
    if (typeof text !== "string") throw new Error(`attribution: pass the text as a string (got ${text === null ? "null" : typeof text}).`);
    const ctx = await this.ctx();
    const ids = ctx.tokenizer.encode(text);
    if (ids.length === 0) throw new Error("attribution: the text is empty after tokenisation; pass some text.");
    const T = this.config.maxSeqLen;
    const shares: number[][] = [];
    let windows = 0;
    for (let start = 0; start < ids.length; start += T) {
      const win = ids.slice(start, start + T);
      const idsT = tf.tensor2d(Int32Array.from(win), [1, win.length], "int32"); // [1, T]
      let tel: RouterTelemetry;
      try {
        tel = await this.telemetry(idsT);
      } finally {
        idsT.dispose();
      }
      shares.push(...attributionShares(tel, win.length));
      windows++;
      if (start + T < ids.length) await new Promise((r) => setImmediate(r)); // long texts: keep the kernel responsive
    }
    return new AttributionResult({
      model: this.label,
      experts: this.config.experts,
      tokens: ids.map((id) => ctx.tokenizer.decode([id])),
      shares,
      owners: this.config.experts.map((e) => this.cards[e]?.owner ?? e),
      windows,
      windowSize: T,
    });
  }

  /**
   * Save the full model (all experts; the view is recorded in the sidecar, not applied) as a
   * Hugging Face FlexOlmo checkpoint that transformers and `flexolmo logits` can open.
   */
  async save(dir: string): Promise<void> {
    this.assertLive("save");
    await saveCheckpoint(dir, {
      config: { ...this.config, topK: this.view.topK },
      params: this.params,
      sidecar: {
        dataCards: { ...this.cards },
        provenance: { ...this.provenance, optOut: this.optOut, label: this.label } as unknown as Record<string, unknown>,
        metadata: { view: { include: this.view.include, topK: this.view.topK, bias: this.view.bias } },
      },
      // A model built outside a lab (no data context) has no tokenizer to write.
      tokenizer: this.data ? hfTokenizerFiles(this.data.tokenizer, this.config.maxSeqLen) : undefined,
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

  /** One line: the label, the experts of this view, top-k, bias and the opt-out guarantee. */
  toString(): string {
    return `FlexModel "${this.label}": experts ${this.experts.join(", ")} (of ${this.config.experts.length}), top-${this.view.topK}, bias ${this.view.bias}, opt-out ${this.optOut}${this.handle.retired ? " [disposed]" : ""}`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field and tensor. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** Per token of one window, each expert's share of the top-k weight, averaged over layers. */
function attributionShares(tel: RouterTelemetry, n: number): number[][] {
  const E = tel.e, L = tel.layers.length, k = tel.k;
  const shares = Array.from({ length: n }, () => new Array<number>(E).fill(0));
  for (const layer of tel.layers) {
    for (let t = 0; t < n; t++) {
      let total = 0;
      for (let s = 0; s < k; s++) total += layer.topkWeight[t * k + s];
      for (let s = 0; s < k; s++) shares[t][layer.topkIdx[t * k + s]] += total > 0 ? layer.topkWeight[t * k + s] / total / L : 0;
    }
  }
  return shares;
}

function missingCard(e: string): DataCard {
  const now = new Date(0).toISOString();
  return { expert: e, owner: "unknown", domain: "unknown", licenses: [], documents: 0, tokensSeen: 0, training: {}, seed: 0, createdAt: now, updatedAt: now };
}

/** Generation options with defaults applied and checked (shared by every model kind that generates). */
export function resolveGenerateOptions(opts: GenerateOptions): { maxTokens: number; temperature: number; topK: number; topP: number; rng: Rng; seed: number; signal: AbortSignal } {
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) throw new Error(`generate: options must be an object such as { maxTokens: 32, seed: 1 } (got ${JSON.stringify(opts)}).`);
  // A misspelt option (top_k, maxLength) would otherwise be ignored and the defaults used without a word.
  checkOptionKeys(opts, GENERATE_KEYS, "generate");
  const maxTokens = opts.maxTokens ?? 64;
  const temperature = opts.temperature ?? 1;
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 1;
  const seed = opts.seed ?? 0;
  if (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 0) throw new Error(`generate: maxTokens must be a non-negative integer (got ${String(maxTokens)}).`);
  if (maxTokens > MAX_GENERATE_TOKENS) {
    throw new Error(`generate: maxTokens ${maxTokens} is over the limit of ${MAX_GENERATE_TOKENS} tokens per call (each token recomputes its whole window). Generate in chunks, passing the text so far as the next prompt.`);
  }
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < 0) throw new Error(`generate: temperature must be a finite number ≥ 0 (0 = greedy; got ${String(temperature)}).`);
  if (typeof topK !== "number" || !Number.isInteger(topK) || topK < 0) throw new Error(`generate: topK must be an integer ≥ 0 (the k most likely tokens; 0 = no cut; got ${String(topK)}).`);
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) throw new Error(`generate: topP must be in (0, 1] (1 = no cut; got ${String(topP)}).`);
  // Rng keeps seed >>> 0: 1.5 would silently mean 1, so only integers are seeds.
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) throw new Error(`generate: seed must be an integer (got ${String(seed)}).`);
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new Error("generate: signal must be an AbortSignal (e.g. new AbortController().signal).");
  return { maxTokens, temperature, topK, topP, rng: new Rng(seed), seed, signal: opts.signal ?? kernelAbortSignal() };
}

async function generateWith(model: FlexModel, tok: Tokenizer, prompt: string, opts: GenerateOptions): Promise<GenerateResult> {
  if (typeof prompt !== "string") throw new Error(`generate: the prompt must be a string (got ${prompt === null ? "null" : typeof prompt}); pass "" to start a fresh document.`);
  const { maxTokens, temperature, topK, topP, rng, seed, signal } = resolveGenerateOptions(opts);
  const ids = tok.encode(prompt);
  if (ids.length === 0) ids.push(tok.eosId); // an empty prompt starts a fresh document
  const promptLen = ids.length;
  const V = model.config.vocabSize;
  let aborted = false;
  for (let step = 0; step < maxTokens; step++) {
    // Checked between tokens, never inside one: nothing is half-done and every tensor is already freed.
    if (signal.aborted) {
      aborted = true;
      break;
    }
    // No KV cache: recompute the window. At toy sizes (T ≤ 256) this costs milliseconds per token.
    const window = ids.slice(-model.config.maxSeqLen);
    const last = tf.tidy(() => {
      const x = tf.tensor2d(Int32Array.from(window), [1, window.length], "int32");
      const logits = model.logits(x); // [1, T, V]
      return tf.reshape(tf.slice(logits, [0, window.length - 1, 0], [1, 1, V]), [V]);
    });
    let z: Float32Array;
    try {
      z = (await last.data()) as Float32Array;
    } finally {
      last.dispose();
    }
    const next = sampleToken(z, { temperature, topK, topP }, rng);
    ids.push(next);
    if (next === tok.eosId) break;
    // Yield to the event loop (data() may resolve without doing so): a timer or the kernel's
    // interrupt can then abort the signal before the next token.
    await new Promise((r) => setImmediate(r));
  }
  const completionIds = ids.slice(promptLen);
  return new GenerateResult({ model: model.label, prompt, completion: tok.decode(completionIds), tokens: completionIds, seed, aborted });
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
