/**
 * The training objective: cross-entropy + router z-loss (+ optional load-balancing loss).
 *
 * Router z-loss (ST-MoE; OLMo-core `MoERouterZLoss`): per MoE layer, the mean over tokens of
 * logsumexp(router logits)², times the weight. OLMo-core keeps one z-loss per MoE block
 * (sum over the batch's tokens divided by the token count, i.e. a mean) and the block losses are
 * added into the training loss, so we SUM over layers. (We read this from OLMo-core's loss class;
 * that the per-block values are summed rather than averaged is our reading of how the trainer
 * collects block losses — uncertain. With 4 layers the difference is a factor of 4 on a 1e-3 term.)
 * The logits are the ones the softmax saw, expert bias included.
 * A one-expert router (the dense public model) has no routing decision, and OLMo 2 dense models
 * have no router at all, so layers with a single included expert contribute no z-loss.
 *
 * Load-balancing loss (Switch Transformer; off in FlexOlmo): per layer E·Σ_e f_e·P_e with f_e the
 * share of top-k slots routed to e (a constant) and P_e the mean router probability; summed over layers.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import { ForwardOptions, forwardHidden, RoutingStats } from "../model/model";
import type { ModelParams } from "../model/params";
import { softmaxCrossEntropy } from "../ops";

export interface LossWeights {
  zLossWeight: number;
  lbLossWeight: number;
}

export interface LossResult {
  /** The scalar to differentiate: ce + zLossWeight·z + lbLossWeight·lb. */
  loss: tf.Scalar;
  ce: tf.Scalar;
  /** Unweighted z-loss (summed over layers), 0 when no layer routes. */
  z: tf.Scalar;
  /** Unweighted load-balancing loss (summed over layers); 0 when its weight is 0. */
  lb: tf.Scalar;
  routingStats?: RoutingStats;
}

export function routerZLoss(routerLogits: tf.Tensor2D[]): tf.Scalar {
  const terms = routerLogits.filter((l) => l.shape[1] > 1).map((l) => tf.mean(tf.square(tf.logSumExp(l, 1)))); // per layer: mean_i lse_i²
  return terms.length ? (tf.addN(terms) as tf.Scalar) : tf.scalar(0);
}

/**
 * Compute the loss for inputs [B, T] and next-token targets [B·T] (row-major). Call inside a
 * gradient scope (tf.engine().gradients / tf.valueAndGrads) or a tidy.
 */
export function trainingLoss(params: ModelParams, cfg: ModelConfig, inputs: tf.Tensor2D, targets: Int32Array, w: LossWeights, fwd: ForwardOptions = {}): LossResult {
  const hr = forwardHidden(params, cfg, inputs, fwd);
  const logits = tf.matMul(hr.hidden, params.lmHead) as tf.Tensor2D; // [N, V]
  const ce = softmaxCrossEntropy(logits, targets);
  const z = w.zLossWeight > 0 ? routerZLoss(hr.routerLogits) : tf.scalar(0);
  let lb: tf.Scalar = tf.scalar(0);
  if (w.lbLossWeight > 0) {
    const terms: tf.Scalar[] = [];
    hr.routerProbs.forEach((p, li) => {
      const [n, ei] = p.shape;
      if (ei < 2) return;
      const info = hr.topk[li];
      const k = info ? info.idx.length / n : ei; // no CPU top-k means k = E_included (every expert gets every token)
      const f = info ? info.counts.map((c) => c / (n * k)) : new Array(ei).fill(1 / ei);
      terms.push(tf.mul(tf.sum(tf.mul(tf.mean(p, 0), tf.tensor1d(f))), ei) as tf.Scalar); // E · Σ f_e P_e
    });
    if (terms.length) lb = tf.addN(terms) as tf.Scalar;
  }
  let loss: tf.Scalar = ce;
  if (w.zLossWeight > 0) loss = tf.add(loss, tf.mul(z, w.zLossWeight));
  if (w.lbLossWeight > 0) loss = tf.add(loss, tf.mul(lb, w.lbLossWeight));
  return { loss, ce, z, lb, routingStats: hr.routingStats };
}

/** Mean next-token cross-entropy of a batch without gradients (evaluation). */
export function evalLoss(params: ModelParams, cfg: ModelConfig, inputs: tf.Tensor2D, targets: Int32Array, fwd: ForwardOptions = {}): number {
  const ce = tf.tidy(() => {
    const hr = forwardHidden(params, cfg, inputs, fwd);
    return softmaxCrossEntropy(tf.matMul(hr.hidden, params.lmHead) as tf.Tensor2D, targets);
  });
  const v = ce.dataSync()[0];
  ce.dispose();
  return v;
}
