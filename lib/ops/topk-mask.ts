/**
 * `topkMask(probs, k)`: a float32 [N, E] mask with 1 on each row's k largest entries and 0 elsewhere,
 * computed on the device (tf.topk → one-hot → sum over the k picks), with a zero gradient.
 *
 * Why a custom gradient: the selection is a discrete choice, so no gradient flows through it (as in
 * every MoE), but TF.js has no gradient for TopK and would refuse to differentiate a loss that uses
 * the mask. Inside customGrad the forward ops are not recorded on the tape, so the int32 indices
 * never reach the backward pass (which also keeps tfjs-backend-webgpu's int32 transpose bug away,
 * docs/gpu.md). Ties: whatever the backend's TopK does (cpu: the lower index first, as the host path).
 */
import * as tf from "../tf";

const masks = new Map<number, (x: tf.Tensor) => tf.Tensor>();

export function topkMask(probs: tf.Tensor2D, k: number): tf.Tensor2D {
  const e = probs.shape[1];
  if (!Number.isInteger(k) || k < 1 || k > e) throw new Error(`topkMask: k must be an integer in [1, ${e}] (got ${k})`);
  // Built on first use per k: customGrad needs an engine, and importing lib/ops must not start one.
  let f = masks.get(k);
  if (!f) {
    f = tf.customGrad(((x: tf.Tensor2D) => {
      const idx = tf.topk(x, k).indices; // [N, k] int32, best first
      const value = tf.sum(tf.oneHot(idx, x.shape[1], 1, 0, "float32"), 1); // [N, k, E] → [N, E]
      return { value, gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
    }) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
    masks.set(k, f);
  }
  return f(probs) as tf.Tensor2D;
}
