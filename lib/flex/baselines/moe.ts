/**
 * The unrestricted MoE (docs/method.md §7, the paper's upper bound): what one party could build if the closed
 * data could be pooled. An MoE initialised from the public model — every expert a copy of the
 * public FFN, router rows from domain embeddings (the rows FlexOlmo owners start from) — and trained
 * jointly, every parameter, on the pooled data of the closed domains plus public.
 *
 * Two budgets, as in the paper's Table 1 (1× FLOPs / 0.5× data and 2× FLOPs / 1× data):
 *
 *   data-matched  each closed domain contributes as many tokens as its FlexOlmo owner trained on
 *                 (in expectation: rows are drawn from the mix at random), plus public data at the
 *                 mean owner's share. Mix weights: owner i's steps for domain i, the mean for public;
 *                 steps = Σ_i s_i + mean_i s_i.
 *   FLOP-matched  the same training FLOPs as all owners together: steps · A_moe = Σ_i s_i · A_owner,
 *                 with A the active parameters per token (`activeParams`) and the same batch; same mix.
 *
 * FLOPs per token are counted as 6·A (forward 2A, backward 4A: the usual "6ND"). Two things this
 * ignores, on purpose and in the owners' favour alike: attention-score FLOPs (T ≤ 512 here) and that
 * an owner's frozen weights need no weight gradients (its backward is nearer 4A than 4A + 2A).
 */
import * as tf from "../../tf";
import type { ModelConfig } from "../../model/config";
import { validateConfig, headDim } from "../../model/config";
import { cloneParams } from "../../model/model";
import type { ModelParams } from "../../model/params";
import type { EmbedderName } from "../embed";
import type { DataCard } from "../cards";
import { FlexModel } from "../model";
import type { LabContext } from "../context";
import { PublicModel } from "../public";
import { sha256u32 } from "../../util/hash";
import { baselineCard, baselineProvenance, TrainableBaseline } from "./common";

/**
 * Active parameters per token: per layer the attention projections (q, k, v, o), the router rows,
 * and k expert FFNs (3·C·F each), plus the LM head. Embeddings are a lookup (no multiply) and
 * norms are elementwise, so neither counts.
 */
export function activeParams(cfg: ModelConfig, k: number): number {
  const C = cfg.dModel, hd = headDim(cfg), F = cfg.dFf, E = cfg.experts.length;
  const attn = 2 * C * cfg.nHeads * hd + 2 * C * cfg.nKvHeads * hd;
  return cfg.nLayers * (attn + E * C + k * 3 * C * F) + C * cfg.vocabSize;
}

export type MoeMatch = "flops" | "data";

export interface MoeBudget {
  match: MoeMatch;
  /** Training steps of the unrestricted MoE. */
  steps: number;
  /** Data mix (domain → weight). */
  mix: Record<string, number>;
  /** Tokens per step (batch × context). */
  tokensPerStep: number;
  /** Expected tokens per domain over the run. */
  tokensPerDomain: Record<string, number>;
  /** Tokens all owners trained on together, and per owner. */
  ownerTokens: number;
  ownerSteps: Record<string, number>;
  activeParams: number;
  ownerActiveParams: number;
  /** 6 · A · tokens. */
  flops: number;
  ownerFlops: number;
  /** Closed-domain tokens seen ÷ owners' tokens (the paper's "× data"). */
  dataRatio: number;
  /** Training FLOPs ÷ owners' (the paper's "× FLOPs"). */
  flopsRatio: number;
}

export interface BudgetOptions {
  /** Steps each FlexOlmo owner trained: one number for all, or per domain. */
  ownerSteps: number | Record<string, number>;
  match: MoeMatch;
  /** Experts per token of the unrestricted MoE (default: half the experts, rounded up, as flex.merge). */
  k?: number;
}

