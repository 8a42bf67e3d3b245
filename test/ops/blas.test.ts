import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { batchMatMulBlas, nativeMatMul } from "../../lib/ops/blas";
import { installOps } from "../../lib/ops";
import { Rng } from "../../lib/model/rng";

// CI installs a compiler and OpenBLAS and sets FLEXOLMO_REQUIRE_BLAS=1, so there the native kernel
// cannot silently fall back; elsewhere (no compiler, no BLAS) these tests say why and skip.
const status = nativeMatMul();
const skip = !status.available && process.env.FLEXOLMO_REQUIRE_BLAS !== "1" ? `native matMul unavailable: ${status.reason}` : false;

test("the native matMul loads where CI requires it, or reports a reason that says what to install", () => {
  if (process.env.FLEXOLMO_REQUIRE_BLAS === "1") assert.ok(status.available, `FLEXOLMO_REQUIRE_BLAS=1 but: ${status.reason}`);
  if (status.available) {
    assert.match(status.library ?? "", /\S/);
    assert.ok((status.threads ?? 0) >= 1);
  } else assert.match(status.reason ?? "", /addon|BLAS|install|libopenblas/i);
});

/** Plain-JS reference: C[i] = op(A[i]) · op(B[i]) with broadcasting of a single matrix. */
function refMatMul(a: Float32Array, as: number[], b: Float32Array, bs: number[], ta: boolean, tb: boolean): { v: Float64Array; shape: number[] } {
  const ra = as.length, rb = bs.length;
  const M = ta ? as[ra - 1] : as[ra - 2], K = ta ? as[ra - 2] : as[ra - 1], N = tb ? bs[rb - 2] : bs[rb - 1];
  const batchA = as.slice(0, -2).reduce((x, y) => x * y, 1), batchB = bs.slice(0, -2).reduce((x, y) => x * y, 1);
  const batch = Math.max(batchA, batchB);
  const outer = batchA >= batchB ? as.slice(0, -2) : bs.slice(0, -2);
  const v = new Float64Array(batch * M * N);
  for (let i = 0; i < batch; i++) {
    const ao = (batchA === 1 ? 0 : i) * M * K, bo = (batchB === 1 ? 0 : i) * K * N;
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + (ta ? k * M + m : m * K + k)] * b[bo + (tb ? n * K + k : k * N + n)];
        v[i * M * N + m * N + n] = s;
      }
  }
  return { v, shape: [...outer, M, N] };
}

test("BLAS BatchMatMul equals a plain-JS product: transposes, batches, broadcasting, empty sizes", { skip }, async () => {
  await initBackend("wasm");
  installOps();
  const rng = new Rng(11);
  const backend = tf.engine().backend;
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[4, 5, 7], [4, 7, 3], false, false],
    [[4, 7, 5], [7, 3], true, false], // one B for every A
    [[5, 7], [2, 3, 3, 7], false, true], // one A for every B, 2 batch axes
    [[0, 7], [7, 3], false, false], // M = 0
    [[5, 0], [0, 3], false, false], // K = 0: zeros
    [[64, 200], [200, 300], false, false], // big enough for OpenBLAS's threaded path
  ];
  for (const [as, bs, ta, tb] of cases) {
    const av = Float32Array.from({ length: as.reduce((x, y) => x * y, 1) }, () => rng.normal());
    const bv = Float32Array.from({ length: bs.reduce((x, y) => x * y, 1) }, () => rng.normal());
    const a = tf.tensor(av, as), b = tf.tensor(bv, bs);
    const info = batchMatMulBlas({ inputs: { a, b }, backend, attrs: { transposeA: ta, transposeB: tb } });
    const got = tf.engine().makeTensorFromTensorInfo(info);
    const want = refMatMul(av, as, bv, bs, ta, tb);
    assert.deepEqual(got.shape, want.shape, `${as}·${bs} ta=${ta} tb=${tb}`);
    const g = got.dataSync();
    for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - want.v[i]) < 1e-3 * (1 + Math.abs(want.v[i])), `${as}·${bs} ta=${ta} tb=${tb} at ${i}: ${g[i]} vs ${want.v[i]}`);
    // And through tf.matMul: the registered wasm kernel is this one.
    if (as.length === bs.length || as.length === 2 || bs.length === 2) {
      const viaTf = tf.matMul(a, b, ta, tb);
      assert.deepEqual(Array.from(viaTf.dataSync()), Array.from(g), "tf.matMul runs the BLAS kernel");
      viaTf.dispose();
    }
    tf.dispose([a, b, got]);
  }
  await initBackend("cpu");
});

test("BLAS BatchMatMul rejects what tf.matMul rejects, with the shapes in the message", { skip }, async () => {
  await initBackend("wasm");
  const backend = tf.engine().backend;
  const a = tf.zeros([2, 3]), b = tf.zeros([4, 5]), c = tf.zeros([2, 3, 3]), d = tf.zeros([3, 3, 3]);
  assert.throws(() => batchMatMulBlas({ inputs: { a, b }, backend, attrs: {} }), /inner shapes \(3\) and \(4\)/);
  assert.throws(() => batchMatMulBlas({ inputs: { a: c, b: d }, backend, attrs: {} }), /cannot broadcast batch shapes \[2\] and \[3\]/);
  tf.dispose([a, b, c, d]);
  await initBackend("cpu");
});
