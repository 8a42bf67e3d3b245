import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { MODEL_PRESETS, ModelConfig } from "../../lib/model/config";
import { disposeParams, forward, initParams, paramCount, rmsNorm } from "../../lib/model/model";
import { flopsPerToken } from "../../lib/model/flops";
import { ModelParams, paramEntries } from "../../lib/model/params";
import { Rng } from "../../lib/model/rng";
import { refForward, rmsnorm as refRmsnorm, toHost } from "./reference";

before(async () => {
  await initBackend("cpu");
});

/** Small enough for the float64 reference, but with GQA (4 query heads over 2 KV heads) and 2 layers. */
const SMALL: ModelConfig = {
  ...MODEL_PRESETS.tiny,
  vocabSize: 64,
  dModel: 16,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  dFf: 24,
  maxSeqLen: 16,
  experts: ["public", "math", "code", "news"],
  topK: 2,
};

function replace(p: ModelParams, pick: (p: ModelParams) => tf.Tensor, set: (p: ModelParams, t: tf.Tensor) => void, values: Float32Array | number[]): void {
  const old = pick(p);
  set(p, tf.tensor(values, old.shape, "float32"));
  old.dispose();
}

/** Router rows with std 1 (instead of 0.02) so routing probabilities are well separated, and a mixed-sign bias. */
function sharpenRouters(p: ModelParams, cfg: ModelConfig, seed: number): void {
  const rng = new Rng(seed);
  p.layers.forEach((l) => {
    const r = Array.from({ length: cfg.experts.length * cfg.dModel }, () => rng.normal());
    replace(p, () => l.router, (_, t) => (l.router = t as tf.Tensor2D), r);
    const b = cfg.experts.map((_, e) => (e % 2 === 0 ? 0.4 : -0.6)); // positive entries must be clamped to 0
    replace(p, () => l.expertBias, (_, t) => (l.expertBias = t as tf.Tensor1D), b);
  });
}

function idsFor(cfg: ModelConfig, b: number, t: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: b }, () => Array.from({ length: t }, () => rng.int(cfg.vocabSize)));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("rmsNorm equals x·rsqrt(mean(x²)+eps)·w computed in plain JS", () => {
  const x = [
    [1, 2, 3, 4],
    [-0.5, 0.25, 0, 8],
  ];
  const w = [1, 0.5, 2, -1];
  const got = tf.tidy(() => rmsNorm(tf.tensor2d(x), tf.tensor1d(w), 1e-6).arraySync());
  // Hand check of row 0: mean(x²) = 30/4 = 7.5 → 1/√7.5000001 ≈ 0.365148; times x·w.
  assert.ok(Math.abs(got[0][0] - 1 / Math.sqrt(7.500001)) < 1e-6);
  assert.ok(maxAbsDiff(got.flat(), refRmsnorm(x, w, 1e-6).flat()) < 1e-6);
});

