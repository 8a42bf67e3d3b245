/**
 * Merging owner experts into one FlexOlmo model — no training (docs/method.md §4.1).
 *
 * Every owner trained a 2-expert model [public FFN, own FFN] with router rows [r_pub, r_i] against
 * the same frozen public trunk. Merging stacks the owners' own FFNs after the public FFN and
 * concatenates their router rows after r_pub, in every layer. Like FlexOlmo's
 * `merge_experts_to_flexolmo.py`, it first checks the coordination invariant: every shared tensor
 * (embeddings, attention, norms, head, the public FFN and r_pub) is bit-identical across owners and
 * equal to the public model. An owner whose trunk differs was trained from another public model, or
 * was not frozen properly; mixing it in would silently break opt-out, so we refuse.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import { archDiffs, validateConfig } from "../model/config";
import { cloneParams, disposeParams } from "../model/model";
import type { LayerParams, ModelParams } from "../model/params";
import type { DataCard } from "./cards";
import { FlexModel } from "./model";
import { loadOwnerArtifact, OwnerExpert, type OwnerArtifact } from "./owner";
import { PublicModel } from "./public";
import { bytesHash, hostRow, tensorHash, trunkHashes } from "./trunk";
import type { BiasMode } from "./view";

export type { OwnerArtifact };
export { isTrunkParam, tensorHash, trunkHashes } from "./trunk";

export interface MergeResult {
  config: ModelConfig;
  /**
   * Merged parameters. Expert FFNs and trunk tensors are SHARED with the inputs (no copies: a merge
   * is bookkeeping, not arithmetic); only the concatenated router and bias are new tensors.
   */
  params: ModelParams;
  /** The new tensors this merge created (dispose these, and only these, to free the merge). */
  created: tf.Tensor[];
}

/** Configs must agree on every architectural field except the expert list and top-k. */
export function checkCompatible(a: ModelConfig, b: ModelConfig, what: string): void {
  const diffs = archDiffs(a, b);
  if (diffs.length) throw new Error(`Cannot merge ${what}: its architecture differs from the public model's (${diffs.join(", ")}).`);
}

export interface MergeOptions {
  /** Active experts per token in the merged model (num_experts_per_tok). Default: half the experts, rounded up. */
  topK?: number;
  /** Renormalise the top-k weights (FlexOlmo: false). */
  normTopkProb?: boolean;
}

/**
 * Merge a dense public model with owners' 2-expert models. Throws, naming the owner and tensor,
 * when a trunk differs, names repeat, configs disagree, or an owner is not a 2-expert model.
 */
