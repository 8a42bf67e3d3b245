/**
 * Hand-written "likely reasons" for claims the toy does not reproduce, keyed by claim id
 * (lib/reproduce/claims.ts). The report prints one only when that claim's verdict is not "holds"
 * (never for the tiny test recipe). Written after the quick run (1 seed, 40–50 expert steps) and
 * the calibration runs of the study recipe; they are explanations to check against the numbers
 * next to them, not results. Where a reason cites a measurement, the report shows it.
 */

/** The explanation most failures share, measured by the report's diagnostic table. */
const FFN_SHARE =
  "At this scale the domain shift lives mostly in the embeddings and the LM head (most of the toy model's parameters, frozen for owners): the diagnostic table shows how small a share of a dense expert's log-perplexity gain FFN-only training recovers — and a FlexOlmo owner about the same — while embeddings + LM head alone recover most of it (in the quick run: roughly a fifth to a third vs ~80 %). In OLMo-2 7B the FFNs hold ~60 % of the parameters and owners train for 50 B tokens, so the paper's owners can carry their domain; ours can carry little of it.";

const ROUTING =
  "The merged router sends most tokens of EVERY domain to the same one or two owners (Fig. 2: in the one-seed calibration run of the study recipe, the math and educational owners took ~85 % of the slots of all nine domains in the last layer). Each owner trained its row alone against a frozen r_pub, and the easiest way to lower its loss is to win the public expert's tokens too, i.e. to align its row with the common direction of the hidden states; in the merge, several rows that all say 'me' meet, and the largest wins everywhere. Tokens then go through other owners' FFNs, tuned on other data. The paper's negative bias exists to damp exactly this, and router tuning repairs much of it here (compare the RT rows).";

export const LIKELY_REASONS: Record<string, string> = {
  "rt-vs-public": `${FFN_SHARE} ${ROUTING} Together these leave FlexOlmo (with RT) at best near the public model, and below it without RT.`,
  "rt-vs-baselines": `The merging baselines all start from DENSE experts, which at this scale gain far more than FFN-only owners (diagnostic table); BTM and prompt routing pick whole dense experts per window, so they inherit that gain, and FlexOlmo cannot. ${FFN_SHARE}`,
  "btm-strongest": "BTM and prompt routing both hand a whole window to the best-fitting dense expert; with eight very different domains a classifier (prompt routing) is about as good as BTM's likelihood weights, so which of the two wins is within seed noise.",
  "no-rt-vs-btm": `As for the RT comparison: BTM ensembles dense experts, whose gain at this scale is mostly in parameters FlexOlmo owners may not train. ${FFN_SHARE}`,
  "rt-helps": "Router tuning trains only router rows and biases on public proxies for a few dozen steps; when the owners carry little domain signal, better routing has little to gain, and the tuned router can trade public-domain quality against proxy quality either way.",
  "bias-helps": "The bias starts at β = −1 and barely moves in a few dozen owner steps; its effect on the merged model is then small and of either sign, within seed noise.",
  "init-helps": "With few owner steps the router rows stay near their starting point, so the comparison mostly measures two starting geometries, not what training made of them; the gap is small and seed-dependent.",
  "coordination-essential": `The naive merge keeps the untrained domain-embedding router rows, while coordinated owners LEARN their rows — and here the learned rows are what goes wrong in the merge: ${ROUTING} The dense experts' FFNs, meanwhile, changed little (their gain sits in the embeddings and LM head the naive merge does not take), so the naive merge is close to the public model, while FlexOlmo without RT is below it.`,
  "beats-flop-moe": "The unrestricted MoE trains EVERY parameter (embeddings and LM head included) on the pooled data; at this scale that is where the domain gain lives (diagnostic table), so even the FLOP-matched MoE gains far more than FFN-only owners. The paper's 7B experts are FFN-dominated, which removes this advantage.",
  "data-moe-upper-bound": "The data-matched MoE trains every parameter on all the pooled data; if it does not beat FlexOlmo the MoE's own training (its LR schedule, or routing collapse under no load balancing) is the first thing to check.",
  "dense-specialise": "A dense expert continued on one domain for a few dozen steps at this LR already forgets the others (its other columns rise sharply); when the claim fails it is usually on the 'own domain' half for a domain whose test split differs from its train split (e.g. held-out families).",
  "per-domain-vs-btm": `BTM picks a whole dense expert per window, so on every closed domain it inherits that expert's gain; FlexOlmo's owners carry only part of it here. ${FFN_SHARE} The paper's single exception (code) cannot show when FlexOlmo is behind everywhere.`,
  "routing-own-expert": ROUTING,
  "routing-public-frequent": "With k of E experts per token and the owners' bias at −1, the public expert should win a slot almost always; if it does not, the learned owner rows have grown large relative to r_pub.",
  "routing-layers-differ": "With router rows that barely move from the same vector copied into every layer, routing can only differ between layers through the hidden states; the threshold (10 % of slot mass) is ours.",
  "k-plateau": "When the owners carry little domain signal, adding experts adds mostly noise (other owners' FFNs) and the curve is flat or U-shaped rather than rising then flat.",
  "opt-out": `Removing an owner changes a domain's perplexity only as much as that owner contributed, and here owners contribute little (diagnostic table) while routing is spread over all owners (Fig. 2), so removal effects are small and not concentrated on the owner's own domain. ${ROUTING}`,
  "random-init-collapse": "Compare the 'at start' cosines: FlexOlmo's random init (truncated normal, std 0.002, clipped to the negative orthant, lib/flex/embed.ts) starts the rows tiny and highly similar, and because they are tiny, a few dozen training steps overwrite them and spread them apart; the unit-norm domain-embedding rows barely move from their start, where TF-IDF vectors share common-word mass. So at this training length the learned geometry reflects the init scale; the paper's collapse is reported after 50 B tokens per owner.",
  "privacy-sanity": "The over-fitted model is trained on exactly the tested documents; if it is not extracted, it needs more steps (the paper: 100 epochs).",
  "privacy-public": "The public model never saw the math training documents; an 'extraction' would be a deterministic continuation (the paper's 0.1 % are of this kind), e.g. a worksheet template.",
  "privacy-flexolmo": "At toy scale with a few dozen math steps neither the dense expert nor FlexOlmo memorises a 32-token continuation, so both rates are 0 and cannot be ordered; mean best similarity is the finer signal, and its ordering follows how much each model learned about math at all.",
};