test("forward matches the plain-JS float64 reference (GQA, QK-norm, RoPE, MoE top-2 with bias)", () => {
  const p = initParams(SMALL, 7);
  sharpenRouters(p, SMALL, 11);
  const ids = idsFor(SMALL, 2, 6, 3);
  const host = toHost(p);
  const cases: Array<{ name: string; cfg: ModelConfig; opts: { include?: boolean[]; topK?: number; bias?: "keep" | "drop" } }> = [
    { name: "top-2 of 4, bias kept", cfg: SMALL, opts: {} },
    { name: "bias dropped", cfg: SMALL, opts: { bias: "drop" } },
    { name: "top-1", cfg: SMALL, opts: { topK: 1 } },
    { name: "k = E (dense soft mixture)", cfg: SMALL, opts: { topK: 4 } },
    { name: "expert 1 excluded, top-2 of 3", cfg: SMALL, opts: { include: [true, false, true, true] } },
    { name: "renormalised top-k", cfg: { ...SMALL, normTopkProb: true }, opts: {} },
  ];
  for (const c of cases) {
    const ref = refForward(host, c.cfg, ids, c.opts);
    // Precondition: no near-tie at the top-k boundary, so float32 vs float64 cannot flip a choice.
    const k = ref.routing[0].topk[0].length;
    for (const L of ref.routing) {
      for (const pr of L.probs) {
        if (k >= pr.length) continue;
        const s = [...pr].sort((a, b) => b - a);
        assert.ok(s[k - 1] - s[k] > 1e-4, `${c.name}: routing margin too small for a stable comparison`);
      }
    }
    const r = forward(p, c.cfg, tf.tensor2d(ids, undefined, "int32"), { ...c.opts, telemetry: true });
    const got = r.logits.dataSync();
    const want = ref.logits.flat();
    const scale = Math.max(...want.map(Math.abs));
    assert.ok(maxAbsDiff(got, want) < 2e-5 * Math.max(1, scale), `${c.name}: logits differ by ${maxAbsDiff(got, want)}`);
    // Telemetry: probabilities over included experts and top-k indices in original numbering.
    const tel = r.telemetry!;
    const inc = (c.opts.include ?? [true, true, true, true]).flatMap((v, i) => (v ? [i] : []));
    ref.routing.forEach((L, li) => {
      const T = tel.layers[li];
      L.probs.forEach((pr, n) => {
        pr.forEach((v, j) => assert.ok(Math.abs(T.probs[n * tel.e + inc[j]] - v) < 1e-5));
        for (let e = 0; e < tel.e; e++) if (!inc.includes(e)) assert.equal(T.probs[n * tel.e + e], 0);
        assert.deepEqual(Array.from(T.topkIdx.subarray(n * tel.k, (n + 1) * tel.k)), L.topk[n]);
        L.weights[n].forEach((w, s) => assert.ok(Math.abs(T.topkWeight[n * tel.k + s] - w) < 1e-5));
      });
    });
    r.logits.dispose();
    r.routerLogits.forEach((t) => t.dispose());
  }
  disposeParams(p);
});

test("the dense model (one expert) matches the reference too", () => {
  const cfg: ModelConfig = { ...SMALL, experts: ["public"], topK: 1 };
  const p = initParams(cfg, 5);
  const ids = idsFor(cfg, 1, 8, 9);
  const want = refForward(toHost(p), cfg, ids).logits.flat();
  const got = tf.tidy(() => forward(p, cfg, tf.tensor2d(ids, undefined, "int32")).logits.dataSync());
  assert.ok(maxAbsDiff(got, want) < 2e-5);
  disposeParams(p);
});

test("causality: changing a later token never changes earlier logits", () => {
  const p = initParams(SMALL, 1);
  const a = [[3, 5, 7, 9, 11]], b = [[3, 5, 7, 9, 60]];
  const [la, lb] = [a, b].map((ids) => tf.tidy(() => forward(p, SMALL, tf.tensor2d(ids, undefined, "int32")).logits.arraySync()[0]));
  for (let t = 0; t < 4; t++) assert.ok(maxAbsDiff(la[t], lb[t]) < 1e-6, `position ${t} changed`);
  assert.ok(maxAbsDiff(la[4], lb[4]) > 1e-4, "the changed position itself must change");
  disposeParams(p);
});

/**
 * A 1-layer model whose router input is exactly the token embedding: with o_proj = 0 the attention
 * output is 0, RMSNorm(0) = 0, so h = x + 0 = embed[token]. Router rows are then chosen so the logits
 * of token 1 are exactly `logits`.
 */
function routerProbe(logits: number[], beta: number[], extra: Partial<ModelConfig> = {}): { p: ModelParams; cfg: ModelConfig } {
  const cfg: ModelConfig = { ...MODEL_PRESETS.tiny, vocabSize: 8, dModel: 4, nLayers: 1, nHeads: 2, nKvHeads: 2, dFf: 4, maxSeqLen: 4, experts: ["public", "a", "b"], topK: 1, ...extra };
  const p = initParams(cfg, 0);
  const l = p.layers[0];
  replace(p, () => l.o, (_, t) => (l.o = t as tf.Tensor2D), new Array(16).fill(0));
  const emb = Array.from(p.embed.dataSync());
  emb.splice(4, 4, 1, 0, 0, 0); // token 1 → [1, 0, 0, 0]
  replace(p, (q) => q.embed, (q, t) => (q.embed = t as tf.Tensor2D), emb);
  replace(p, () => l.router, (_, t) => (l.router = t as tf.Tensor2D), logits.flatMap((v) => [v, 0, 0, 0]));
  replace(p, () => l.expertBias, (_, t) => (l.expertBias = t as tf.Tensor1D), beta);
  return { p, cfg };
}

