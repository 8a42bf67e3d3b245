import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../../lib/tf";
// Grab TF.js's own BatchMatMul gradient BEFORE our ops replace it (nothing below installs at import time).
const builtinMatMulGrad = tf.getGradient("BatchMatMul");
import { initBackend } from "../../lib/backend";
import { batchMatMulGradFunc, batchMatMulGradFuncFlags, installOps, rope, ropeAngles, ropeReference, softmaxCrossEntropy } from "../../lib/ops";
import { Rng } from "../../lib/model/rng";
import { ropeRef } from "../model/reference";

const BACKENDS = ["cpu", "wasm"] as const;

/** Run `body` with our ops on each backend in turn, then go back to cpu (where the other tests expect to start). */
async function onEachBackend(body: (be: (typeof BACKENDS)[number]) => Promise<void>): Promise<void> {
  installOps();
  for (const be of BACKENDS) {
    await initBackend(be);
    await body(be);
  }
  await initBackend("cpu");
}

function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Plain-JS batched matmul with optional transposes: the independent reference. */
function jsMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): number[] {
  const A = a.arraySync() as number[][][], B = b.arraySync() as number[][][];
  const out: number[] = [];
  const batch = Math.max(A.length, B.length);
  for (let i = 0; i < batch; i++) {
    const ai = A[A.length === 1 ? 0 : i], bi = B[B.length === 1 ? 0 : i];
    const M = ta ? ai[0].length : ai.length, K = ta ? ai.length : ai[0].length, N = tb ? bi.length : bi[0].length;
    for (let r = 0; r < M; r++)
      for (let c = 0; c < N; c++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += (ta ? ai[k][r] : ai[r][k]) * (tb ? bi[c][k] : bi[k][c]);
        out.push(s);
      }
  }
  return out;
}

test("installOps is idempotent and reports what it registered", async () => {
  await initBackend("cpu");
  const a = installOps();
  const b = installOps();
  assert.equal(a, b);
  assert.equal(a.wasmKernels, true);
  assert.ok(tf.getKernel("UnsortedSegmentSum", "wasm"), "wasm has a segment-sum kernel now");
  assert.ok(tf.getKernel("FlexRope", "cpu") && tf.getKernel("FlexRope", "wasm"));
});

test("matMul on both backends: transposes, batches and broadcasting equal a plain-JS product", async () => {
  await onEachBackend(async (be) => {
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[1, 5, 7], [1, 7, 3], false, false],
      [[4, 5, 7], [4, 7, 3], false, false], // batched: the per-matrix view path on wasm
      [[4, 7, 5], [4, 7, 3], true, false],
      [[4, 5, 7], [4, 3, 7], false, true],
      [[4, 7, 5], [4, 3, 7], true, true],
      [[1, 5, 7], [4, 7, 3], false, false], // broadcast a single matrix
      [[4, 5, 7], [1, 7, 3], false, false],
      [[3, 5, 0], [3, 0, 2], false, false], // empty inner dimension → zeros
    ];
    cases.forEach(([sa, sb, ta, tb], i) => {
      const a = randn(sa, i), b = randn(sb, 100 + i);
      const got = tf.matMul(a, b, ta, tb);
      const want = sa[2] === 0 ? new Array(3 * 5 * 2).fill(0) : jsMatMul(a, b, ta, tb); // K = 0: an empty sum is 0
      assert.ok(maxAbsDiff(got.dataSync(), want) < 1e-4, `${be} case ${i}`);
      tf.dispose([a, b, got]);
    });
    // rank 4 (attention-style [B, H, T, d]) and rank 2.
    const a4 = randn([2, 3, 4, 5], 1), b4 = randn([2, 3, 5, 6], 2);
    const r4 = tf.matMul(a4, b4);
    assert.deepEqual(r4.shape, [2, 3, 4, 6]);
    assert.ok(maxAbsDiff(r4.dataSync(), jsMatMul(a4.reshape([6, 4, 5]), b4.reshape([6, 5, 6]), false, false)) < 1e-4);
    tf.dispose([a4, b4, r4]);
  });
});

