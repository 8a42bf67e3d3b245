/**
 * Model FLOPs per token, counted from the matrix products the forward pass actually performs
 * (a multiply-add = 2 FLOPs; elementwise work is ignored, as in the usual "6N" accounting).
 *
 * Forward, per token:
 *   - per layer: q/k/v/o projections 2·C·(2·nH + 2·nKv)·hd; router 2·C·E_included;
 *     attention scores and weighted sum 2·2·T·C (we compute the full T×T product, masked
 *     afterwards, so no causal halving); experts 3·2·C·F for each of the k experts a token uses
 *     (all E_included when k = E_included);
 *   - LM head 2·C·V. The embedding lookup is a gather: 0 FLOPs.
 * Training ≈ 3 × forward (backward computes two products per forward product).
 */
import { headDim, ModelConfig } from "./config";

export function flopsPerToken(cfg: ModelConfig, seqLen: number, opts: { topK?: number; included?: number } = {}): { forward: number; train: number } {
  const C = cfg.dModel, hd = headDim(cfg), E = opts.included ?? cfg.experts.length;
  const k = opts.topK ?? Math.min(cfg.topK, E);
  const perLayer = 2 * C * (2 * cfg.nHeads + 2 * cfg.nKvHeads) * hd + 2 * C * E + 4 * seqLen * C + k * 3 * 2 * C * cfg.dFf;
  const forward = cfg.nLayers * perLayer + 2 * C * cfg.vocabSize;
  return { forward, train: 3 * forward };
}
