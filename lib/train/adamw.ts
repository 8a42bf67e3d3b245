/**
 * AdamW with decoupled weight decay, exactly PyTorch's `torch.optim.AdamW` update (which OLMo-core
 * and FlexOlmo use):
 *
 *     w ← w · (1 − lr·wd)
 *     m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
 *     w ← w − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)
 *
 * Partial freezing: with a mask, the gradient is zeroed on frozen elements (so m and v stay exactly
 * 0 there) AND the final weight takes the old value on frozen elements via `where`. Masking only the
 * gradient would not be enough: weight decay (w·(1 − lr·wd)) would still shrink frozen weights.
 */
import * as tf from "../tf";
import { adamwFused, hasFused } from "../ops";

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/**
 * One update of one tensor. `t` is the 1-based update count (bias correction). `mask` (bool, same
 * shape) marks trainable elements. Returns new tensors; the caller disposes the old w, m, v.
 * Call inside tf.tidy and keep the results.
 */
export function adamwStep(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, hp: AdamWHyper, t: number, mask?: tf.Tensor): { w: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  if (hasFused()) return adamwFused(w, g, m, v, hp, t, mask); // one pass (lib/ops/fused.ts), same formula
  return adamwStepComposite(w, g, m, v, hp, t, mask);
}

/** The update from TF.js ops (any backend; the tests' second reference). */
export function adamwStepComposite(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, hp: AdamWHyper, t: number, mask?: tf.Tensor): { w: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  const gm = mask ? tf.where(mask, g, tf.zerosLike(g)) : g;
  const m2 = tf.add(tf.mul(m, hp.beta1), tf.mul(gm, 1 - hp.beta1));
  const v2 = tf.add(tf.mul(v, hp.beta2), tf.mul(tf.square(gm), 1 - hp.beta2));
  const bc1 = 1 - Math.pow(hp.beta1, t), bc2 = 1 - Math.pow(hp.beta2, t);
  const decayed = hp.weightDecay > 0 ? tf.mul(w, 1 - hp.lr * hp.weightDecay) : w;
  const denom = tf.add(tf.div(tf.sqrt(v2), Math.sqrt(bc2)), hp.eps);
  const w2 = tf.sub(decayed, tf.mul(tf.div(m2, denom), hp.lr / bc1));
  if (!mask) return { w: w2, m: m2, v: v2 };
  // Frozen elements: exactly the old bits, moments untouched (they stay 0 when training starts frozen).
  return { w: tf.where(mask, w2, w), m: tf.where(mask, m2, m), v: tf.where(mask, v2, v) };
}