test("our BatchMatMul gradients (explicit transposes, and transpose flags) equal TF.js's built-in one, on cpu and wasm", async () => {
  assert.ok(builtinMatMulGrad, "captured the built-in gradient");
  await onEachBackend(async (be) => {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      for (const batch of [0, 3]) {
        const lead = batch ? [batch] : [];
        const a = randn([...lead, ...(ta ? [7, 5] : [5, 7])], 1), b = randn([...lead, ...(tb ? [3, 7] : [7, 3])], 2), dy = randn([...lead, 5, 3], 3);
        const attrs = { transposeA: ta, transposeB: tb };
        const want = builtinMatMulGrad.gradFunc(dy, [a, b], attrs) as Record<string, () => tf.Tensor>;
        for (const [variant, fn] of [["transposes", batchMatMulGradFunc], ["flags", batchMatMulGradFuncFlags]] as const) {
          const got = fn(dy, [a, b], attrs);
          for (const k of ["a", "b"]) {
            const w = want[k](), g = got[k]();
            assert.deepEqual(g.shape, w.shape);
            assert.ok(maxAbsDiff(g.dataSync(), w.dataSync()) < 1e-5, `${be} ${variant} ta=${ta} tb=${tb} batch=${batch} d${k}`);
            tf.dispose([w, g]);
          }
        }
        tf.dispose([a, b, dy]);
      }
    }
    // And through autodiff: tf.grad uses the registered one.
    const x = randn([6, 4], 5), w = randn([4, 3], 6);
    const [gx, gw] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p, q))))([x, w]);
    const y = tf.matMul(x, w);
    const dy = tf.mul(y, 2);
    assert.ok(maxAbsDiff(gx.dataSync(), tf.matMul(dy, w, false, true).dataSync()) < 1e-4);
    assert.ok(maxAbsDiff(gw.dataSync(), tf.matMul(x, dy, true, false).dataSync()) < 1e-4);
    tf.dispose([x, w, gx, gw, y, dy]);
  });
});

test("UnsortedSegmentSum (gradient of gather) equals a plain-JS scatter-add; out-of-range ids are dropped", async () => {
  await onEachBackend(async (be) => {
    const x = randn([6, 3], 7);
    const ids = [0, 2, 0, 5, -1, 2];
    const got = tf.unsortedSegmentSum(x, tf.tensor1d(ids, "int32"), 4);
    const xv = x.arraySync() as number[][];
    const want = Array.from({ length: 4 }, () => [0, 0, 0]);
    ids.forEach((s, i) => {
      if (s >= 0 && s < 4) for (let j = 0; j < 3; j++) want[s][j] += xv[i][j];
    });
    assert.ok(maxAbsDiff(got.dataSync(), want.flat()) < 1e-6, be);
    const gi = tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6]], undefined, "int32"), tf.tensor1d([1, 1, 0], "int32"), 2);
    assert.equal(gi.dtype, "int32");
    assert.deepEqual(Array.from(gi.dataSync()), [5, 6, 4, 6]);
    // gather's gradient now works on wasm too (it needs this kernel).
    const emb = randn([10, 3], 8);
    const g = tf.grad((e: tf.Tensor) => tf.sum(tf.gather(e, tf.tensor1d([1, 1, 4], "int32"))))(emb);
    const gv = g.arraySync() as number[][];
    assert.deepEqual(gv[1], [2, 2, 2]);
    assert.deepEqual(gv[4], [1, 1, 1]);
    assert.deepEqual(gv[0], [0, 0, 0]);
    tf.dispose([x, got, gi, emb, g]);
  });
});

