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
 *
 * Router margin loss (the lab recipe; NOT in the paper, docs/recipes.md): for one owner expert e, the
 * margin d = z_e − z_pub of its router logit over the public expert's, per token and layer, is pushed
 * above a boundary on the owner's own text and below it on public text (logistic loss, averaged over
 * tokens and layers). The router input h is detached, so this loss trains router rows and the bias
 * only: it can make r_e a classifier of "my domain vs public text" without bending the expert or the
 * trunk towards being easy to classify.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import { ForwardOptions, forwardHidden, RoutingStats } from "../model/model";
import type { ModelParams } from "../model/params";
import { softmaxCrossEntropy, stopGradient } from "../ops";

/** The router margin loss of one training run (see the file comment). */
export interface RouterMargin {
  /** The owner expert whose margin over the public expert (expert 0) is trained. */
  expert: number;
  /** "own": the batch is the owner's text, push d above `boundary`; "public": push d below it. */
  side: "own" | "public";
  /** Where the logistic loss puts the decision: a margin d = boundary is a coin flip. */
  boundary: number;
  /** Weight of the term in the training loss (0 = off). */
  weight: number;
}

export interface LossWeights {
  zLossWeight: number;
  lbLossWeight: number;
  routerMargin?: RouterMargin;
}

export interface LossResult {
  /** The scalar to differentiate: ce + zLossWeight·z + lbLossWeight·lb. */
  loss: tf.Scalar;
  ce: tf.Scalar;
  /** Unweighted z-loss (summed over layers), 0 when no layer routes. */
  z: tf.Scalar;
  /** Unweighted load-balancing loss (summed over layers); 0 when its weight is 0. */
  lb: tf.Scalar;
  /** Unweighted router margin loss (mean over layers); 0 when off. */
  margin: tf.Scalar;
  routingStats?: RoutingStats;
  /** Device routing with routing stats: [L, 2, E_included], to read with the loss (`readRoutingStats`). */
  routingStatsTensor?: tf.Tensor3D;
  /** Original indices of the included experts (how to read `routingStatsTensor`). */
  included: number[];
}

export function routerZLoss(routerLogits: tf.Tensor2D[]): tf.Scalar {
  const terms = routerLogits.filter((l) => l.shape[1] > 1).map((l) => tf.mean(tf.square(tf.logSumExp(l, 1)))); // per layer: mean_i lse_i²
  return terms.length ? (tf.addN(terms) as tf.Scalar) : tf.scalar(0);
}

/**
 * The router margin loss: mean over layers and tokens of softplus(boundary − d) ("own") or
 * softplus(d − boundary) ("public"), d = h·(r_e − r_pub) + min(β_e, 0) with h detached. The bias is the
 * model's b = min(β, 0) (docs/method.md §2.4), so the loss sees exactly the margin the softmax sees.
 */
export function routerMarginLoss(params: ModelParams, routerInputs: tf.Tensor2D[], m: RouterMargin): tf.Scalar {
  const terms = params.layers.map((l, li) => {
    const h = stopGradient(routerInputs[li]); // [N, C]
    const rows = tf.gather(l.router, tf.tensor1d([m.expert, 0], "int32")); // [2, C]
    const diff = tf.sub(tf.slice(rows, [0, 0], [1, -1]), tf.slice(rows, [1, 0], [1, -1])); // [1, C]  r_e − r_pub
    const bias = tf.minimum(tf.slice(l.expertBias, [m.expert], [1]), 0); // [1]
    const d = tf.add(tf.matMul(h, diff, false, true), bias); // [N, 1]
    const x = m.side === "own" ? tf.sub(m.boundary, d) : tf.sub(d, m.boundary);
    return tf.mean(tf.softplus(x)) as tf.Scalar;
  });
  return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
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
      // f: the shares of the top-k slots, constants (read on the host, or the device mask's, which has no gradient).
      const f = hr.shares ? hr.shares[li] : tf.tensor1d(info ? info.counts.map((c) => c / (n * k)) : new Array(ei).fill(1 / ei));
      terms.push(tf.mul(tf.sum(tf.mul(tf.mean(p, 0), f)), ei) as tf.Scalar); // E · Σ f_e P_e
    });
    if (terms.length) lb = tf.addN(terms) as tf.Scalar;
  }
  const rm = w.routerMargin;
  const margin = rm && rm.weight > 0 ? routerMarginLoss(params, hr.routerInputs, rm) : tf.scalar(0);
  let loss: tf.Scalar = ce;
  if (w.zLossWeight > 0) loss = tf.add(loss, tf.mul(z, w.zLossWeight));
  if (w.lbLossWeight > 0) loss = tf.add(loss, tf.mul(lb, w.lbLossWeight));
  if (rm && rm.weight > 0) loss = tf.add(loss, tf.mul(margin, rm.weight));
  return { loss, ce, z, lb, margin, routingStats: hr.routingStats, routingStatsTensor: hr.routingStatsTensor, included: hr.included };
}
