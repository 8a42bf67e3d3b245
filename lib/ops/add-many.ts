/**
 * `addMany(xs)`: Σ xs, element-wise, like `tf.addN`.
 *
 * Why not `tf.addN` everywhere: tfjs-backend-webgpu (4.22) binds every input of AddN as a storage
 * buffer of one shader, and WebGPU guarantees only 8 per shader stage (maxStorageBuffersPerShaderStage;
 * Mesa's OpenGL ES route has exactly 8). The gradient norm adds one term per trainable tensor (28 at
 * the tiny preset), so Dawn rejects the pipeline ("The number of storage buffers (28) in the Compute
 * stage exceeds the maximum per-stage limit (8)", docs/gpu.md). On webgpu we add in groups of 7
 * (7 inputs + 1 output); elsewhere one `tf.addN`, so the cpu/wasm sums keep their bits.
 */
import * as tf from "../tf";

const GROUP = 7;

export function addMany<T extends tf.Tensor>(xs: T[]): T {
  if (xs.length === 0) throw new Error("addMany: nothing to add");
  if (tf.getBackend() !== "webgpu" || xs.length <= GROUP) return tf.addN(xs) as T;
  const partial: T[] = [];
  for (let i = 0; i < xs.length; i += GROUP) {
    const g = xs.slice(i, i + GROUP);
    partial.push((g.length === 1 ? g[0] : tf.addN(g)) as T);
  }
  return addMany(partial);
}
