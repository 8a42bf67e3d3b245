/**
 * MoE baselines built from uncoordinated dense experts (docs/method.md §3 ablation, §7 BTX):
 *
 *   naiveMerge  the paper's "− no training to coordinate": dense experts' FFNs stacked behind the
 *               public FFN, router rows from domain embeddings, no training at all.
 *   btx         Branch-Train-MiX: the same stack with the non-expert parameters AVERAGED, then the
 *               router (or everything) trained on public data only (closed data cannot be pooled).
 *
 * Both use the router rows FlexOlmo owners start from (`lab.embed`, same embedder and documents),
 * so the difference to FlexOlmo is exactly the coordinated training.
 */
import * as tf from "../../tf";
import type { ModelConfig } from "../../model/config";
import { validateConfig } from "../../model/config";
import { cloneParams, disposeParams } from "../../model/model";
import type { LayerParams, ModelParams } from "../../model/params";
import type { EmbedderName } from "../embed";
import type { DataCard } from "../cards";
import { FlexModel } from "../model";
import type { LabContext } from "../context";
import { PublicModel } from "../public";
import { routerWarmup } from "../tune";
import { sha256u32 } from "../../util/hash";
import { baselineProvenance, checkSameArchitecture, checkUniqueLabels, flexModelOf, TrainableBaseline, weightedAverage, type ModelSource } from "./common";
import { DenseExpert } from "./dense";

/**
 * Which single trunk (attention, embeddings, norms, head) the merged model keeps. The paper does
 * not say for its "no training to coordinate" row. Default "public": it is what FlexOlmo's merge
 * keeps (coordinated owners never change it), it keeps opt-out exact, and it isolates the question
 * the ablation asks — do FFNs trained without coordination still fit the shared trunk? "average"
 * is BTX's choice (mean of the public model's and every dense expert's trunk).
 */
export type TrunkChoice = "public" | "average";

export interface UpcycleOptions {
  /** The single trunk of the merged model (default "public" for naiveMerge, "average" for BTX). */
  trunk?: TrunkChoice;
  /** Experts per token (default: half the experts, rounded up — as flex.merge). */
  k?: number;
  /** Router-row embedder (default "external", the FlexOlmo owners' default). */
  embedder?: EmbedderName;
  /** Documents per domain embedding (default 1 000, as owners). */
  docs?: number;
  label?: string;
}

interface Upcycled {
  config: ModelConfig;
  params: ModelParams;
  cards: Record<string, DataCard>;
  names: string[];
}

/** The FFN-stacked model: experts [public, d_1..d_n], router rows from domain embeddings, zero bias. */
async function upcycle(pub: PublicModel, experts: readonly ModelSource[], trunk: TrunkChoice, opts: UpcycleOptions, who: string): Promise<Upcycled> {
  if (!(pub instanceof PublicModel)) throw new Error(`${who}: the first argument must be the public model (await lab.publicModel()).`);
  if (!Array.isArray(experts) || experts.length === 0) throw new Error(`${who}: pass at least one dense expert, e.g. ${who}(pub, [math, code]).`);
  if (trunk !== "public" && trunk !== "average") throw new Error(`${who}: trunk must be "public" or "average" (got ${JSON.stringify(trunk)}).`);
  const lab = pub.lab;
  const pubM = pub.model();
  const ms = experts.map((e) => flexModelOf(e, who));
  const names = ms.map((m, i) => {
    if (m.config.experts.length !== 1) throw new Error(`${who}: "${m.label}" has ${m.config.experts.length} experts; ${who} stacks DENSE experts (baselines.denseExpert).`);
    const e = experts[i];
    return e instanceof DenseExpert ? e.domain : m.config.experts[0];
  });
  checkSameArchitecture([pubM, ...ms], who);
  checkUniqueLabels(["public", ...names], `${who} (expert names; "public" is the public model's)`);
  for (const n of names) {
    if (!lab.data.domains.includes(n)) throw new Error(`${who}: expert "${n}" is not a corpus domain (${lab.data.domains.join(", ")}), so it has no domain embedding for its router row.`);
  }
  const embedder = opts.embedder ?? "external";
  const docs = opts.docs ?? 1000;
  const rows = [await lab.embed("public", { embedder, docs, from: pub }), ...(await Promise.all(names.map((n) => lab.embed(n, { embedder, docs, from: pub }))))].map((e) => Array.from(e.vector));
  const E = names.length + 1;
  const k = opts.k ?? Math.ceil(E / 2);
  const config: ModelConfig = { ...pub.config, experts: ["public", ...names], topK: k, normTopkProb: false };
  validateConfig(config);

  // The trunk: a copy of the public one, or the mean over [public, d_1..d_n] (every model whose FFN becomes an expert).
  const base = trunk === "public" ? cloneParams(pub.params) : weightedAverage([pub.params, ...ms.map((m) => m.params)], new Array(E).fill(1 / E));
  const layers: LayerParams[] = base.layers.map((l, i) => {
    l.router.dispose();
    l.expertBias.dispose();
    l.experts.forEach((x) => [x.gate, x.up, x.down].forEach((t) => t.dispose()));
    const ffns = [pub.params.layers[i].experts[0], ...ms.map((m) => m.params.layers[i].experts[0])];
    return {
      ...l,
      router: tf.tensor2d(rows, [E, config.dModel]), // [E, C] the same rows in every layer (docs/method.md §2.2)
      expertBias: tf.zeros([E]) as tf.Tensor1D, // [E] no bias: dense experts never learned one
      experts: ffns.map((f) => ({ gate: tf.clone(f.gate), up: tf.clone(f.up), down: tf.clone(f.down) })),
    };
  });
  const cards: Record<string, DataCard> = { public: pub.card() };
  ms.forEach((m, i) => {
    const e = experts[i];
    const c = e instanceof DenseExpert ? e.card() : m.cards[names[i]];
    if (c) cards[names[i]] = { ...c, expert: names[i] };
  });
  return { config, params: { ...base, layers }, cards, names };
}