export function mergeParams(pub: { config: ModelConfig; params: ModelParams }, owners: readonly OwnerArtifact[], opts: MergeOptions = {}): MergeResult {
  if (owners.length === 0) throw new Error("merge needs at least one owner expert; with none, use the public model itself.");
  const names = new Set<string>([pub.config.experts[0]]);
  for (const o of owners) {
    if (names.has(o.name)) throw new Error(`Duplicate expert name "${o.name}" in merge: every owner expert needs a unique name.`);
    names.add(o.name);
    checkCompatible(pub.config, o.config, `owner "${o.name}"`);
    if (o.params.layers.some((l) => l.experts.length !== 2) || o.config.experts.length !== 2) {
      throw new Error(`Owner "${o.name}" is not a 2-expert model [public, ${o.name}] (has ${o.config.experts.length} experts); merge takes owners' own training artefacts.`);
    }
  }
  // The coordination invariant, checked as FlexOlmo's merge script asserts it.
  const reference = trunkHashes(pub.params);
  const pubFfn = pub.params.layers.map((l) => ffnHashes(l, 0));
  const firstRouterRow = owners[0].params.layers.map((l) => rowHash(l.router, 0));
  // Cards are optional here (hand-built artefacts have none); merge() passes them when it has them.
  const cardOf = (o: OwnerArtifact) => (o as OwnerArtifact & { card?: DataCard }).card;
  for (const o of owners) {
    const theirs = trunkHashes(o.params);
    for (const [name, h] of reference) {
      if (theirs.get(name) !== h) {
        throw new Error(
          `Owner "${o.name}" has a different shared trunk: tensor ${name} is not bit-identical to the public model's. ` +
            `It was trained from another public model, or its frozen parameters changed. Retrain it from this public model.`,
        );
      }
    }
    o.params.layers.forEach((l, i) => {
      if (ffnHashes(l, 0) !== pubFfn[i]) throw new Error(`Owner "${o.name}": the public expert FFN in layer ${i} differs from the public model's; the public expert must stay frozen.`);
      if (rowHash(l.router, 0) !== firstRouterRow[i]) throw new Error(rPubMismatch(owners[0].name, cardOf(owners[0]), o.name, cardOf(o), i));
    });
  }
  const nExperts = owners.length + 1;
  const topK = opts.topK ?? Math.ceil(nExperts / 2);
  const config: ModelConfig = {
    ...pub.config,
    experts: [pub.config.experts[0], ...owners.map((o) => o.name)],
    topK,
    normTopkProb: opts.normTopkProb ?? false,
  };
  validateConfig(config);
  const created: tf.Tensor[] = [];
  const layers: LayerParams[] = pub.params.layers.map((pl, i) => {
    const ownerLayers = owners.map((o) => o.params.layers[i]);
    // Router rows: [r_pub; r_1; …; r_n], each from the artefact that trained it.
    const router = tf.tidy(() =>
      tf.concat([ownerLayers[0].router.slice([0, 0], [1, -1]), ...ownerLayers.map((l) => l.router.slice([1, 0], [1, -1]))], 0),
    ) as tf.Tensor2D; // [E, C]
    const expertBias = tf.tidy(() => tf.concat([tf.zeros([1]), ...ownerLayers.map((l) => l.expertBias.slice([1], [1]))], 0)) as tf.Tensor1D; // [E]
    created.push(router, expertBias);
    return { ...pl, router, expertBias, experts: [pl.experts[0], ...ownerLayers.map((l) => l.experts[1])] };
  });
  return { config, params: { ...pub.params, layers }, created };
}

/**
 * Why two owners' r_pub rows differ, as specifically as their data cards allow. r_pub is the public
 * domain embedding (docs/method.md §2.2): owners built with another embedder or another number of
 * embedding documents start from a different one, although both did everything else right.
 */
export function rPubMismatch(firstName: string, first: DataCard | undefined, name: string, card: DataCard | undefined, layer: number): string {
  const head = `Owner "${name}": router row 0 (r_pub) in layer ${layer} differs from owner "${firstName}"'s.`;
  const a = first?.embedding, b = card?.embedding;
  if (a && b) {
    const diffs: string[] = [];
    if (a.embedder !== b.embedder) diffs.push(`embedder "${a.embedder}" vs "${b.embedder}"`);
    if (a.public && b.public && a.public.documents !== b.public.documents) diffs.push(`${a.public.documents} vs ${b.public.documents} public embedding documents`);
    else if (!a.public || !b.public) {
      if (a.documents !== b.documents) diffs.push(`${a.documents} vs ${b.documents} embedding documents`);
    }
    if (diffs.length || (a.public && b.public && a.public.sha256 !== b.public.sha256)) {
      return (
        `${head} r_pub is the public domain embedding, and the two owners built it differently (${diffs.length ? diffs.join(", ") : `public embedding ${a.public!.sha256.slice(0, 12)}… vs ${b.public!.sha256.slice(0, 12)}…`}; "${firstName}" vs "${name}"). ` +
        `Every owner of one merge must create its expert with the same embedding settings, lab.owner(domain, { from: pub, init, docs }) (the lab recipe's defaults unless overridden): retrain "${name}" with "${firstName}"'s settings (or the other way round).`
      );
    }
  }
  return (
    `${head} r_pub is the public domain embedding every owner starts from and keeps frozen: the owners were built with different embedding settings ({ init, docs } of lab.owner), ` +
    `from different corpora or seeds, or r_pub was trained. Rebuild the odd owner with the same settings as the others.`
  );
}

