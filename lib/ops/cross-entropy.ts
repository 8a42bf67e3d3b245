/**
 * Softmax cross-entropy with a hand-written gradient: loss = mean_i [ logsumexp(z_i) − z_i[t_i] ],
 * dL/dz = (softmax(z) − onehot(t)) / N.
 *
 * Why hand-written: TF.js's `tf.losses.softmaxCrossEntropy` materialises a [N, V] one-hot, a
 * log-softmax (its own exp + log pass) and several [N, V] temporaries on the backward pass; at
 * N = 2048, V = 4096 each elementwise [N, V] op costs 25-100 ms on wasm. Here the forward is one
 * softmax (the backend's fused kernel) plus two row-max reductions, and the backward is one scaled
 * copy of the saved probabilities with N entries adjusted.
 *
 * Numerical stability: logsumexp_i = max_j z_ij − log(max_j p_ij). The largest probability is
 * ≥ 1/V, so its log never underflows, unlike log(p_i[t_i]) which can be −∞ in float32.
 */
import * as tf from "../tf";
import { cpuValues, CpuBackendLike, sizeOf, TensorInfo, WasmBackendLike, wasmView } from "./raw";
import { KArgs, registerCpuWasm } from "./register";

/**
 * Kernel `FlexXentGrad`: out = probs · scale, then out[i, t_i] −= scale. Inputs: probs [N, V]
 * float32, targets [N] int32, scale [] float32. Registered for cpu and wasm; other backends use
 * the composite fallback in `xentGrad`.
 */
export const XENT_GRAD = "FlexXentGrad";

function xentGradWasm(args: KArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { probs, targets, scale } = args.inputs as Record<string, TensorInfo>;
  const mul = tf.getKernel("Multiply", "wasm");
  if (!mul) throw new Error("wasm Multiply kernel is not registered");
  // The backend's SIMD multiply writes a fresh buffer that only we reference; adjust it in place.
  const out = mul.kernelFunc({ inputs: { a: probs, b: scale }, backend }) as TensorInfo;
  const o = wasmView(backend, out) as Float32Array, t = wasmView(backend, targets), s = wasmView(backend, scale)[0];
  const [n, v] = probs.shape;
  for (let i = 0; i < n; i++) o[i * v + t[i]] -= s;
  return out;
}

function xentGradCpu(args: KArgs): TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const { probs, targets, scale } = args.inputs as Record<string, TensorInfo>;
  const p = cpuValues(backend, probs), t = cpuValues(backend, targets), s = cpuValues(backend, scale)[0];
  const [n, v] = probs.shape;
  const o = new Float32Array(sizeOf(probs.shape));
  for (let k = 0; k < o.length; k++) o[k] = p[k] * s;
  for (let i = 0; i < n; i++) o[i * v + t[i]] -= s;
  return backend.makeTensorInfo(probs.shape, "float32", o);
}

let installed = false;
export function installCrossEntropyKernels(): void {
  if (installed) return;
  registerCpuWasm(XENT_GRAD, { cpu: xentGradCpu, wasm: xentGradWasm }, "ifAbsent");
  installed = true;
}

/** (probs − onehot(targets)) · scale, by the fast kernel when the backend has one. */
function xentGrad(probs: tf.Tensor2D, targets: tf.Tensor1D, scale: tf.Scalar): tf.Tensor2D {
  if (tf.getKernel(XENT_GRAD, tf.getBackend())) {
    return tf.engine().runKernel(XENT_GRAD, { probs, targets, scale } as unknown as tf.NamedTensorMap) as tf.Tensor2D;
  }
  return tf.tidy(() => tf.mul(tf.sub(probs, tf.oneHot(targets, probs.shape[1])), scale));
}

/**
 * Mean softmax cross-entropy over rows. `logits` [N, V] float32, `targets` [N] int32 (or a JS
 * array) with values in [0, V). Returns a scalar; differentiable w.r.t. `logits` only.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D | Int32Array | number[]): tf.Scalar {
  const [n, v] = logits.shape;
  const tArr = targets instanceof tf.Tensor ? (targets.dataSync() as Int32Array) : Int32Array.from(targets);
  if (tArr.length !== n) throw new Error(`softmaxCrossEntropy: ${tArr.length} targets for ${n} rows of logits`);
  for (let i = 0; i < n; i++) {
    const t = tArr[i];
    if (!Number.isInteger(t) || t < 0 || t >= v) throw new Error(`softmaxCrossEntropy: target ${t} at row ${i} is outside [0, ${v})`);
  }
  const flatIdx = new Int32Array(n);
  for (let i = 0; i < n; i++) flatIdx[i] = i * v + tArr[i];
  // customGrad's typing takes (...inputs: Array<Tensor | GradSaveFunc>); the last one is `save`.
  const f = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const z2 = inputs[0] as tf.Tensor2D;
    const save = inputs[1] as tf.GradSaveFunc;
    const probs = tf.softmax(z2); // [N, V]
    const lse = tf.sub(tf.max(z2, 1), tf.log(tf.max(probs, 1))); // [N]  logsumexp per row (see header)
    const zt = tf.gather(tf.reshape(z2, [n * v]), tf.tensor1d(flatIdx, "int32")); // [N]  z_i[t_i]
    const value = tf.mean(tf.sub(lse, zt)) as tf.Scalar;
    save([probs]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const scale = tf.div(dy as tf.Tensor, n) as tf.Scalar; // d(mean)/d(row loss) = 1/N, times upstream dy
        const tT = tf.tensor1d(tArr, "int32");
        const g = xentGrad(saved[0] as tf.Tensor2D, tT, scale);
        tT.dispose();
        scale.dispose();
        return g;
      },
    };
  });
  return f(logits) as tf.Scalar;
}
