/**
 * Work-arounds for tfjs-backend-webgpu 4.22 kernel bugs the lab runs into. Each one has a minimal
 * reproduction in docs/gpu.md and a test (test/backend-webgpu.test.ts) that fails without it.
 *
 * 1. BatchMatMul with transposeB and a long inner dimension (K ≥ 2000, few output tiles): the backend
 *    picks its split-K program, which computes a wrong product when b is transposed
 *    (a [32, 4096] · bᵀ with b [32, 4096]: sum −1026.2 instead of −2236.9; without the transpose, or
 *    with transposeA alone, correct). Training hits it in the LM head's backward pass (dX = dZ · Wᵀ,
 *    K = vocabulary = 4096): every gradient below the head was ~20 % off. Fix: transpose b explicitly
 *    (one [N, K] copy) whenever transposeB is set and K ≥ 2000.
 */
import * as tf from "../tf";
import type { TensorInfo } from "./raw";

/** tfjs-backend-webgpu picks split-K only for K ≥ 2000 (its MatMul kernel); transposing from there on is enough. */
const SPLIT_K_MIN_INNER = 2000;

let installed = false;

export function installWebgpuFixes(): boolean {
  if (installed) return true;
  const mm = tf.getKernel("BatchMatMul", "webgpu");
  const tr = tf.getKernel("Transpose", "webgpu");
  if (!mm || !tr) return false;
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
        (args.backend as { disposeData(id: unknown): void }).disposeData(bT.dataId);
      }
    },
  });
  installed = true;
  return true;
}
