/**
 * The paper's baselines and FlexOlmo's ablations (docs/method.md §3, §7; Table 1), built from the same public
 * model and data in one call each, so `flex.compare` can put them side by side:
 *
 *   const lab = await flex.lab({ preset: "cpu" });
 *   const pub = await lab.publicModel();                             // shipped where it fits, else: await pub.train({ steps: 150 })
 *   const math = await baselines.denseExpert(lab, pub, "math", { steps: 60 });
 *   const code = await baselines.denseExpert(lab, pub, "code", { steps: 60 });
 *   const models = [
 *     await baselines.naiveMerge(pub, [math, code]),                  // FlexOlmo − no training to coordinate
 *     baselines.soup([pub, math, code]),                              // model soup (uniform)
 *     baselines.likelihoodSoup([pub, math, code]),                    // model soup (likelihood-weighted)
 *     baselines.btm([pub, math, code], { topK: 2 }),                  // BTM
 *     await baselines.btx(pub, [math, code], { steps: 30 }),          // BTX (router trained on public data)
 *     baselines.promptRouting(pub, [math, code]),                     // prompt routing
 *     await baselines.unrestrictedMoE(lab, pub, ["math", "code"], { match: "flops", ownerSteps: 60 }),
 *     ...(await baselines.flexolmoVariants(lab, pub, ["math", "code"], { steps: 60, rtSteps: 30 })).list,
 *   ];
 *   await flex.compare(models, { domains: ["math", "code", "public"], reference: pub });
 *
 * Which models each baseline combines: the public model plus one dense expert per closed domain,
 * i.e. the same n + 1 data sets FlexOlmo combines (public expert + n owners). Soup, BTM and
 * prompt routing take the list you give; the MoE baselines always put the public FFN first.
 *
 * Design decisions (the paper leaves these open; each is documented where it is implemented):
 *   - Dense experts train on the FlexOlmo owner's exact batches with the owner's optimiser settings
 *     (./baselines/dense.ts): only "what trains" differs.
 *   - Naive merge keeps the PUBLIC trunk by default (`trunk: "average"` is offered); BTX averages
 *     the trunks of all n + 1 models (./baselines/upcycle.ts).
 *   - Likelihood-weighted soup and prompt routing decide per window from the text before the
 *     window's first target; BTM per position from the targets before it (./baselines/ensembles.ts).
 *     Soup: softmax(−mean NLL / τ), τ = 1. BTM: softmax(−total NLL / τ), τ = 1 (Bayes' rule), top-2,
 *     mixing probabilities ("logits" offered).
 *   - Unrestricted MoE: data-matched = each closed domain's tokens equal its owner's (public at the
 *     mean owner's share); FLOP-matched = 6·A_active·tokens equal to all owners' (./baselines/moe.ts).
 */
import { denseExpert, DenseExpert } from "./baselines/dense";
import { naiveMerge, btx, Btx } from "./baselines/upcycle";
import { soup } from "./baselines/soup";
import { Btm, LikelihoodSoup, PromptRouting, loadEnsemble, routingClassifier, type BtmOptions, type LikelihoodSoupOptions, type PromptRoutingOptions } from "./baselines/ensembles";
import { unrestrictedMoE, unrestrictedBudget, activeParams, UnrestrictedMoE } from "./baselines/moe";
import { flexolmoVariants } from "./baselines/variants";
import { loadFlexModel } from "./baselines/load";
import type { ModelSource } from "./baselines/common";

/** BTM over `models` (the public model and dense experts, usually). */
function btm(models: readonly ModelSource[], opts: BtmOptions = {}): Btm {
  return new Btm(models, opts);
}

/** Model soup whose weights are a softmax over each member's likelihood of the input. */
function likelihoodSoup(models: readonly ModelSource[], opts: LikelihoodSoupOptions = {}): LikelihoodSoup {
  return new LikelihoodSoup(models, opts);
}

/** One dense expert per sequence, chosen by a domain classifier; the public model as the fallback. */
function promptRouting(pub: ModelSource, experts: readonly ModelSource[], opts: PromptRoutingOptions = {}): PromptRouting {
  return new PromptRouting(pub, experts, opts);
}

export const baselines = {
  denseExpert,
  naiveMerge,
  soup,
  likelihoodSoup,
  btm,
  btx,
  promptRouting,
  unrestrictedMoE,
  unrestrictedBudget,
  activeParams,
  flexolmoVariants,
  loadEnsemble,
  loadFlexModel,
  routingClassifier,
};

export { DenseExpert, Btx, Btm, LikelihoodSoup, PromptRouting, UnrestrictedMoE };
export type { DenseExpertOptions } from "./baselines/dense";
export type { UpcycleOptions, BtxOptions, TrunkChoice } from "./baselines/upcycle";
export type { SoupOptions } from "./baselines/soup";
export type { BtmOptions, LikelihoodSoupOptions, PromptRoutingOptions, LikelihoodMode } from "./baselines/ensembles";
export type { MoeBudget, MoeMatch, UnrestrictedOptions, BudgetOptions } from "./baselines/moe";
export type { VariantKey, VariantsOptions, FlexOlmoVariants } from "./baselines/variants";
export type { ModelSource } from "./baselines/common";
export type { WindowEvalOptions } from "./evaluate";
