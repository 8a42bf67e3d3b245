/**
 * The optional router tuning on public proxy data (docs/method.md §4.2): a free function over a
 * merged model and the lab context it came from (`flex.tuneRouter(model, lab, { steps })`).
 */
import * as tf from "../tf";
import { cloneParams } from "../model/model";
import type { ModelParams } from "../model/params";
import { routerTuningSpec } from "../train/freeze";
import { resumable, TrainingSession } from "../train/session";
import type { StepProgress } from "../train/trainer";
import { TokenBatcher, tokenStreams, joinWithEos } from "../data/batcher";
import type { LabContext } from "./context";
import { FlexModel } from "./model";
import { TrainRecord } from "./records";

/**
 * Warm-up of a router-training run: 10 % of its steps, at most 100 (FlexOlmo's router-tuning
 * script). BTX's router training uses the same rule.
 */
export function routerWarmup(steps: number): number {
  return Math.min(100, Math.max(1, Math.floor(steps / 10)));
}

export interface TuneRouterOptions {
  steps: number;
  /** Public documents per owner domain picked as proxies (the paper keeps |D̂_i| ≪ 1 % of D_i). Default 64. */
  proxyDocs?: number;
  /** Top-k during tuning. Default: all experts of the view (as the paper's RT recipe, top_k = E). */
  k?: number;
  /** Peak LR (2e-3, as in the released router-tuning script; docs/method.md §4.2). */
  lr?: number;
  /**
   * The public split the tuning reads (its proxies and its public stream). Default "valid": public
   * text the public model never trained on. A departure from the paper, whose proxies come from the
   * public pretraining data: at 1 T tokens nothing is memorised, but the lab's public model sees its
   * train split ~6 times (3 000 steps over ~1 M tokens). On memorised documents the public expert
   * always looks best, so tuning on them teaches every router row to send owners' tokens back to
   * it (measured on the main job: code perplexity 48.0 untuned → 63.8 tuned on "train", 49.2 on
   * "valid"; docs/recipes.md). The test split is never used.
   */
  split?: "train" | "valid";
  signal?: AbortSignal;
  /** Called after each tuning step (a progress line, a live view). */
  onProgress?: (p: StepProgress) => void;
  /** The tuned model's label. Default: the input's label + "+RT". */
  label?: string;
}

export interface ProxySelection {
  /** Per owner domain: the ids of the public documents chosen as its proxy. */
  proxies: Record<string, string[]>;
}

/**
 * Public documents (of `split`, default valid: see `TuneRouterOptions.split`) that the domain classifier
 * rates most like each owner domain (docs/method.md §4.2).
 * Ranking is by the classifier's log posterior of that domain; ties break by document id.
 */
export async function selectProxies(lab: Pick<LabContext, "classifier" | "data">, domains: readonly string[], perDomain: number, split: "train" | "valid" = "valid"): Promise<ProxySelection & { texts: Record<string, string[]> }> {
  const clf = await lab.classifier();
  const pubDocs = lab.data.corpus.documents({ domain: "public", split });
  const scored = pubDocs.map((d) => ({ id: d.id, text: d.text, lp: clf.classify(d.text).logProbs }));
  const proxies: Record<string, string[]> = {};
  const texts: Record<string, string[]> = {};
  for (const dom of domains) {
    if (!clf.domains.includes(dom)) throw new Error(`selectProxies: the classifier does not know domain "${dom}".`);
    const ranked = [...scored].sort((a, b) => b.lp[dom] - a.lp[dom] || (a.id < b.id ? -1 : 1)).slice(0, perDomain);
    proxies[dom] = ranked.map((r) => r.id);
    texts[dom] = ranked.map((r) => r.text);
  }
  return { proxies, texts };
}

/**
 * Router tuning (docs/method.md §4.2): experts, trunk and head frozen; every router row (r_pub included)
 * and bias trains, on a uniform mix of the public split and each owner's public proxies.
 * Returns a NEW model (the input is untouched) whose provenance says opt-out is now approximate.
 * It owns all of its tensors (free them with `tuned.dispose()`).
 */