/**
 * FlexOlmo's "− no training to coordinate" ablation (docs/method.md §3, Table 1 row 38.8): merge dense
 * experts exactly as FlexOlmo merges owners, without training anything.
 */
export async function naiveMerge(pub: PublicModel, experts: readonly ModelSource[], opts: UpcycleOptions = {}): Promise<FlexModel> {
  const trunk = opts.trunk ?? "public";
  const u = await upcycle(pub, experts, trunk, opts, "naiveMerge");
  return new FlexModel({
    config: u.config,
    params: u.params,
    cards: u.cards,
    provenance: baselineProvenance("merged", trunk === "public" ? "exact" : "approximate", {
      method: "naive merge",
      note: `Dense experts (no coordination) stacked behind the public FFN; router rows from domain embeddings; ${trunk} trunk.${trunk === "average" ? " The averaged trunk carries every expert's data, so opt-out is approximate." : ""}`,
    }, pub.trunkFingerprint()),
    view: { bias: "drop" },
    label: opts.label ?? "− no training to coordinate",
    data: pub.lab.data,
    owns: true, // upcycle built new tensors: the merge's dispose() frees them
  });
}

export interface BtxOptions extends UpcycleOptions {
  /** Training steps on public data right away (also the LR schedule's length). Default 0. */
  steps?: number;
  /** What trains on public data: the router only (default, cheapest), or every parameter (as the paper describes BTX). */
  train?: "router" | "all";
  /** Peak LR (default: 2e-3, the RT recipe's, for "router"; the lab's LR for "all"). */
  lr?: number;
}

/** A BTX model being trained on public data, stepwise. */
export class Btx extends TrainableBaseline {
  readonly trainWhat: "router" | "all";
  private readonly cards: Record<string, DataCard>;
  readonly publicTrunk: string;

  constructor(lab: LabContext, pub: PublicModel, u: Upcycled, opts: BtxOptions) {
    const steps = opts.steps ?? 0;
    const train = opts.train ?? "router";
    if (train !== "router" && train !== "all") throw new Error(`btx: train must be "router" or "all" (got ${JSON.stringify(train)}).`);
    const tc = {
      ...lab.trainConfig,
      lr: opts.lr ?? (train === "router" ? 2e-3 : lab.trainConfig.lr),
      topK: u.config.topK,
      bias: "drop" as const,
    };
    // The bias stays 0 (BTX has none); everything else per `train`.
    const spec = train === "router" ? { trainable: ["model.layers.*.mlp.gate.weight"] } : { frozen: ["model.layers.*.mlp.expert_bias"] };
    super(lab, "BTX", opts.label ?? "BTX", u.config, u.params, { tc, spec, mix: "public", seed: (lab.seed + sha256u32("btx")) >>> 0, warmup: routerWarmup /* the RT recipe's warm-up */ });
    this.trainWhat = train;
    this.cards = u.cards;
    this.publicTrunk = pub.trunkFingerprint();
  }

  model(): FlexModel {
    return new FlexModel({
      config: this.config,
      params: this.params,
      cards: this.cards,
      provenance: baselineProvenance("router-tuned", "approximate", {
        method: "BTX",
        note: `Dense experts' FFNs upcycled into an MoE with the trunk averaged over all models (every expert's data is in it), then ${this.trainWhat === "router" ? "the router" : "every parameter"} trained on public data for ${this.step} steps.`,
      }, this.publicTrunk),
      view: { bias: "drop" },
      label: this.label,
      data: this.lab.data,
    });
  }
}

/**
 * BTX (docs/method.md §7): dense experts' FFNs as experts behind the public FFN, non-expert parameters
 * averaged (public + experts), router rows from domain embeddings, then `steps` steps of training
 * on public data only. Stepwise: `await b.train({ steps })` continues.
 */
export async function btx(pub: PublicModel, experts: readonly ModelSource[], opts: BtxOptions = {}): Promise<Btx> {
  const steps = opts.steps ?? 0;
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`btx: steps must be a non-negative integer (got ${steps}).`);
  const u = await upcycle(pub, experts, opts.trunk ?? "average", opts, "btx");
  let b: Btx;
  try {
    b = new Btx(pub.lab, pub, u, opts);
  } catch (e) {
    disposeParams(u.params);
    throw e;
  }
  if (steps > 0) await b.train({ steps });
  return b;
}