function probe(p: ModelParams, cfg: ModelConfig, opts: Parameters<typeof forward>[3]) {
  const r = forward(p, cfg, tf.tensor2d([[1]], [1, 1], "int32"), { ...opts, telemetry: true });
  const L = r.telemetry!.layers[0];
  r.logits.dispose();
  return { logits: Array.from(L.logits), probs: Array.from(L.probs), idx: Array.from(L.topkIdx), w: Array.from(L.topkWeight) };
}

const close = (a: number[], b: number[], tol = 1e-6) => assert.ok(maxAbsDiff(a, b) < tol, `${a} vs ${b}`);

test("router, hand-worked: logits [0, ln2, ln2] → probs [1/5, 2/5, 2/5]; ties go to the lower index; k and renormalisation", () => {
  const { p, cfg } = routerProbe([0, Math.LN2, Math.LN2], [0, 0, 0]);
  // softmax: e^0 : e^ln2 : e^ln2 = 1 : 2 : 2 → [0.2, 0.4, 0.4].
  let r = probe(p, cfg, { topK: 1 });
  close(r.probs, [0.2, 0.4, 0.4]);
  assert.deepEqual(r.idx, [1]); // experts 1 and 2 tie; the lower index wins
  close(r.w, [0.4]); // not renormalised (FlexOlmo)
  r = probe(p, cfg, { topK: 2 });
  assert.deepEqual(r.idx, [1, 2]);
  close(r.w, [0.4, 0.4]); // the two weights sum to 0.8, not 1
  r = probe(p, cfg, { topK: 3 });
  assert.deepEqual(r.idx, [1, 2, 0]);
  close(r.w, [0.4, 0.4, 0.2]);
  disposeParams(p);
  const rn = routerProbe([0, Math.LN2, Math.LN2], [0, 0, 0], { normTopkProb: true });
  r = probe(rn.p, rn.cfg, { topK: 2 });
  close(r.w, [0.5, 0.5]); // 0.4 / 0.8
  r = probe(rn.p, rn.cfg, { topK: 1 });
  close(r.w, [1]);
  disposeParams(rn.p);
});

test("router, hand-worked: bias min(β, 0) on owner experts only; positive β clamps to 0; 'drop' ignores it", () => {
  // β = [+7 (public: never used), −ln2, +3 (clamped to 0)] turns logits [0, ln2, ln2] into [0, 0, ln2] → [1/4, 1/4, 1/2].
  const { p, cfg } = routerProbe([0, Math.LN2, Math.LN2], [7, -Math.LN2, 3]);
  let r = probe(p, cfg, { topK: 1 });
  close(r.logits, [0, 0, Math.LN2]);
  close(r.probs, [0.25, 0.25, 0.5]);
  assert.deepEqual(r.idx, [2]);
  r = probe(p, cfg, { topK: 2 });
  assert.deepEqual(r.idx, [2, 0]); // 0 and 1 tie at 1/4: the lower index (public) wins
  r = probe(p, cfg, { topK: 1, bias: "drop" });
  close(r.probs, [0.2, 0.4, 0.4]);
  disposeParams(p);
});

test("router, hand-worked: excluded experts are absent from the softmax (not just zero-weighted)", () => {
  // Logits [0, ln2, ln3]; excluding expert 1 leaves softmax([0, ln3]) = [1/4, 3/4].
  const { p, cfg } = routerProbe([0, Math.LN2, Math.log(3)], [0, 0, 0]);
  const r = probe(p, cfg, { include: [true, false, true], topK: 1 });
  close(r.probs, [0.25, 0, 0.75]);
  assert.equal(r.logits[1], -Infinity);
  assert.deepEqual(r.idx, [2]);
  close(r.w, [0.75]);
  // With all three included the same expert would get 3/6 = 0.5: the pool changes every weight.
  close(probe(p, cfg, { topK: 1 }).w, [0.5]);
  disposeParams(p);
});

