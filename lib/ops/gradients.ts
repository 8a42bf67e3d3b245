/**
 * Gradient re-registrations.
 *
 * `BatchMatMul`: TF.js's built-in gradient expresses dA = dY·Bᵀ and dB = Aᵀ·dY with the
 * transposeA/transposeB flags of matMul. On wasm those flags leave the XNNPACK fast path (~1 GFLOP/s
 * instead of ~13). Ours transposes *the forward input* explicitly (A or B, never dY: the forward
 * inputs are the small operands in a language model, e.g. [N, C] activations and [C, V] weights
 * against a [N, V] dY) and then calls a plain matMul. Mathematically identical; float results can
 * differ in the last bits because the summation order differs (see test/ops). It also reduces
 * gradients over broadcast batch axes, which the built-in one does not do.
 *
 * When matMul runs on the native BLAS (lib/ops/blas.ts), the flags are free — they are sgemm
 * arguments — so the gradient passes them instead of materialising transposes (`flags: true`).
 */
import * as tf from "../tf";

/** Swap the last two axes. */
function t2(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  return tf.transpose(x, [...Array(r - 2).keys(), r - 1, r - 2]);
}

/** Sum a gradient over the batch axes it was broadcast along, back to the input's shape. */
function unbroadcast(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (g.shape.join() === shape.join()) return g;
  const inner = shape.slice(-2);
  const batch = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  // [..., M, N] → [G, batch, M, N] is not always possible; the cases we produce are "one side is a
  // single matrix" (batch 1), so summing every leading axis is exact.
  if (batch !== 1) throw new Error(`BatchMatMul gradient: cannot un-broadcast [${g.shape}] to [${shape}]`);
  const lead = g.shape.slice(0, -2).map((_, i) => i);
  return tf.reshape(tf.sum(g, lead), shape); // [..., M, N] → shape
}

/** With transpose flags: the same products, for a matMul kernel where flags cost nothing. */
function matMulGradFlags(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): Record<string, () => tf.Tensor> {
  const g = dy as tf.Tensor;
  const [a, b] = saved;
  const ta = Boolean(attrs.transposeA), tb = Boolean(attrs.transposeB);
  const mm = (x: tf.Tensor, y: tf.Tensor, tx: boolean, ty: boolean) => tf.matMul(x, y, tx, ty);
  if (!ta && !tb) return { a: () => unbroadcast(mm(g, b, false, true), a.shape), b: () => unbroadcast(mm(a, g, true, false), b.shape) };
  if (!ta && tb) return { a: () => unbroadcast(mm(g, b, false, false), a.shape), b: () => unbroadcast(mm(g, a, true, false), b.shape) };
  if (ta && !tb) return { a: () => unbroadcast(mm(b, g, false, true), a.shape), b: () => unbroadcast(mm(a, g, false, false), b.shape) };
  return { a: () => unbroadcast(mm(b, g, true, true), a.shape), b: () => unbroadcast(mm(g, a, true, true), b.shape) };
}

function matMulGrad(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): Record<string, () => tf.Tensor> {
  const g = dy as tf.Tensor;
  const [a, b] = saved;
  const ta = Boolean(attrs.transposeA), tb = Boolean(attrs.transposeB);
  // Y = op(A)·op(B). With A' = op(A), B' = op(B): dA' = dY·B'ᵀ, dB' = A'ᵀ·dY, then undo op().
  if (!ta && !tb) return { a: () => unbroadcast(tf.matMul(g, t2(b)), a.shape), b: () => unbroadcast(tf.matMul(t2(a), g), b.shape) };
  if (!ta && tb) return { a: () => unbroadcast(tf.matMul(g, b), a.shape), b: () => unbroadcast(tf.matMul(t2(g), a), b.shape) };
  if (ta && !tb) return { a: () => unbroadcast(tf.matMul(b, t2(g)), a.shape), b: () => unbroadcast(tf.matMul(a, g), b.shape) };
  return { a: () => unbroadcast(t2(tf.matMul(g, b)), a.shape), b: () => unbroadcast(t2(tf.matMul(a, g)), b.shape) };
}

let installed = false;

/** Replace the BatchMatMul gradient (idempotent; global for every backend). `flags`: see above. */
export function installGradients(opts: { flags?: boolean } = {}): void {
  if (installed) return;
  tf.registerGradient({ kernelName: "BatchMatMul", inputsToSave: ["a", "b"], gradFunc: opts.flags ? matMulGradFlags : matMulGrad });
  installed = true;
}

/** The gradient function, exported so tests can compare it with TF.js's built-in one. */
export const batchMatMulGradFunc = matMulGrad;
export const batchMatMulGradFuncFlags = matMulGradFlags;
