/**
 * Model soup (docs/method.md §7): one model whose parameters are a weighted mean of the members'.
 * The uniform soup is here (one FlexModel); the likelihood-weighted soup, whose weights depend on
 * the input, is `LikelihoodSoup` in ./ensembles.ts.
 *
 * Whether the public model joins the soup is the caller's choice: pass it in the list. The paper's
 * soup "averages the domain models"; our comparison passes [public, dense experts] so that every
 * baseline combines the same n + 1 models as FlexOlmo (public expert + n owners).
 */
import type { ModelConfig } from "../../model/config";
import type { DataCard } from "../cards";
import type { DataContext } from "../context";
import { FlexModel } from "../model";
import { baselineProvenance, checkSameArchitecture, checkUniqueLabels, flexModelOf, dataOfSource, weightedAverage, type ModelSource } from "./common";

export interface SoupOptions {
  /** Mixing weights, one per model (normalised to sum 1). Default: uniform. */
  weights?: readonly number[];
  label?: string;
  lab?: { data: DataContext };
}

/**
 * Average the parameters of models of one architecture. Dense members give a dense model whose
 * single expert is named "soup"; MoE members must have the same expert names.
 */
export function soup(models: readonly ModelSource[], opts: SoupOptions = {}): FlexModel {
  if (!Array.isArray(models) || models.length === 0) throw new Error("soup: pass at least one model, e.g. soup([pub, math, code]).");
  const ms = models.map((m) => flexModelOf(m, "soup"));
  checkUniqueLabels(ms.map((m) => m.label), "soup");
  checkSameArchitecture(ms, "soup", { sameExperts: true });
  const n = ms.length;
  const raw: readonly number[] = opts.weights ?? new Array<number>(n).fill(1);
  if (raw.length !== n) throw new Error(`soup: ${raw.length} weights for ${n} models; give one weight per model.`);
  if (raw.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new Error(`soup: weights must be finite and ≥ 0 (got ${raw.join(", ")}).`);
  const total = raw.reduce((s, w) => s + w, 0);
  if (!(total > 0)) throw new Error("soup: at least one weight must be positive.");
  const weights = raw.map((w) => w / total);
  const dense = ms[0].config.experts.length === 1;
  if (!dense) {
    const names = ms[0].config.experts.join(",");
    for (const m of ms) if (m.config.experts.join(",") !== names) throw new Error(`soup: "${m.label}" has experts [${m.config.experts.join(", ")}] but "${ms[0].label}" has [${names}]; MoE soups need the same experts in the same order.`);
  }
  const data = opts.lab?.data ?? models.map(dataOfSource).find((d) => d !== undefined);
  const config: ModelConfig = dense ? { ...ms[0].config, experts: ["soup"] } : ms[0].config;
  const cards: Record<string, DataCard> = dense ? { soup: combinedCard(ms, weights) } : { ...ms[0].cards };
  const uniform = weights.every((w) => w === weights[0]);
  return new FlexModel({
    config,
    params: weightedAverage(ms.map((m) => m.params), weights),
    owns: true, // new tensors: soup.dispose() frees them
    cards,
    provenance: baselineProvenance("merged", "approximate", {
      method: uniform ? "model soup (uniform)" : "model soup (weighted)",
      note: `Parameter average of ${ms.map((m, i) => `${m.label} × ${weights[i].toFixed(3)}`).join(", ")}. Every weight carries every member's data: to opt out, rebuild the soup without that member.`,
    }),
    view: dense ? undefined : ms[0].view,
    label: opts.label ?? (uniform ? "soup (uniform)" : "soup (weighted)"),
    data,
  });
}

/** One card describing the soup's single expert: the union of its members' data. */
function combinedCard(ms: FlexModel[], weights: number[]): DataCard {
  const cards = ms.flatMap((m) => Object.values(m.cards));
  const now = new Date().toISOString();
  return {
    expert: "soup",
    owner: [...new Set(cards.map((c) => c.owner))].join(", ") || "unknown",
    domain: [...new Set(cards.map((c) => c.domain))].join("+") || "unknown",
    licenses: [...new Set(cards.flatMap((c) => c.licenses))].sort(),
    documents: cards.reduce((s, c) => s + c.documents, 0),
    tokensSeen: cards.reduce((s, c) => s + c.tokensSeen, 0),
    training: { soupOf: ms.map((m) => m.label), weights },
    seed: cards[0]?.seed ?? 0,
    createdAt: now,
    updatedAt: now,
  };
}
