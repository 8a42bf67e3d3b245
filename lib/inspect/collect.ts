/**
 * Running a model over text and keeping what the router did: the bridge between a FlexModel (any
 * view) and the pure aggregations in ./aggregate.ts.
 *
 * Evaluation text comes from the same place `model.evaluate()` reads: evenly spaced windows of a
 * corpus split (default "test"), so routing views and perplexities describe the same tokens.
 */
import * as tf from "../tf";
import type { FlexModel } from "../flex/model";
import type { DataContext } from "../flex/context";
import { defaultDataContext } from "../flex/context";
import { evalBatches, inputsAndTargets, tokenStreams } from "../data/batcher";
import type { RouterTelemetry } from "../model/model";
import { checkWindowOptions, type WindowOptions } from "../flex/evaluate";
import { accumulateVocab, coactivationCounts, emptyVocabCounts, meanProbabilities, selectionCounts, top1Counts, type TokenExpertCounts } from "./aggregate";

/**
 * The data a model was built with (corpus + tokenizer), else the shipped FlexMix-mini.
 * NOTE: FlexModel keeps its data context private; we read it through a narrow cast until the
 * model exposes it (requested from the lead as a public `model.dataContext()`).
 */
export async function dataOf(model: FlexModel): Promise<DataContext> {
  const own = (model as unknown as { data?: DataContext }).data;
  return own ?? (await defaultDataContext());
}

/** Router telemetry of one token sequence under the model's view. Original expert numbering. */
export async function telemetryOf(model: FlexModel, ids: readonly number[] | Int32Array, batch = 1): Promise<RouterTelemetry> {
  const T = ids.length / batch;
  if (!Number.isInteger(T) || T < 1) throw new Error(`telemetryOf: ${ids.length} ids do not split into ${batch} rows.`);
  if (T > model.config.maxSeqLen) throw new Error(`telemetryOf: rows of ${T} tokens exceed the model's context of ${model.config.maxSeqLen}; shorten the text.`);
  // FlexModel.telemetry frees its pass's tensors itself; only the ids tensor is ours to free.
  const x = tf.tensor2d(Int32Array.from(ids), [batch, T], "int32"); // [B, T]
  try {
    return await model.telemetry(x);
  } finally {
    x.dispose();
  }
}

/**
 * The windows a routing sample reads: the evaluation's window options. Defaults: the model's
 * expert domains that the corpus has, plus public; split "test", as `evaluate`; 8 windows per
 * domain (~1 000 tokens at T = 128); the training context per window, capped by the model's
 * maxSeqLen; 8 rows per forward pass.
 */
export type SampleOptions = WindowOptions;

/** Everything the routing views need about one domain's tokens, per layer. Plain numbers only. */
export interface DomainRouting {
  domain: string;
  /** Tokens routed (per layer: every token passes every layer). */
  tokens: number;
  /** [L][E] tokens that sent a slot to each expert. */
  selected: number[][];
  /** [L][E] tokens whose top-1 expert each is. */
  top1: number[][];
  /** [L][E] summed router probabilities (divide by `tokens` for the mean). */
  probSum: number[][];
  /** [L][E][E] co-activation counts (./aggregate.ts coactivationCounts). */
  coactivation: number[][][];
  /** [L] token id → top-1 expert counts. */
  vocab: TokenExpertCounts[];
  /** [L] summed ‖h‖ of the router input. */
  hNormSum: number[];
}

export interface RoutingSample {
  model: string;
  experts: string[];
  /** Per expert (original numbering): part of this view? */
  include: boolean[];
  k: number;
  layers: number;
  split: string;
  seqLen: number;
  /** Per expert, the bias actually added at inference (0 when dropped; NaN when layers differ). */
  biasUsed: number[];
  domains: DomainRouting[];
}

/** The default domains: those the model has experts for (and the corpus has), then "public". */
export function defaultDomains(model: FlexModel, ctx: DataContext): string[] {
  const ds = model.allExperts.filter((e) => ctx.domains.includes(e));
  if (!ds.includes("public") && ctx.domains.includes("public")) ds.push("public");
  return ds;
}