/** The step budget of an unrestricted MoE over `domains` matched to FlexOlmo owners (see the file comment). */
export function unrestrictedBudget(lab: LabContext, domains: readonly string[], opts: BudgetOptions): MoeBudget {
  if (!Array.isArray(domains) || domains.length === 0) throw new Error("unrestrictedMoE: name at least one closed domain, e.g. [\"math\", \"code\"].");
  for (const d of domains) {
    lab.data.checkDomain(d);
    if (d === "public") throw new Error('unrestrictedMoE: "public" is always in the pool; list only the closed domains.');
  }
  if (new Set(domains).size !== domains.length) throw new Error(`unrestrictedMoE: a domain is listed twice (${domains.join(", ")}).`);
  if (opts.match !== "flops" && opts.match !== "data") throw new Error(`unrestrictedMoE: match must be "flops" or "data" (got ${JSON.stringify(opts.match)}).`);
  const ownerSteps: Record<string, number> = {};
  for (const d of domains) {
    const s = typeof opts.ownerSteps === "number" ? opts.ownerSteps : opts.ownerSteps?.[d];
    if (!Number.isInteger(s) || (s as number) < 1) throw new Error(`unrestrictedMoE: ownerSteps for "${d}" must be a positive integer (got ${String(s)}): the budget is matched to the owners' training.`);
    ownerSteps[d] = s as number;
  }
  const E = domains.length + 1;
  const k = opts.k ?? Math.ceil(E / 2);
  const cfg: ModelConfig = { ...lab.modelConfig, experts: ["public", ...domains], topK: k };
  validateConfig(cfg);
  const ownerCfg: ModelConfig = { ...lab.modelConfig, experts: ["public", "owner"], topK: 2 };
  const tokensPerStep = lab.trainConfig.batchSize * lab.trainConfig.seqLen;
  const totalOwnerSteps = domains.reduce((s, d) => s + ownerSteps[d], 0);
  const meanOwner = totalOwnerSteps / domains.length;
  const mix: Record<string, number> = { public: meanOwner, ...ownerSteps };
  const A = activeParams(cfg, k), Aown = activeParams(ownerCfg, 2);
  const ownerTokens = totalOwnerSteps * tokensPerStep;
  const steps = opts.match === "data" ? Math.round(totalOwnerSteps + meanOwner) : Math.max(1, Math.round((totalOwnerSteps * Aown) / A));
  const mixTotal = totalOwnerSteps + meanOwner;
  const tokensPerDomain = Object.fromEntries(Object.entries(mix).map(([d, w]) => [d, (steps * tokensPerStep * w) / mixTotal]));
  const closedTokens = domains.reduce((s, d) => s + tokensPerDomain[d], 0);
  const flops = 6 * A * steps * tokensPerStep, ownerFlops = 6 * Aown * ownerTokens;
  return { match: opts.match, steps, mix, tokensPerStep, tokensPerDomain, ownerTokens, ownerSteps, activeParams: A, ownerActiveParams: Aown, flops, ownerFlops, dataRatio: closedTokens / ownerTokens, flopsRatio: flops / ownerFlops };
}

/** The budget record for a run of `steps` steps instead of the matched number (tokens and FLOPs scale linearly). */
function rescale(b: MoeBudget, steps: number): MoeBudget {
  if (steps === b.steps) return b;
  const f = steps / b.steps;
  return { ...b, steps, tokensPerDomain: Object.fromEntries(Object.entries(b.tokensPerDomain).map(([d, t]) => [d, t * f])), flops: b.flops * f, dataRatio: b.dataRatio * f, flopsRatio: b.flopsRatio * f };
}

export interface UnrestrictedOptions extends BudgetOptions {
  /** Train this many steps instead of the matched budget (the budget is still reported). */
  steps?: number;
  /** Train right away (default true); false returns the initialised model. */
  train?: boolean;
  embedder?: EmbedderName;
  docs?: number;
  label?: string;
}