test("sparse dispatch (k < E) equals the dense mixture with non-top-k weights zeroed", () => {
  const cfg: ModelConfig = { ...SMALL, experts: ["public", "a", "b", "c", "d", "e"], topK: 2 };
  const p = initParams(cfg, 3);
  sharpenRouters(p, cfg, 4);
  const ids = tf.tensor2d(idsFor(cfg, 3, 8, 5), undefined, "int32");
  for (const topK of [1, 2, 3]) {
    const [s, d] = (["auto", "dense"] as const).map((dispatch) => tf.tidy(() => forward(p, cfg, ids, { topK, dispatch }).logits.dataSync()));
    assert.ok(maxAbsDiff(s, d) < 1e-5, `topK ${topK}: ${maxAbsDiff(s, d)}`);
  }
  ids.dispose();
  disposeParams(p);
});

test("device dispatch (top-k chosen on the device, every expert on every token) equals the dense mixture bit for bit, and so do its gradients", () => {
  // Both run every included expert on every token with weights probs ⊙ mask; only where the mask is
  // made differs (tf.topk + one-hot vs a host loop), so with no ties the results are the same floats.
  // (No GQA here: TF.js has no gradient for the rank-5 tile that repeats KV heads; FlexOlmo has no GQA.)
  const cfg: ModelConfig = { ...SMALL, nKvHeads: SMALL.nHeads, experts: ["public", "a", "b", "c", "d", "e"], topK: 2 };
  const p = initParams(cfg, 3);
  sharpenRouters(p, cfg, 4);
  const ids = tf.tensor2d(idsFor(cfg, 3, 8, 5), undefined, "int32");
  const xs = paramEntries(p).map((e) => e.tensor);
  for (const topK of [1, 2, 3, 6]) {
    const [d, v] = (["dense", "device"] as const).map((dispatch) => tf.tidy(() => forward(p, cfg, ids, { topK, dispatch }).logits.dataSync()));
    assert.equal(maxAbsDiff(d, v), 0, `topK ${topK}: logits differ by ${maxAbsDiff(d, v)}`);
    const [gd, gv] = (["dense", "device"] as const).map((dispatch) =>
      tf.tidy(() => {
        const { grads } = tf.engine().gradients(() => tf.mean(tf.square(forward(p, cfg, ids, { topK, dispatch }).logits)) as tf.Scalar, xs, undefined, true);
        return grads.map((g) => (g ? Array.from(g.dataSync()) : []));
      }),
    );
    gd.forEach((g, i) => assert.equal(maxAbsDiff(g, gv[i]), 0, `topK ${topK}: gradient of ${paramEntries(p)[i].name} differs`));
  }
  ids.dispose();
  disposeParams(p);
});