/** Add one batch's telemetry to a domain's running totals. */
export function accumulate(dst: DomainRouting, tel: RouterTelemetry, ids: ArrayLike<number>): void {
  const { n, e, k } = tel;
  if (ids.length !== n) throw new Error(`accumulate: ${ids.length} ids for ${n} routed tokens.`);
  tel.layers.forEach((L, l) => {
    const sel = selectionCounts(L, n, e, k);
    const t1 = top1Counts(L, n, e, k);
    const mp = meanProbabilities(L, n, e);
    const co = coactivationCounts(L, n, e, k);
    for (let j = 0; j < e; j++) {
      dst.selected[l][j] += sel[j];
      dst.top1[l][j] += t1[j];
      dst.probSum[l][j] += mp[j] * n;
      for (let i = 0; i < e; i++) dst.coactivation[l][j][i] += co[j][i];
    }
    accumulateVocab(dst.vocab[l], ids, L, e, k);
    let h = 0;
    for (let t = 0; t < n; t++) h += L.hNorm[t];
    dst.hNormSum[l] += h;
  });
  dst.tokens += n;
}

export function emptyDomainRouting(domain: string, layers: number, e: number): DomainRouting {
  const grid = () => Array.from({ length: layers }, () => new Array<number>(e).fill(0));
  return {
    domain,
    tokens: 0,
    selected: grid(),
    top1: grid(),
    probSum: grid(),
    coactivation: Array.from({ length: layers }, () => Array.from({ length: e }, () => new Array<number>(e).fill(0))),
    vocab: Array.from({ length: layers }, () => emptyVocabCounts()),
    hNormSum: new Array<number>(layers).fill(0),
  };
}

/**
 * Route evaluation windows of each domain through the model (under its view) and keep per-layer
 * counts. Deterministic: same windows, same order, every time.
 */
export async function sampleRouting(model: FlexModel, opts: SampleOptions = {}): Promise<RoutingSample> {
  checkWindowOptions(opts, model.config.maxSeqLen, "routing");
  model.assertLive("routing");
  const ctx = await dataOf(model);
  const domains = opts.domains ?? defaultDomains(model, ctx);
  if (domains.length === 0) throw new Error('sampleRouting: no domains to read; pass e.g. { domains: ["math", "public"] }.');
  for (const d of domains) ctx.checkDomain(d);
  const split = opts.split ?? "test";
  const seqLen = Math.min(opts.seqLen ?? ctx.seqLen, model.config.maxSeqLen);
  const streams = await tokenStreams(ctx.corpus, ctx.tokenizer, { split, domains });
  const E = model.config.experts.length, L = model.config.nLayers;
  const byDomain = new Map(domains.map((d) => [d, emptyDomainRouting(d, L, E)]));
  let biasUsed: number[] = new Array<number>(E).fill(0);
  let k = model.view.topK;
  for (const batch of evalBatches(streams, { batchSize: opts.batchSize ?? 8, seqLen, domains, maxWindows: opts.maxWindows ?? 8 })) {
    const { inputs } = inputsAndTargets(batch); // [B, T]
    const tel = await telemetryOf(model, inputs, batch.batchSize);
    accumulate(byDomain.get(batch.domains[0])!, tel, inputs);
    biasUsed = tel.biasUsed;
    k = tel.k;
    await new Promise((r) => setImmediate(r)); // keep the kernel responsive (interrupts, displays)
  }
  for (const [d, r] of byDomain) if (r.tokens === 0) throw new Error(`sampleRouting: the ${split} split of "${d}" has no window of ${seqLen + 1} tokens.`);
  return {
    model: model.label,
    experts: model.allExperts,
    include: [...model.view.include],
    k,
    layers: L,
    split,
    seqLen,
    biasUsed,
    domains: domains.map((d) => byDomain.get(d)!),
  };
}

/** Layers to show: "all", "first-middle-last" (OLMoE / FlexOlmo Fig. 2), or explicit indices. */
export function pickLayers(nLayers: number, spec: "all" | "first-middle-last" | readonly number[] = "first-middle-last"): number[] {
  if (spec === "all") return Array.from({ length: nLayers }, (_, i) => i);
  if (spec === "first-middle-last") return [...new Set([0, Math.floor((nLayers - 1) / 2), nLayers - 1])];
  if (!Array.isArray(spec) || spec.length === 0) throw new Error(`layers must be "all", "first-middle-last" or a non-empty list of layer indices (got ${JSON.stringify(spec)}).`);
  for (const l of spec) {
    if (!Number.isInteger(l) || l < 0 || l >= nLayers) throw new Error(`Layer ${l} does not exist: this model has layers 0 … ${nLayers - 1}.`);
  }
  return [...spec];
}