export class UnrestrictedMoE extends TrainableBaseline {
  readonly budget: MoeBudget;
  readonly domains: string[];
  readonly publicTrunk: string;

  constructor(lab: LabContext, pub: PublicModel, domains: readonly string[], params: ModelParams, budget: MoeBudget, label: string, k: number) {
    const config: ModelConfig = { ...pub.config, experts: ["public", ...domains], topK: k, normTopkProb: false };
    // The lab's (public pretraining) recipe: all parameters, weight decay as in pretraining; the bias stays 0.
    const tc = { ...lab.trainConfig, topK: k, bias: "drop" as const };
    super(lab, "unrestricted MoE", label, config, params, { tc, spec: { frozen: ["model.layers.*.mlp.expert_bias"] }, mix: budget.mix, seed: (lab.seed + sha256u32("unrestricted-moe")) >>> 0 });
    this.budget = budget;
    this.domains = [...domains];
    this.publicTrunk = pub.trunkFingerprint();
  }

  model(): FlexModel {
    const pool = ["public", ...this.domains];
    const training = { steps: this.step, match: this.budget.match, dataRatio: this.budget.dataRatio, flopsRatio: this.budget.flopsRatio, trainable: "all parameters" };
    const cards: Record<string, DataCard> = Object.fromEntries(pool.map((e) => [e, baselineCard(this.lab, e, pool, this.tokensSeen, training, "joint training on pooled data")]));
    return new FlexModel({
      config: this.config,
      params: this.params,
      cards,
      provenance: baselineProvenance("merged", "approximate", { method: `unrestricted MoE (${this.budget.match}-matched)`, note: "Trained jointly on the pooled data of every domain: no expert is tied to one data set, so no opt-out is possible." }, this.publicTrunk),
      view: { bias: "drop" },
      label: this.label,
      data: this.lab.data,
    });
  }
}

/**
 * An unrestricted MoE over `domains` (+ public) initialised from `pub` and trained on the pooled
 * data for the matched budget (`opts.match`, see the file comment).
 */
export async function unrestrictedMoE(lab: LabContext, pub: PublicModel, domains: readonly string[], opts: UnrestrictedOptions): Promise<UnrestrictedMoE> {
  if (!(pub instanceof PublicModel) || pub.lab !== lab) throw new Error("unrestrictedMoE: pass the lab and its public model: unrestrictedMoE(lab, pub, [\"math\", \"code\"], { match, ownerSteps }).");
  const budget = unrestrictedBudget(lab, domains, opts);
  const steps = opts.steps ?? budget.steps;
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`unrestrictedMoE: steps must be a non-negative integer (got ${steps}).`);
  const E = domains.length + 1;
  const k = opts.k ?? Math.ceil(E / 2);
  const embedder = opts.embedder ?? "external";
  const docs = opts.docs ?? 1000;
  const rows = (await Promise.all(["public", ...domains].map((d) => lab.embed(d, { embedder, docs, from: pub })))).map((e) => Array.from(e.vector));
  const base = cloneParams(pub.params);
  const params: ModelParams = {
    ...base,
    layers: base.layers.map((l) => {
      l.router.dispose();
      l.expertBias.dispose();
      const f = l.experts[0];
      return {
        ...l,
        router: tf.tensor2d(rows, [E, lab.modelConfig.dModel]), // [E, C]
        expertBias: tf.zeros([E]) as tf.Tensor1D, // [E]
        experts: [f, ...rows.slice(1).map(() => ({ gate: tf.clone(f.gate), up: tf.clone(f.up), down: tf.clone(f.down) }))], // E copies of the public FFN
      };
    }),
  };
  const label = opts.label ?? `unrestricted MoE (${opts.match === "flops" ? "FLOP" : "data"}-matched)`;
  const m = new UnrestrictedMoE(lab, pub, domains, params, rescale(budget, steps), label, k);
  if (opts.train !== false && steps > 0) await m.train({ steps });
  return m;
}
