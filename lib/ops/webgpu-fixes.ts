/**
 * Work-arounds for tfjs-backend-webgpu 4.22 kernel bugs the lab runs into, as corrected kernels
 * registered over the stock ones (so every caller, the lab's and the user's, gets them). Each one has
 * a minimal reproduction in docs/gpu.md and a test in test/train/webgpu.test.ts that fails without it.
 *
 * 1. BatchMatMul with transposeB and a long inner dimension (K ≥ 2000, few output tiles): the backend
 *    picks its split-K program, which computes a wrong product when b is transposed
 *    (a [32, 4096] · bᵀ with b [32, 4096]: sum −1026.2 instead of −2236.9; without the transpose, or
 *    with transposeA alone, correct). Training hits it in the LM head's backward pass (dX = dZ · Wᵀ,
 *    K = vocabulary = 4096): every gradient below the head was ~20 % off. Fix: transpose b explicitly
 *    (one [N, K] copy) whenever transposeB is set and K ≥ 2000.
 * 2. AddN binds every input as a storage buffer of one shader, and WebGPU guarantees only 8 per shader
 *    stage (maxStorageBuffersPerShaderStage; Mesa's OpenGL ES route has exactly 8). The gradient norm
 *    adds one term per trainable tensor (28 at the tiny preset), and Dawn rejected the pipeline ("The
 *    number of storage buffers (28) in the Compute stage exceeds the maximum per-stage limit (8)").
 *    Fix: add in groups of 7 (7 inputs + 1 output), then add the partial sums the same way.
 */
import * as tf from "../tf";
import type { TensorInfo } from "./raw";

/** tfjs-backend-webgpu picks split-K only for K ≥ 2000 (its MatMul kernel); transposing from there on is enough. */
const SPLIT_K_MIN_INNER = 2000;
/** AddN inputs per shader: WebGPU's guaranteed 8 storage buffers per stage, less one for the output. */
const ADDN_GROUP = 7;

type Dispose = { disposeData(id: unknown): void };

let installed = false;

export function installWebgpuFixes(): boolean {
  if (installed) return true;
  const mm = tf.getKernel("BatchMatMul", "webgpu");
  const tr = tf.getKernel("Transpose", "webgpu");
  const addN = tf.getKernel("AddN", "webgpu");
  if (!mm || !tr || !addN) return false;
  tf.unregisterKernel("BatchMatMul", "webgpu");
  tf.registerKernel({
    ...mm,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as Record<string, TensorInfo>;
      const transposeB = Boolean(args.attrs?.transposeB);
      const k = transposeB ? b.shape[b.shape.length - 1] : b.shape[b.shape.length - 2];
      if (!transposeB || k < SPLIT_K_MIN_INNER) return mm.kernelFunc(args);
      const perm = b.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]]; // [..., N, K] → [..., K, N]
      const bT = tr.kernelFunc({ inputs: { x: b }, backend: args.backend, attrs: { perm } }) as TensorInfo;
      try {
        return mm.kernelFunc({ ...args, inputs: { ...args.inputs, b: bT }, attrs: { ...args.attrs, transposeB: false } });
      } finally {
        (args.backend as Dispose).disposeData(bT.dataId);
      }
    },
  });
  tf.unregisterKernel("AddN", "webgpu");
  tf.registerKernel({
    ...addN,
    kernelFunc: (args) => {
      // AddN's inputs are the array of tensors itself (tfjs-core passes the array as the input map).
      const xs = args.inputs as unknown as TensorInfo[];
      if (xs.length <= ADDN_GROUP) return addN.kernelFunc(args);
      const partial: TensorInfo[] = [];
      for (let i = 0; i < xs.length; i += ADDN_GROUP) partial.push(addN.kernelFunc({ ...args, inputs: xs.slice(i, i + ADDN_GROUP) as unknown as tf.NamedTensorInfoMap }) as TensorInfo);
      // The recursion adds the partial sums (at most 7 per shader again); they are ours to free.
      const kernel = tf.getKernel("AddN", "webgpu")!;
      try {
        return kernel.kernelFunc({ ...args, inputs: partial as unknown as tf.NamedTensorInfoMap });
      } finally {
        for (const t of partial) (args.backend as Dispose).disposeData(t.dataId);
      }
    },
  });
  installed = true;
  return true;
}