export async function tuneRouter(model: FlexModel, lab: LabContext, opts: TuneRouterOptions): Promise<FlexModel> {
  model.assertLive("tuneRouter");
  if (!opts || !Number.isInteger(opts.steps) || opts.steps < 1) throw new Error("tuneRouter: pass { steps: N } with N ≥ 1.");
  const owners = model.config.experts.slice(1);
  if (owners.length === 0) throw new Error("tuneRouter: the model has no owner experts to route between.");
  const perDomain = opts.proxyDocs ?? 64;
  if (!Number.isInteger(perDomain) || perDomain < 1) throw new Error(`tuneRouter: proxyDocs must be a positive integer (public documents per owner domain; got ${String(opts.proxyDocs)}).`);
  const included = model.view.include.filter(Boolean).length;
  if (opts.k !== undefined && !(Number.isInteger(opts.k) && opts.k >= 1 && opts.k <= included)) {
    throw new Error(`tuneRouter: k must be an integer from 1 to ${included} (the experts in this view; default all of them); got ${String(opts.k)}.`);
  }
  const split = opts.split ?? "valid";
  if (split !== "train" && split !== "valid") throw new Error(`tuneRouter: split must be "train" or "valid" (got ${JSON.stringify(split)}); the test split is for evaluation only.`);
  const sel = await selectProxies(lab, owners.filter((o) => lab.data.domains.includes(o)), perDomain, split);
  // Token streams: public text of the split plus one proxy stream per owner domain.
  const tok = lab.data.tokenizer;
  const streams = { ...(await tokenStreams(lab.data.corpus, tok, { split, domains: ["public"] })) };
  for (const [dom, texts] of Object.entries(sel.texts)) streams[`proxy:${dom}`] = joinWithEos(await tok.encodeBatch(texts), tok.eosId);
  const mix = Object.fromEntries(Object.keys(streams).map((k) => [k, 1]));
  // Default k: every expert of the view (a view without some has fewer than E, and k = E would not run).
  const tc = { ...lab.trainConfig, lr: opts.lr ?? 2e-3, topK: opts.k ?? included, include: [...model.view.include], bias: model.view.bias };
  const batcher = new TokenBatcher(streams, { batchSize: tc.batchSize, seqLen: tc.seqLen, seed: (lab.seed + 17) >>> 0, mix });
  // Trunk and experts are shared with the input model (frozen: never replaced); router and bias are copies.
  const params: ModelParams = {
    ...model.params,
    layers: model.params.layers.map((l) => ({ ...l, router: tf.clone(l.router), expertBias: tf.clone(l.expertBias) })),
  };
  const session = new TrainingSession("router tuning", async () => ({ params, cfg: model.config, tc, batches: resumable(batcher), spec: routerTuningSpec() }));
  let res;
  try {
    res = (await session.train({ steps: opts.steps, signal: opts.signal, onProgress: opts.onProgress, schedule: { warmupSteps: routerWarmup(opts.steps) } })).result;
  } finally {
    session.dispose();
  }
  // Own every tensor: clone the shared ones too, so disposing the input model cannot break this one.
  const owned = cloneParams(params);
  params.layers.forEach((l) => {
    l.router.dispose();
    l.expertBias.dispose();
  });
  const record = TrainRecord.fromSteps("router tuning", res);
  const tuned = new FlexModel({
    config: model.config,
    params: owned,
    cards: { ...model.cards },
    provenance: { ...model.provenance, kind: "router-tuned", routerTuned: true, tunedOn: [`public (${split})`, ...Object.keys(sel.proxies).map((d) => `proxy:${d} (${split})`)] },
    view: model.view,
    label: opts.label ?? `${model.label}+RT`,
    data: lab.data,
    tuning: { record, proxies: sel.proxies },
    owns: true, // every tensor cloned above: tuned.dispose() frees them, the input model is untouched
  });
  return tuned;
}
