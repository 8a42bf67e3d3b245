/**
 * `stopGradient(x)`: the identity in the forward pass and a zero gradient in the backward pass
 * (TensorFlow's `tf.stop_gradient`, PyTorch's `x.detach()`). TF.js has no such op, so it is a
 * custom gradient. The lab's router margin loss uses it so that the loss trains router rows and
 * biases only, never the experts or the trunk through the router's input.
 */
import * as tf from "../tf";

let detach: ((x: tf.Tensor) => tf.Tensor) | undefined;

export function stopGradient<T extends tf.Tensor>(x: T): T {
  // Built on first use: customGrad needs an engine, and importing lib/ops must not start one.
  detach ??= tf.customGrad(((x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
  return detach(x) as T;
}
