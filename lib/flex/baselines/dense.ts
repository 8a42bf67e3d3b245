/**
 * Dense domain experts (docs/method.md §7): the public model, continued-pretrained on one closed domain with
 * ALL parameters trainable and no coordination with anyone. Every merging baseline (soup, BTM,
 * BTX, prompt routing, and FlexOlmo's "− no training to coordinate" ablation) starts from these.
 *
 *   const math = await baselines.denseExpert(lab, pub, "math", { steps: 60 });
 *   await math.train({ steps: 20 });          // stepwise, like pub.train
 *   await math.evaluate();                     // math + public perplexity
 *
 * Same data as the FlexOlmo owner of that domain: the batch seed is the owner's, so both read the
 * same windows in the same order, and the optimiser settings are the owner's (`ownerTraining`:
 * weight decay 0). The only difference from an owner is what trains: everything, in one FFN.
 */
import type { ModelConfig } from "../../model/config";
import { ownerTraining } from "../../train/config";
import type { DataCard } from "../cards";
import { FlexModel } from "../model";
import type { LabContext } from "../context";
import { ownerBatchSeed } from "../owner";
import { PublicModel } from "../public";
import { baselineCard, baselineProvenance, TrainableBaseline } from "./common";

export interface DenseExpertOptions {
  /** Steps to train right away (default 0: train later with `expert.train({ steps })`). */
  steps?: number;
  /** Who owns it (for the data card). */
  owner?: string;
}

export class DenseExpert extends TrainableBaseline {
  readonly domain: string;
  /** Fingerprint of the public model it started from. */
  readonly publicTrunk: string;
  private readonly ownerName: string;

  constructor(lab: LabContext, pub: PublicModel, domain: string, opts: DenseExpertOptions = {}) {
    lab.data.checkDomain(domain);
    if (domain === "public") throw new Error('denseExpert: "public" is the public model itself; dense experts continue it on a closed domain (e.g. "math").');
    if (!(pub instanceof PublicModel)) throw new Error('denseExpert: pass the public model to start from: baselines.denseExpert(lab, pub, "math").');
    if (pub.lab !== lab) throw new Error("denseExpert: the public model belongs to another lab; build both from the same flex.lab(...).");
    // The single expert is named after its domain, so `evaluate()` defaults to [domain, public].
    const config: ModelConfig = { ...pub.config, experts: [domain], topK: 1 };
    // Owner optimiser settings (wd 0), routing fixed to the single expert.
    const tc = { ...ownerTraining(lab.trainConfig), topK: 1 };
    super(lab, `dense expert "${domain}"`, `dense:${domain}`, config, pub.snapshot(), { tc, spec: {}, mix: domain, seed: ownerBatchSeed(lab, domain) });
    this.domain = domain;
    this.publicTrunk = pub.trunkFingerprint();
    this.ownerName = opts.owner ?? `${domain} owner`;
  }

  card(): DataCard {
    return baselineCard(this.lab, this.domain, [this.domain], this.tokensSeen, { steps: this.step, trainable: "all parameters", lr: this.recipe.tc.lr, weightDecay: this.recipe.tc.weightDecay, batchSize: this.recipe.tc.batchSize, seqLen: this.recipe.tc.seqLen }, this.ownerName);
  }

  model(): FlexModel {
    return new FlexModel({
      config: this.config,
      params: this.params,
      cards: { [this.domain]: this.card() },
      // Opt-out is not a question for a dense model: the domain's data is in every weight.
      provenance: baselineProvenance("owner", "approximate", { method: "dense expert", note: `Continued pretraining of the public model on "${this.domain}" (all parameters); its data is in every weight.` }, this.publicTrunk),
      label: this.label,
      data: this.lab.data,
    });
  }
}

/** A dense expert of `domain` continued from `pub`, trained `steps` steps (more with `.train`). */
export async function denseExpert(lab: LabContext, pub: PublicModel, domain: string, opts: DenseExpertOptions = {}): Promise<DenseExpert> {
  const steps = opts.steps ?? 0;
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`denseExpert: steps must be a non-negative integer (got ${steps}).`);
  const e = new DenseExpert(lab, pub, domain, opts);
  if (steps > 0) await e.train({ steps });
  return e;
}