function ffnHashes(l: LayerParams, e: number): string {
  const x = l.experts[e];
  return [x.gate, x.up, x.down].map(tensorHash).join(",");
}

/** tensorHash of router[row : row + 1] ([1, C]). */
function rowHash(router: tf.Tensor2D, row: number): string {
  return bytesHash(`${router.dtype}:1x${router.shape[1]}:`, hostRow(router, row));
}

// ---------------------------------------------------------------------------------------------
// The fluent merge

export interface FlexMergeOptions {
  /** Experts per token (default: the lab's recipe — paper: half the experts, rounded up, its 4 of 8; lab: 2). */
  k?: number;
  /** Keep the learned expert bias at inference (paper) or drop it (released model). Default "keep". */
  bias?: BiasMode;
  /** Renormalise the top-k weights (FlexOlmo: false). */
  normTopk?: boolean;
  /** The merged model's label (tables, charts). Default "flexolmo". */
  label?: string;
}

export type OwnerInput = OwnerExpert | string | (OwnerArtifact & { card?: DataCard });

/**
 * Merge the public model with owner experts (objects, or directories written by `owner.save`).
 * Stacks the FFNs and concatenates the router rows — no training. Refuses owners whose shared
 * trunk differs from `pub` (naming the tensor), duplicate names, and incompatible configs.
 * The merged model owns copies of its tensors (free them with `model.dispose()`; its views share
 * them). Owners read from directories are freed here, optimizer state and all: only their weights
 * are needed, and only until they are copied.
 */
export async function merge(pub: PublicModel, owners: readonly OwnerInput[], opts: FlexMergeOptions = {}): Promise<FlexModel> {
  if (!(pub instanceof PublicModel)) throw new Error("merge: the first argument must be the public model (await lab.publicModel()).");
  pub.assertLive("merge");
  if (!Array.isArray(owners) || owners.length === 0) throw new Error("merge: pass at least one owner expert, e.g. merge(pub, [math, code]).");
  const loaded: Array<OwnerArtifact & { card?: DataCard }> = [];
  const toDispose: ModelParams[] = [];
  try {
    for (const o of owners) {
      if (o instanceof OwnerExpert) loaded.push(o.artifact());
      else if (typeof o === "string") {
        const a = await loadOwnerArtifact(o);
        toDispose.push(a.params);
        loaded.push(a);
      } else loaded.push(o);
    }
    const k = opts.k ?? pub.lab.recipe.k(loaded.length);
    // Checked here so the error speaks of merge's k, not of the merged config's topK.
    if (!Number.isInteger(k) || k < 1 || k > loaded.length + 1) {
      throw new Error(`merge: k must be an integer from 1 to ${loaded.length + 1} (the merged model has ${loaded.length + 1} experts: public + ${loaded.length} owner${loaded.length > 1 ? "s" : ""}); got ${String(k)}.`);
    }
    const m = mergeParams({ config: pub.config, params: pub.params }, loaded, { topK: k, normTopkProb: opts.normTopk });
    const params = cloneParams(m.params); // the merged model owns its tensors
    m.created.forEach((t) => t.dispose());
    const cards: Record<string, DataCard> = { public: pub.card() };
    for (const o of loaded) if (o.card) cards[o.name] = o.card;
    return new FlexModel({
      config: m.config,
      params,
      cards,
      provenance: { kind: "merged", routerTuned: false, trunk: pub.trunkFingerprint() },
      view: { bias: opts.bias ?? "keep" },
      label: opts.label ?? "flexolmo",
      data: pub.lab.data,
      owns: true, // the clones above: model.dispose() frees them
    });
  } finally {
    toDispose.forEach(disposeParams);
  }
}