test("a dense model and a 2-expert model whose experts and router rows are copies give the same logits", () => {
  // With identical router rows the two logits are equal, softmax gives exactly [0.5, 0.5], and
  // 0.5·f + 0.5·f = f exactly in float (scaling by 0.5 and adding equal numbers are exact), so with
  // top-2 of 2 the mixture equals the dense FFN. initParams seeds each tensor by name, so the
  // 2-expert model's trunk and expert 0 already equal the dense model's.
  const dense: ModelConfig = { ...MODEL_PRESETS.tiny, vocabSize: 64, maxSeqLen: 16 };
  const moe: ModelConfig = { ...dense, experts: ["public", "copy"], topK: 2 };
  const pd = initParams(dense, 21), pm = initParams(moe, 21);
  pm.layers.forEach((l, i) => {
    const e0 = pd.layers[i].experts[0];
    for (const key of ["gate", "up", "down"] as const) {
      l.experts[1][key].dispose();
      l.experts[1][key] = tf.clone(e0[key]);
    }
    const row0 = Array.from(pd.layers[i].router.dataSync());
    replace(pm, () => l.router, (_, t) => (l.router = t as tf.Tensor2D), [...row0, ...row0]);
  });
  const ids = tf.tensor2d(idsFor(dense, 2, 10, 1), undefined, "int32");
  const a = tf.tidy(() => forward(pd, dense, ids).logits.dataSync());
  const b = tf.tidy(() => forward(pm, moe, ids).logits.dataSync());
  assert.ok(maxAbsDiff(a, b) <= 1e-6, `max diff ${maxAbsDiff(a, b)}`);
  // Top-1 would halve the FFN output (weight 0.5 on one copy), so the logits must then differ.
  const c = tf.tidy(() => forward(pm, moe, ids, { topK: 1 }).logits.dataSync());
  assert.ok(maxAbsDiff(a, c) > 1e-4);
  ids.dispose();
  disposeParams(pd);
  disposeParams(pm);
});

test("paramCount equals the real tensor sizes; hf excludes the expert bias; active counts topK expert FFNs", () => {
  for (const cfg of [MODEL_PRESETS.tiny, { ...MODEL_PRESETS.tiny, experts: ["p", "a", "b", "c", "d", "e", "f", "g"], topK: 4 }, { ...SMALL }]) {
    const p = initParams(cfg, 0);
    const entries = paramEntries(p);
    const real = entries.reduce((s, e) => s + e.tensor.size, 0);
    const hfReal = entries.filter((e) => e.hf).reduce((s, e) => s + e.tensor.size, 0);
    const c = paramCount(cfg);
    assert.equal(c.total, real);
    assert.equal(c.hf, hfReal);
    const E = cfg.experts.length;
    assert.equal(c.active, real - cfg.nLayers * (E - cfg.topK) * 3 * cfg.dModel * cfg.dFf);
    disposeParams(p);
  }
  // The `cpu` preset is the advertised ≈ 1.85 M-parameter dense model. By hand: embeddings + head
  // 2·4096·128, final norm 128, and per layer q/k/v/o 4·128², four norms 4·128, router row 128,
  // bias 1, FFN 3·128·352.
  assert.equal(paramCount(MODEL_PRESETS.cpu).total, 2 * 4096 * 128 + 128 + 4 * (4 * 128 * 128 + 4 * 128 + 128 + 1 + 3 * 128 * 352));
});

test("initParams is deterministic per seed, differs across seeds, and a 2-expert model shares the dense model's expert 0", () => {
  const cfg = MODEL_PRESETS.tiny;
  const a = initParams(cfg, 1), b = initParams(cfg, 1), c = initParams(cfg, 2);
  const ea = paramEntries(a), eb = paramEntries(b), ec = paramEntries(c);
  ea.forEach((e, i) => assert.deepEqual(e.tensor.dataSync(), eb[i].tensor.dataSync(), e.name));
  assert.notDeepEqual(ea[0].tensor.dataSync(), ec[0].tensor.dataSync());
  const m = initParams({ ...cfg, experts: ["public", "x"], topK: 1 }, 1);
  assert.deepEqual(m.layers[1].experts[0].up.dataSync(), a.layers[1].experts[0].up.dataSync());
  assert.notDeepEqual(m.layers[1].experts[1].up.dataSync(), a.layers[1].experts[0].up.dataSync());
  // std ≈ 0.02 (OLMo 2 init), truncated at 3σ.
  const v = a.layers[0].q.dataSync();
  const std = Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0) / v.length);
  assert.ok(std > 0.017 && std < 0.021, `std ${std}`);
  assert.ok(Array.from(v).every((x) => Math.abs(x) <= 0.06 + 1e-7));
  [a, b, c, m].forEach(disposeParams);
});