test("wasm Identity/Cast share the buffer for same-dtype casts and still convert across dtypes", async () => {
  installOps();
  await initBackend("wasm");
  const x = tf.tensor1d([1.7, -2.5, 0]);
  const c = tf.clone(x), s = tf.cast(x, "float32");
  x.dispose(); // the clones must survive their source (reference counting, not a dangling buffer)
  assert.deepEqual(Array.from(c.dataSync()), [1.7, -2.5, 0].map(Math.fround));
  assert.deepEqual(Array.from(s.dataSync()), [1.7, -2.5, 0].map(Math.fround));
  assert.deepEqual(Array.from(tf.cast(c, "int32").dataSync()), [1, -2, 0]); // truncation, like TF
  assert.deepEqual(Array.from(tf.cast(c, "bool").dataSync()), [1, 1, 0]);
  assert.deepEqual(Array.from(tf.cast(tf.tensor1d([0, 1], "bool"), "float32").dataSync()), [0, 1]);
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    tf.cast(tf.clone(c), "float32");
  });
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([c, s]);
  await initBackend("cpu");
});

test("softmaxCrossEntropy: value equals a plain-JS logsumexp loss, gradient equals (softmax − onehot)/N, stable at extreme logits", async () => {
  await onEachBackend(async (be) => {
    for (const scale of [1, 30, 1e4]) {
      const z = randn([5, 11], 9, scale);
      const t = [0, 3, 10, 3, 7];
      const zv = z.arraySync() as number[][];
      // Independent computation in float64: loss_i = logsumexp(z_i) − z_i[t_i].
      let want = 0;
      const gWant: number[] = [];
      zv.forEach((row, i) => {
        const m = Math.max(...row);
        const se = row.reduce((s, v) => s + Math.exp(v - m), 0);
        want += (m + Math.log(se) - row[t[i]]) / zv.length;
        row.forEach((v, j) => gWant.push((Math.exp(v - m) / se - (j === t[i] ? 1 : 0)) / zv.length));
      });
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => softmaxCrossEntropy(x as tf.Tensor2D, t))(z);
      const v = value.dataSync()[0];
      assert.ok(Number.isFinite(v), `${be} scale ${scale}: finite`);
      assert.ok(Math.abs(v - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${be} scale ${scale}: ${v} vs ${want}`);
      assert.ok(maxAbsDiff(grad.dataSync(), gWant) < 1e-6, `${be} scale ${scale}: gradient`);
      tf.dispose([z, value, grad]);
    }
    assert.throws(() => softmaxCrossEntropy(tf.zeros([2, 4]) as tf.Tensor2D, [0, 4]), /target 4 at row 1 is outside \[0, 4\)/);
    assert.throws(() => softmaxCrossEntropy(tf.zeros([2, 4]) as tf.Tensor2D, [0]), /1 targets for 2 rows/);
  });
});

test("RoPE kernel equals HF rotate_half in plain JS and the composite TF.js version; its gradient is the inverse rotation", async () => {
  installOps();
  // Hand-worked: head_dim 2, θ^0 = 1 so angle = position. At position 1, [1, 2] ↦ [cos1 − 2 sin1, 2 cos1 + sin1].
  await initBackend("cpu");
  const ang = ropeAngles(2, 2, 10000);
  const hand = tf.tidy(() => rope(tf.tensor2d([[1, 2], [1, 2]]), tf.tensor2d(ang.cos, [2, 1]), tf.tensor2d(ang.sin, [2, 1]), 2, 2).arraySync());
  assert.ok(maxAbsDiff(hand.flat(), [1, 2, Math.cos(1) - 2 * Math.sin(1), 2 * Math.cos(1) + Math.sin(1)]) < 1e-6);
  for (const be of BACKENDS) {
    await initBackend(be);
    const [B, T, H, hd, theta] = [2, 5, 3, 8, 500000];
    const x = randn([B * T, H * hd], 4);
    const a = ropeAngles(T, hd, theta);
    const cos = tf.tensor2d(a.cos, [T, hd / 2]), sin = tf.tensor2d(a.sin, [T, hd / 2]);
    const got = rope(x as tf.Tensor2D, cos, sin, T, hd);
    const want = ropeRef(x.arraySync() as number[][], T, hd, theta).flat();
    assert.ok(maxAbsDiff(got.dataSync(), want) < 1e-5, `${be}: kernel vs plain JS`);
    assert.ok(maxAbsDiff(ropeReference(x as tf.Tensor2D, cos, sin, T, hd).dataSync(), want) < 1e-5, `${be}: composite vs plain JS`);
    // Gradient: for loss = Σ w ⊙ rope(x), dL/dx = rope⁻¹(w); compare with autodiff of the composite.
    const w = randn([B * T, H * hd], 5);
    const gk = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(rope(v as tf.Tensor2D, cos, sin, T, hd), w)))(x);
    const gc = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(ropeReference(v as tf.Tensor2D, cos, sin, T, hd), w)))(x);
    assert.ok(maxAbsDiff(gk.dataSync(), gc.dataSync()) < 1e-5, `${be}: gradient`);
    tf.dispose([x, cos, sin, got, w, gk, gc]);
  }
  await initBackend("cpu");
});

test("GatherV2 kernels (slice copies) equal a plain-JS gather on any axis; bad indices are refused; batchDims falls back", async () => {
  await onEachBackend(async (be) => {
    const x = randn([3, 4, 5], 11);
    const xv = x.arraySync() as number[][][];
    const idx = [3, 0, 3];
    const g0 = tf.gather(x, tf.tensor1d([2, 0], "int32"), 0).arraySync() as number[][][];
    assert.deepEqual(g0, [xv[2], xv[0]]);
    const g1 = tf.gather(x, tf.tensor1d(idx, "int32"), 1).arraySync() as number[][][];
    assert.deepEqual(g1, xv.map((a) => idx.map((i) => a[i])));
    const g2 = tf.gather(x, tf.tensor2d([[4, 1], [0, 0]], undefined, "int32"), 2).arraySync() as number[][][][];
    assert.deepEqual(g2, xv.map((a) => a.map((row) => [[row[4], row[1]], [row[0], row[0]]])));
    const gi = tf.gather(tf.tensor1d([7, 8, 9], "int32"), tf.tensor1d([2, 2, 0], "int32"));
    assert.deepEqual(Array.from(gi.dataSync()), [9, 9, 7]);
    assert.throws(() => tf.gather(x, tf.tensor1d([3], "int32"), 0), /index value 3 is not in \[0, 2\]/);
    // batchDims = 1 goes to the stock kernel: row b picks its own indices.
    const gb = tf.gather(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), tf.tensor2d([[2, 0], [1, 1]], undefined, "int32"), 1, 1).arraySync();
    assert.deepEqual(gb, [[3, 1], [5, 5]]);
    tf.dispose([x, gi]);
  });
});

test("UnsortedSegmentSum's gradient is a gather, with zeros for rows whose id was negative (dropped)", async () => {
  await onEachBackend(async (be) => {
    const x = randn([4, 2], 12);
    const w = randn([3, 2], 13);
    for (const ids of [[2, 0, 2, 1], [2, -1, 0, -3]]) {
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.unsortedSegmentSum(v, tf.tensor1d(ids, "int32"), 3), w)))(x);
      // d/dx_i of Σ_s w_s · Σ_{i: id_i = s} x_i is w_{id_i}, or 0 when id_i is out of range.
      const wv = w.arraySync() as number[][];
      assert.equal(maxAbsDiff(g.dataSync(), ids.flatMap((s) => (s >= 0 ? wv[s] : [0, 0]))), 0, `${be} ids ${ids}`);
      g.dispose();
    }
    tf.dispose([x, w]);
  });
});

test("wasm Slice/SplitV (heap-view copies) equal the cpu backend on contiguous and strided slices", async () => {
  installOps();
  const x = randn([3, 4, 5], 14);
  const host = x.arraySync() as number[][][];
  x.dispose();
  const jsSlice = (b: number[], s: number[]) => host.slice(b[0], b[0] + s[0]).map((a) => a.slice(b[1], b[1] + s[1]).map((r) => r.slice(b[2], b[2] + s[2])));
  await initBackend("wasm");
  const xw = tf.tensor3d(host);
  for (const [b, s] of [[[1, 0, 0], [2, 4, 5]], [[0, 1, 2], [3, 2, 3]], [[2, 3, 4], [1, 1, 1]]] as const) {
    assert.deepEqual(tf.slice(xw, [...b], [...s]).arraySync(), jsSlice([...b], [...s]), `slice ${b} ${s}`);
  }
  assert.deepEqual(tf.slice(xw, [0, 0, 0], [3, 0, 5]).shape, [3, 0, 5]); // empty slice
  const parts = tf.split(xw, [1, 3], 1).map((t) => t.arraySync());
  assert.deepEqual(parts, [jsSlice([0, 0, 0], [3, 1, 5]), jsSlice([0, 1, 0], [3, 3, 5])]);
  assert.deepEqual(tf.split(xw, 3, 0).map((t) => t.arraySync()), [0, 1, 2].map((i) => [host[i]]));
  assert.deepEqual(tf.slice(tf.tensor1d([1, 2, 3], "int32"), [1], [2]).arraySync(), [2, 3]);
  xw.dispose();
  await initBackend("cpu");
});

test("fused RMSNorm and AdamW kernels equal their composite TF.js versions (values and gradients), cpu and wasm", async () => {
  const { rmsNormComposite, rmsNorm } = await import("../../lib/model/model");
  const { adamwStep, adamwStepComposite } = await import("../../lib/train/adamw");
  await onEachBackend(async (be) => {
    const x = randn([6, 8], 15, 3), w = randn([8], 16), dy = randn([6, 8], 17);
    const f = (fn: typeof rmsNorm) => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(fn(a as tf.Tensor2D, b as tf.Tensor1D, 1e-6), dy));
    assert.ok(maxAbsDiff(rmsNorm(x as tf.Tensor2D, w as tf.Tensor1D, 1e-6).dataSync(), rmsNormComposite(x as tf.Tensor2D, w as tf.Tensor1D, 1e-6).dataSync()) < 1e-5, `${be} rmsnorm value`);
    const [gx1, gw1] = tf.grads(f(rmsNorm))([x, w]);
    const [gx2, gw2] = tf.grads(f(rmsNormComposite))([x, w]);
    assert.ok(maxAbsDiff(gx1.dataSync(), gx2.dataSync()) < 1e-5, `${be} rmsnorm dx`);
    assert.ok(maxAbsDiff(gw1.dataSync(), gw2.dataSync()) < 1e-4, `${be} rmsnorm dw`);
    const hp = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const [p, g, m, v] = [randn([5, 7], 18), randn([5, 7], 19), randn([5, 7], 20, 0.1), tf.abs(randn([5, 7], 21, 0.1))];
    const mask = tf.cast(tf.tensor2d(Array.from({ length: 35 }, (_, i) => (i % 3 ? 1 : 0)), [5, 7]), "bool");
    for (const mk of [undefined, mask]) {
      const a = adamwStep(p, g, m, v, hp, 3, mk), b = adamwStepComposite(p, g, m, v, hp, 3, mk);
      for (const k of ["w", "m", "v"] as const) assert.ok(maxAbsDiff(a[k].dataSync(), b[k].dataSync()) < 1e-6, `${be} adamw ${k} mask=${Boolean(mk)}`);
      if (mk) a.w.dataSync().forEach((val, i) => i % 3 === 0 && assert.equal(val, p.dataSync()[i]));
    }
  });
});