test("clear errors for bad options, ids and configs", () => {
  const cfg: ModelConfig = { ...MODEL_PRESETS.tiny, vocabSize: 8, experts: ["public", "a", "b"], topK: 2 };
  const p = initParams(cfg, 0);
  const ids = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
  assert.throws(() => forward(p, cfg, ids, { include: [true, false, false], topK: 2 }), /topK = 2 but only 1 expert\(s\) are included/);
  assert.throws(() => forward(p, cfg, ids, { include: [false, false, false] }), /excludes every expert/);
  assert.throws(() => forward(p, cfg, ids, { include: [true, true] }), /length 3/);
  assert.throws(() => forward(p, cfg, ids, { topK: 0 }), /positive integer/);
  assert.throws(() => forward(p, cfg, ids, { bias: "maybe" as "keep" }), /bias must be "keep" or "drop"/);
  assert.throws(() => forward(p, cfg, tf.tensor2d([[1, 2]], [1, 2], "float32")), /must be int32/);
  assert.throws(() => forward(p, cfg, tf.tensor2d([[1, 8]], [1, 2], "int32")), /token id 8 at position 1 is outside \[0, 8\)/);
  assert.throws(() => forward(p, cfg, tf.tensor2d([[-1]], [1, 1], "int32")), /outside/);
  assert.throws(() => forward(p, cfg, tf.zeros([1, cfg.maxSeqLen + 1], "int32") as tf.Tensor2D), /exceeds maxSeqLen/);
  assert.throws(() => forward(p, cfg, tf.tensor1d([1, 2], "int32") as unknown as tf.Tensor2D), /shape \[B, T\]/);
  assert.throws(() => forward(p, { ...cfg, experts: ["public", "a"] }, ids), /does not describe|missing|shape/);
  assert.throws(() => initParams({ ...cfg, dModel: 33 }, 0), /divisible by nHeads/);
  assert.throws(() => initParams({ ...cfg, topK: 4 }, 0), /topK \(4\) cannot exceed/);
  assert.throws(() => initParams(cfg, 1.5), /seed must be an integer/);
  ids.dispose();
  disposeParams(p);
});

test("wasm backend: same logits as cpu (registered kernels: batched matMul, rope, segment sum)", async () => {
  const p = initParams(SMALL, 2);
  const host = paramEntries(p).map((e) => ({ name: e.name, v: e.tensor.dataSync().slice(), shape: e.tensor.shape }));
  sharpenRouters(p, SMALL, 3);
  const ids = idsFor(SMALL, 2, 8, 4);
  const want = refForward(toHost(p), SMALL, ids).logits.flat();
  disposeParams(p);
  await initBackend("wasm");
  try {
    const pw = initParams(SMALL, 2); // same seed → same values on any backend (our own PRNG)
    paramEntries(pw).forEach((e, i) => assert.deepEqual(e.tensor.dataSync(), host[i].v, e.name));
    sharpenRouters(pw, SMALL, 3);
    const got = tf.tidy(() => forward(pw, SMALL, tf.tensor2d(ids, undefined, "int32")).logits.dataSync());
    assert.ok(maxAbsDiff(got, want) < 2e-5, `${maxAbsDiff(got, want)}`);
    disposeParams(pw);
  } finally {
    await initBackend("cpu");
  }
});

test("flopsPerToken: hand count for the cpu preset (dense) and the 8-expert top-4 model", () => {
  // Dense, T = 128, per token and layer: q/k/v/o 2·128·(4·4·32) = 131072; router 2·128·1 = 256;
  // attention 4·128·128 = 65536; one SwiGLU expert 3·2·128·352 = 270336 → 467200 per layer;
  // ×4 layers = 1868800, plus the LM head 2·128·4096 = 1048576 → 2917376 forward, ×3 for training.
  const d = flopsPerToken(MODEL_PRESETS.cpu, 128);
  assert.equal(d.forward, 2917376);
  assert.equal(d.train, 3 * 2917376);
  // 8 experts, top-4: router 2·128·8 = 2048 and four experts per token.
  const m = flopsPerToken({ ...MODEL_PRESETS.cpu, experts: ["a", "b", "c", "d", "e", "f", "g", "h"], topK: 4 }, 128);
  assert.equal(m.forward, 4 * (131072 + 2048 + 65536 + 4 * 270336) + 1048576);
});
