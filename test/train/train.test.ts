import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { MODEL_PRESETS, ModelConfig } from "../../lib/model/config";
import { disposeParams, initParams } from "../../lib/model/model";
import { ModelParams, paramEntries } from "../../lib/model/params";
import { Rng } from "../../lib/model/rng";
import { adamwStep } from "../../lib/train/adamw";
import { Batch, BatchSource, randomWindows } from "../../lib/train/batches";
import { DEFAULT_TRAIN, TRAIN_PRESETS, TrainConfig, validateTrainConfig } from "../../lib/train/config";
import { ownerExpertSpec, resolveTrainable } from "../../lib/train/freeze";
import { routerMarginLoss, routerZLoss, trainingLoss } from "../../lib/train/loss";
import { lrAt } from "../../lib/train/schedule";
import { disposeTrainerState, StepProgress, Trainer } from "../../lib/train/trainer";

before(async () => {
  await initBackend("cpu");
});

/** Milliseconds per step: enough structure (2 experts, GQA-free attention, RoPE) to exercise everything. */
const MICRO: ModelConfig = { ...MODEL_PRESETS.tiny, vocabSize: 32, dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 2, dFf: 16, maxSeqLen: 16, experts: ["public", "owner"], topK: 2 };
const MICRO_TRAIN: TrainConfig = { ...TRAIN_PRESETS.tiny, batchSize: 2, seqLen: 8, steps: 40, lr: 1e-2, warmupSteps: 3 };

/** A learnable token stream: a fixed pseudo-random cycle of period 50 over the vocabulary. */
function stream(n: number, vocab: number, seed = 1): Int32Array {
  const rng = new Rng(seed);
  const cycle = Array.from({ length: 50 }, () => rng.int(vocab));
  return Int32Array.from({ length: n }, (_, i) => cycle[i % 50]);
}

function snapshot(p: ModelParams): Map<string, Float32Array> {
  return new Map(paramEntries(p).map((e) => [e.name, e.tensor.dataSync().slice() as Float32Array]));
}

test("LR schedule: linear warmup to the peak, cosine to 0.1× peak (hand-computed points)", () => {
  const tc = { lr: 1, warmupSteps: 4, steps: 14, minLrRatio: 0.1 };
  assert.equal(lrAt(0, tc), 0.25); // (0+1)/4
  assert.equal(lrAt(3, tc), 1); // last warmup step reaches the peak
  assert.equal(lrAt(4, tc), 1); // cosine starts at the peak
  assert.ok(Math.abs(lrAt(9, tc) - 0.55) < 1e-12); // halfway: 0.1 + 0.9·(1 + cos(π/2))/2 = 0.55
  assert.ok(Math.abs(lrAt(14, tc) - 0.1) < 1e-12);
  assert.ok(Math.abs(lrAt(1000, tc) - 0.1) < 1e-12); // stays at the floor
});

test("adamwStep equals PyTorch's AdamW formula computed by hand in JS, masked elements keep their exact bits", () => {
  const hp = { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  let w: tf.Tensor = tf.tensor1d([0.5, -1, 2, 0.25]), m: tf.Tensor = tf.zeros([4]), v: tf.Tensor = tf.zeros([4]);
  const mask = tf.tensor1d([1, 1, 0, 1], "bool");
  const grads = [[0.1, -0.2, 0.3, 0], [0.05, 0.4, -1, -0.3], [-0.2, 0.1, 0.5, 0.2]];
  // Reference (float64): p ← p(1 − lr·wd); m, v EMAs; p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps).
  const W = [0.5, -1, 2, 0.25].map(Math.fround), M = [0, 0, 0, 0], V = [0, 0, 0, 0];
  grads.forEach((g, s) => {
    const t = s + 1;
    const next = adamwStep(w, tf.tensor1d(g), m, v, hp, t, mask);
    tf.dispose([w, m, v]);
    ({ w, m, v } = next);
    for (let i = 0; i < 4; i++) {
      if (i === 2) continue; // frozen
      W[i] *= 1 - hp.lr * hp.weightDecay;
      M[i] = hp.beta1 * M[i] + (1 - hp.beta1) * g[i];
      V[i] = hp.beta2 * V[i] + (1 - hp.beta2) * g[i] * g[i];
      W[i] -= (hp.lr / (1 - hp.beta1 ** t)) * (M[i] / (Math.sqrt(V[i]) / Math.sqrt(1 - hp.beta2 ** t) + hp.eps));
    }
  });
  const got = w.dataSync();
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i] - W[i]) < 1e-6, `element ${i}: ${got[i]} vs ${W[i]}`);
  assert.equal(got[2], Math.fround(2)); // bit-identical despite weight decay and a large gradient
  assert.equal(m.dataSync()[2], 0);
  assert.equal(v.dataSync()[2], 0);
  tf.dispose([w, m, v, mask]);
});

test("router z-loss = Σ over layers of mean over tokens of logsumexp(logits)² (hand-computed); one-expert layers add nothing", () => {
  const l1 = [[0, Math.LN2], [1, 1]], l2 = [[0, 0, 0]], dense = [[5]];
  const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
  // Layer 1: rows lse = ln 3 and 1 + ln 2, mean of squares; layer 2: one row, lse = ln 3; layer 3: one expert → 0.
  const want = (Math.log(3) ** 2 + (1 + Math.LN2) ** 2) / 2 + Math.log(3) ** 2;
  assert.ok(Math.abs(want - (lse(l1[0]) ** 2 + lse(l1[1]) ** 2) / 2 - lse(l2[0]) ** 2) < 1e-12);
  const got = tf.tidy(() => routerZLoss([tf.tensor2d(l1), tf.tensor2d(l2), tf.tensor2d(dense)]).dataSync()[0]);
  assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
});

test("router margin loss: hand-computed values on both sides, and its gradient reaches the router rows and bias only", () => {
  // One layer, C = 2: r_pub = [1, 0], r_e = [0, 1], β_e = −1 (b = min(β, 0) = −1); h = [[1, 2], [3, 0]].
  // d = h·(r_e − r_pub) + b = [2 − 1 − 1, 0 − 3 − 1] = [0, −4]; boundary −3.
  // own:    mean softplus(−3 − d) = (softplus(−3) + softplus(1)) / 2 = (0.0485873516 + 1.3132616875) / 2
  // public: mean softplus(d + 3)  = (softplus(3) + softplus(−1)) / 2 = (3.0485873516 + 0.3132616875) / 2
  const router = tf.tensor2d([[1, 0], [0, 1]]);
  const expertBias = tf.tensor1d([0, -1]);
  const h = tf.tensor2d([[1, 2], [3, 0]]);
  const params = { layers: [{ router, expertBias }, { router, expertBias }] } as unknown as ModelParams; // two equal layers: the mean over layers is the one value
  const own = routerMarginLoss(params, [h, h], { expert: 1, side: "own", boundary: -3, weight: 1 });
  const pubSide = routerMarginLoss(params, [h, h], { expert: 1, side: "public", boundary: -3, weight: 1 });
  assert.ok(Math.abs(own.dataSync()[0] - 0.6809245196) < 1e-6, `own ${own.dataSync()[0]}`);
  assert.ok(Math.abs(pubSide.dataSync()[0] - 1.6809245196) < 1e-6, `public ${pubSide.dataSync()[0]}`);
  // d(own)/dβ_e = −mean σ(−3 − d) = −(σ(−3) + σ(1)) / 2 = −(0.0474258732 + 0.7310585786) / 2 = −0.3892422259;
  // d(own)/dr_e = −mean σ(−3 − d)·h = −[(0.0474258732 + 3·0.7310585786), 2·0.0474258732] / 2; d/dr_pub = the negative.
  const g = tf.grads((r: tf.Tensor, b: tf.Tensor, x: tf.Tensor) => routerMarginLoss({ layers: [{ router: r, expertBias: b }] } as unknown as ModelParams, [x as tf.Tensor2D], { expert: 1, side: "own", boundary: -3, weight: 1 }));
  const [gr, gb, gh] = g([router, expertBias, h]);
  const want = [1.1203008045, 0.0474258732];
  const rows = gr.arraySync() as number[][];
  rows[1].forEach((v, i) => assert.ok(Math.abs(v + want[i]) < 1e-6, `r_e[${i}] ${v}`));
  rows[0].forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `r_pub[${i}] ${v}`));
  const gbv = gb.dataSync();
  assert.equal(gbv[0], 0);
  assert.ok(Math.abs(gbv[1] + 0.3892422259) < 1e-6, `β_e ${gbv[1]}`);
  assert.deepEqual(Array.from(gh.dataSync()), [0, 0, 0, 0], "the router input is detached: no gradient to the trunk or the experts");
  // β ≥ 0: b = min(β, 0) = 0 passes no gradient, exactly as in the forward pass.
  const gPos = tf.grads((b: tf.Tensor) => routerMarginLoss({ layers: [{ router, expertBias: b }] } as unknown as ModelParams, [h], { expert: 1, side: "own", boundary: -3, weight: 1 }))([tf.tensor1d([0, 0.5])]);
  assert.ok(Array.from(gPos[0].dataSync()).every((v) => v === 0), "β ≥ 0 gets no gradient");
  tf.dispose([router, expertBias, h, own, pubSide, gr, gb, gh, ...gPos]);
});

test("trainingLoss adds weight × router margin loss, and an invalid routerMargin config is refused", () => {
  const cfg: ModelConfig = { ...MICRO, experts: ["public", "a"], topK: 2 };
  const p = initParams(cfg, 5);
  const ids = stream(2 * 9, cfg.vocabSize, 2);
  const inputs = tf.tensor2d(Array.from({ length: 2 }, (_, r) => Array.from(ids.subarray(r * 9, r * 9 + 8))), undefined, "int32");
  const targets = Int32Array.from({ length: 16 }, (_, i) => ids[Math.floor(i / 8) * 9 + (i % 8) + 1]);
  const [loss, ce, z, margin] = tf.tidy(() => {
    const r = trainingLoss(p, cfg, inputs, targets, { zLossWeight: 1e-3, lbLossWeight: 0, routerMargin: { expert: 1, side: "public", boundary: -3, weight: 0.7 } });
    return [r.loss, r.ce, r.z, r.margin].map((t) => t.dataSync()[0]);
  });
  assert.ok(margin > 0);
  assert.ok(Math.abs(loss - (ce + 1e-3 * z + 0.7 * margin)) < 1e-5);
  const off = tf.tidy(() => trainingLoss(p, cfg, inputs, targets, { zLossWeight: 1e-3, lbLossWeight: 0 }).margin.dataSync()[0]);
  assert.equal(off, 0);
  const bad = (routerMargin: unknown) => () => validateTrainConfig({ ...DEFAULT_TRAIN, routerMargin } as TrainConfig);
  assert.throws(bad({ expert: 0, side: "own", boundary: -3, weight: 1 }), /routerMargin.expert must be an owner expert index ≥ 1/);
  assert.throws(bad({ expert: 1, side: "mine", boundary: -3, weight: 1 }), /routerMargin.side must be "own" or "public"/);
  assert.throws(bad({ expert: 1, side: "own", boundary: Infinity, weight: 1 }), /routerMargin.boundary must be a finite number/);
  assert.throws(bad({ expert: 1, side: "own", boundary: -3, weight: -0.1 }), /routerMargin.weight must be ≥ 0 and finite/);
  inputs.dispose();
  disposeParams(p);
});

test("finite-difference check of the full training loss (CE + z-loss): dense soft mixture and sparse top-2 of 4 with a bias", () => {
  // float32 loss ≈ 3.5: central differences with h = 5e-3 have rounding noise ≈ 1e-7·3.5/5e-3 ≈ 1e-4,
  // so we test each tensor's largest gradient coordinate and allow 3% + 3e-4.
  const cases: Array<{ cfg: ModelConfig; picks: string[]; bias?: number }> = [
    {
      cfg: { ...MICRO, nLayers: 2 },
      picks: ["model.layers.0.mlp.gate.weight", "model.layers.1.mlp.experts.1.down_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_norm.weight", "model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"],
    },
    {
      // Sparse dispatch (gather → expert → scatter-add) and the bias path min(β, 0) with β < 0.
      cfg: { ...MICRO, experts: ["public", "a", "b", "c"], topK: 2 },
      picks: ["model.layers.0.mlp.gate.weight", "model.layers.0.mlp.expert_bias", "model.layers.0.mlp.experts.2.up_proj.weight", "lm_head.weight"],
      bias: -0.3,
    },
  ];
  for (const { cfg, picks, bias } of cases) {
    const p = initParams(cfg, 3);
    if (bias !== undefined) {
      p.layers.forEach((l) => {
        l.expertBias.dispose();
        l.expertBias = tf.tensor1d(cfg.experts.map((_, e) => (e === 0 ? 0 : bias * e)));
        // Sharper routing so no pair of experts is within the finite-difference step of a swap.
        const r = l.router;
        l.router = tf.mul(r, 40) as tf.Tensor2D;
        r.dispose();
      });
    }
    const ids = stream(2 * 9, cfg.vocabSize, 4);
    const inputs = tf.tensor2d(Array.from({ length: 2 }, (_, r) => Array.from(ids.subarray(r * 9, r * 9 + 8))), undefined, "int32");
    const targets = Int32Array.from({ length: 16 }, (_, i) => ids[Math.floor(i / 8) * 9 + (i % 8) + 1]);
    const w = { zLossWeight: 0.05, lbLossWeight: 0 }; // a larger z weight so the router's z-loss path is visible
    const entries = paramEntries(p).filter((e) => picks.includes(e.name));
    const lossOf = () => tf.tidy(() => trainingLoss(p, cfg, inputs, targets, w).loss.dataSync()[0]);
    const { grads } = tf.engine().gradients(() => trainingLoss(p, cfg, inputs, targets, w).loss, entries.map((e) => e.tensor));
    entries.forEach((e, i) => {
      const g = Array.from(grads[i].dataSync());
      const j = g.reduce((best, v, k) => (Math.abs(v) > Math.abs(g[best]) ? k : best), 0); // the largest coordinate
      assert.ok(Math.abs(g[j]) > 1e-3, `${e.name}: gradient too small to check (${g[j]})`);
      const base = e.tensor.dataSync().slice();
      const h = 5e-3;
      const at = (delta: number) => {
        const v = base.slice();
        v[j] += delta;
        const t = tf.tensor(v, e.tensor.shape);
        setByName(p, e.name, t);
        const l = lossOf();
        setByName(p, e.name, e.tensor); // restore the original tensor object
        t.dispose();
        return l;
      };
      const fd = (at(h) - at(-h)) / (2 * h);
      assert.ok(Math.abs(fd - g[j]) <= 0.03 * Math.abs(g[j]) + 3e-4, `${cfg.experts.length} experts, ${e.name}[${j}]: autodiff ${g[j]} vs finite difference ${fd}`);
    });
    tf.dispose([inputs, ...grads.filter((g): g is tf.Tensor => !!g)]);
    disposeParams(p);
  }
});

/** Replace one tensor of a params object by canonical name (test helper; does not dispose). */
function setByName(p: ModelParams, name: string, t: tf.Tensor): void {
  const m = name.match(/^model\.layers\.(\d+)\.(.*)$/);
  if (name === "model.embed_tokens.weight") p.embed = t as tf.Tensor2D;
  else if (name === "lm_head.weight") p.lmHead = t as tf.Tensor2D;
  else if (name === "model.norm.weight") p.norm = t as tf.Tensor1D;
  else if (m) {
    const l = p.layers[Number(m[1])];
    const rest = m[2];
    const ex = rest.match(/^mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/);
    if (ex) l.experts[Number(ex[1])][ex[2] as "gate" | "up" | "down"] = t as tf.Tensor2D;
    else {
      const key = ({ "self_attn.q_proj.weight": "q", "self_attn.k_proj.weight": "k", "self_attn.v_proj.weight": "v", "self_attn.o_proj.weight": "o", "self_attn.q_norm.weight": "qNorm", "self_attn.k_norm.weight": "kNorm", "post_attention_layernorm.weight": "postAttnNorm", "post_feedforward_layernorm.weight": "postFfnNorm", "mlp.gate.weight": "router", "mlp.expert_bias": "expertBias" } as Record<string, string>)[rest];
      (l as unknown as Record<string, tf.Tensor>)[key] = t;
    }
  }
}

test("owner training (FlexOlmo recipe): after 20 AdamW steps with weight decay on, every frozen tensor, router row 0 and bias entry 0 are bit-identical", async () => {
  const cfg: ModelConfig = { ...MICRO, nLayers: 2 };
  const p = initParams(cfg, 5);
  const before = snapshot(p);
  const spec = ownerExpertSpec(cfg, "owner");
  const tc: TrainConfig = { ...MICRO_TRAIN, weightDecay: 0.1, noDecay: [] }; // decay would move frozen weights if only gradients were masked
  const tr = new Trainer(p, cfg, tc, randomWindows(stream(500, cfg.vocabSize), tc.batchSize, tc.seqLen, 1), spec);
  await tr.steps(20);
  const after = snapshot(p);
  const C = cfg.dModel;
  for (const [name, v0] of before) {
    const v1 = after.get(name)!;
    if (/experts\.1\./.test(name)) {
      assert.notDeepEqual(v1, v0, `${name} should train`);
    } else if (/mlp\.gate\.weight$/.test(name)) {
      assert.deepEqual(v1.subarray(0, C), v0.subarray(0, C), `${name} row 0 (public) must be frozen`);
      assert.notDeepEqual(v1.subarray(C, 2 * C), v0.subarray(C, 2 * C), `${name} row 1 should train`);
    } else if (/expert_bias$/.test(name)) {
      assert.equal(v1[0], v0[0]);
    } else {
      assert.deepEqual(v1, v0, `${name} must be bit-identical`);
    }
  }
  assert.deepEqual(tr.trainable().map((t) => t.name).filter((n) => n.endsWith("gate.weight")), ["model.layers.0.mlp.gate.weight", "model.layers.1.mlp.gate.weight"]);
  tr.dispose();
  disposeParams(p);
});

test("tf.memory().numTensors stays flat across 200 training steps (sparse top-2 of 3, row-masked router)", async () => {
  const cfg: ModelConfig = { ...MICRO, experts: ["public", "a", "b"], topK: 2 };
  const p = initParams(cfg, 1);
  const tr = new Trainer(p, cfg, { ...MICRO_TRAIN, steps: 200 }, randomWindows(stream(300, cfg.vocabSize), 2, 8, 2), { rows: { "model.layers.*.mlp.gate.weight": [1, 2] } });
  await tr.steps(2);
  const n0 = tf.memory().numTensors;
  let maxSeen = n0;
  await tr.steps(198, { onProgress: () => (maxSeen = Math.max(maxSeen, tf.memory().numTensors)) });
  assert.equal(tf.memory().numTensors, n0);
  assert.equal(maxSeen, n0);
  tr.dispose();
  disposeParams(p);
});

test("training lowers the loss on a learnable stream, and the same seed gives bit-identical weights", async () => {
  const run = async () => {
    const p = initParams(MICRO, 9);
    const tr = new Trainer(p, MICRO, MICRO_TRAIN, randomWindows(stream(400, MICRO.vocabSize), 2, 8, MICRO_TRAIN.seed));
    const r = await tr.steps(40);
    tr.dispose();
    return { p, r };
  };
  const a = await run(), b = await run();
  const first = a.r.ces.slice(0, 5).reduce((s, v) => s + v, 0) / 5, last = a.r.ces.slice(-5).reduce((s, v) => s + v, 0) / 5;
  assert.ok(last < first - 0.5, `loss should fall: ${first.toFixed(3)} → ${last.toFixed(3)}`);
  assert.deepEqual(a.r.losses, b.r.losses);
  const sa = snapshot(a.p), sb = snapshot(b.p);
  for (const [n, v] of sa) assert.deepEqual(sb.get(n), v, n);
  disposeParams(a.p);
  disposeParams(b.p);
});

async function resumeCase(makeSource: () => BatchSource): Promise<void> {
  const tc: TrainConfig = { ...MICRO_TRAIN, steps: 10, warmupSteps: 3, weightDecay: 0.1 };
  const spec = ownerExpertSpec(MICRO, 1);
  // Straight: 10 steps.
  const p1 = initParams(MICRO, 4);
  const t1 = new Trainer(p1, MICRO, tc, makeSource(), spec);
  await t1.steps(10);
  // Interrupted: 5 steps, state, a NEW trainer (new source object, cloned params), 5 more.
  const p2 = initParams(MICRO, 4);
  const t2 = new Trainer(p2, MICRO, tc, makeSource(), spec);
  await t2.steps(5);
  const st = t2.state();
  t2.dispose();
  const t3 = Trainer.resume(p2, MICRO, makeSource(), st, spec);
  disposeTrainerState(st);
  assert.equal(t3.step, 5);
  await t3.steps(5);
  const a = snapshot(p1), b = snapshot(p2);
  for (const [n, v] of a) assert.deepEqual(b.get(n), v, `${n} differs after resume`);
  t1.dispose();
  t3.dispose();
  disposeParams(p1);
  disposeParams(p2);
}

test("resume: 10 steps straight == 5 steps, state → new trainer, 5 steps (bit-identical, resumable source)", async () => {
  await resumeCase(() => randomWindows(stream(400, MICRO.vocabSize), 2, 8, 3));
});

test("resume with a plain batch function: the trainer skips the batches already drawn", async () => {
  await resumeCase(() => {
    const src = randomWindows(stream(400, MICRO.vocabSize), 2, 8, 3);
    return () => src.next();
  });
});

test("abort stops cleanly at a step boundary and steps() can continue afterwards", async () => {
  const p = initParams(MICRO, 2);
  const tr = new Trainer(p, MICRO, MICRO_TRAIN, randomWindows(stream(400, MICRO.vocabSize), 2, 8, 0));
  const ac = new AbortController();
  const seen: number[] = [];
  const r = await tr.steps(10, { signal: ac.signal, onProgress: (q) => (seen.push(q.step), q.step === 3 && ac.abort()) });
  assert.equal(r.aborted, true);
  assert.equal(r.steps, 3);
  assert.equal(tr.step, 3);
  assert.deepEqual(seen, [1, 2, 3]);
  for (const e of paramEntries(p)) assert.ok(!e.tensor.isDisposed && e.tensor.dataSync().every(Number.isFinite), e.name);
  const r2 = await tr.steps(2);
  assert.equal(r2.step, 5);
  tr.dispose();
  disposeParams(p);
});

test("progress events carry loss parts, LR, tokens/s and routing shares per layer and expert", async () => {
  const cfg: ModelConfig = { ...MICRO, experts: ["public", "a", "b", "c"], topK: 2 };
  const p = initParams(cfg, 2);
  const tr = new Trainer(p, cfg, { ...MICRO_TRAIN, lbLossWeight: 0.01 }, randomWindows(stream(400, cfg.vocabSize), 2, 8, 0));
  const events: StepProgress[] = [];
  await tr.steps(2, { onProgress: (q) => events.push(q) });
  const last = events[1];
  assert.ok(last);
  assert.equal(last.step, 2);
  assert.equal(last.tokens, 16);
  assert.ok(last.tokensPerSec > 0 && last.zLoss > 0 && last.lbLoss > 0);
  assert.ok(Math.abs(last.loss - (last.ce + DEFAULT_TRAIN.zLossWeight * last.zLoss + 0.01 * last.lbLoss)) < 1e-5);
  assert.equal(last.lr, lrAt(1, MICRO_TRAIN));
  const share = last.routing!.share;
  assert.equal(share.length, cfg.nLayers);
  share.forEach((row) => assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-9)); // top-k slots are all accounted for
  tr.dispose();
  disposeParams(p);
});

test("clear errors: bad freeze specs, configs, batches and mismatched resume", async () => {
  const p = initParams(MICRO, 0);
  const src = () => randomWindows(stream(100, MICRO.vocabSize), 2, 8, 0);
  assert.throws(() => resolveTrainable(p, { trainable: ["model.layers.*.mlp.experts.7.*"] }), /matches no parameter/);
  assert.throws(() => resolveTrainable(p, { rows: { "model.layers.*.mlp.gate.weight": [2] } }), /row 2 is out of range/);
  assert.throws(() => resolveTrainable(p, { masks: { "lm_head.weight": [1, 0] } }), /has 2 entries but the tensor has/);
  assert.throws(() => resolveTrainable(p, { trainable: () => false }), /No parameter is trainable/);
  assert.throws(() => ownerExpertSpec(MICRO, 0), /public expert/);
  assert.throws(() => validateTrainConfig({ ...DEFAULT_TRAIN, lr: -1 }), /lr must be > 0/);
  assert.throws(() => new Trainer(p, MICRO, { ...DEFAULT_TRAIN, batchSize: 0 }, src()), /batchSize must be a positive integer/);
  const bad = (b: Batch) => new Trainer(p, MICRO, MICRO_TRAIN, () => b);
  await assert.rejects(() => bad({ ids: new Int32Array(5), batchSize: 2, seqLen: 8 }).steps(1), /expected batchSize·\(seqLen\+1\)/);
  await assert.rejects(() => bad({ ids: new Int32Array(18).fill(40), batchSize: 2, seqLen: 8 }).steps(1), /outside \[0, 32\)/);
  const tr = new Trainer(p, MICRO, MICRO_TRAIN, src(), ownerExpertSpec(MICRO, 1));
  await tr.steps(1);
  const st = tr.state();
  assert.throws(() => new Trainer(p, MICRO, MICRO_TRAIN, src(), { resume: st }), /different trainable set/);
  disposeTrainerState(st);
  tr.dispose();
  disposeParams(p);
});

test("masks and excluded experts: an element mask trains only its elements; an excluded trainable expert just gets no update", async () => {
  const cfg: ModelConfig = { ...MICRO, experts: ["public", "a", "b"], topK: 1 };
  const p = initParams(cfg, 6);
  const before = snapshot(p);
  const mask = new Array(16 * 32).fill(0);
  mask[5] = 1;
  const tr = new Trainer(p, cfg, { ...MICRO_TRAIN, include: [true, true, false], topK: 1 }, randomWindows(stream(200, cfg.vocabSize), 2, 8, 0), {
    trainable: ["model.layers.0.mlp.experts.2.*"],
    masks: { "lm_head.weight": mask },
  });
  await tr.steps(3);
  const after = snapshot(p);
  const h0 = before.get("lm_head.weight")!, h1 = after.get("lm_head.weight")!;
  h0.forEach((v, i) => (i === 5 ? assert.notEqual(h1[i], v) : assert.equal(h1[i], v)));
  assert.deepEqual(after.get("model.layers.0.mlp.experts.2.up_proj.weight"), before.get("model.layers.0.mlp.experts.2.up_proj.weight"));
  tr.dispose();
  disposeParams(p);
});

test("wasm backend: a few training steps give the same losses as cpu (to float tolerance)", async () => {
  const losses: number[][] = [];
  for (const be of ["cpu", "wasm"] as const) {
    await initBackend(be);
    const p = initParams(MICRO, 8);
    const tr = new Trainer(p, MICRO, MICRO_TRAIN, randomWindows(stream(300, MICRO.vocabSize), 2, 8, 5), ownerExpertSpec(MICRO, 1));
    losses.push((await tr.steps(4)).losses);
    tr.dispose();
    disposeParams(p);
  }
  await initBackend("cpu");
  losses[0].forEach((l, i) => assert.ok(Math.abs(l - losses[1][i]) < 1e-4, `step ${i}: ${l} vs ${losses[1][i]}`));
});

test("device routing in the trainer (what webgpu runs: top-k on the device, one asynchronous read per step) gives the host path's losses, shares and load-balancing loss; tensors stay flat", async () => {
  const cfg: ModelConfig = { ...MICRO, experts: ["public", "a", "b", "c"], topK: 2 };
  const run = async (routing: "host" | "device") => {
    const saved = process.env.FLEXOLMO_ROUTING;
    process.env.FLEXOLMO_ROUTING = routing;
    try {
      const p = initParams(cfg, 2);
      const tr = new Trainer(p, cfg, { ...MICRO_TRAIN, lbLossWeight: 0.01 }, randomWindows(stream(400, cfg.vocabSize), 2, 8, 0));
      const events: StepProgress[] = [];
      await tr.steps(2, { onProgress: (q) => events.push(q) });
      const n0 = tf.memory().numTensors;
      await tr.steps(6, { onProgress: (q) => events.push(q) });
      assert.equal(tf.memory().numTensors, n0, `${routing}: live tensors grew`);
      tr.dispose();
      disposeParams(p);
      return events;
    } finally {
      if (saved === undefined) delete process.env.FLEXOLMO_ROUTING;
      else process.env.FLEXOLMO_ROUTING = saved;
    }
  };
  const host = await run("host"), device = await run("device");
  // The host path dispatches sparsely (each expert on its own tokens), the device path densely: the
  // same sums in another order, so equal to float rounding, not bit for bit. Step 1 starts from the
  // same weights (tight); later steps carry the rounding through the updates (looser).
  host.forEach((h, i) => {
    const d = device[i];
    const tol = i === 0 ? 1e-5 : 2e-2;
    // (After step 1 a token whose top-2 flips moves the gradient by a few %: compare the loss only.)
    for (const k of i === 0 ? (["loss", "ce", "zLoss", "lbLoss", "gradNorm"] as const) : (["loss", "ce"] as const)) assert.ok(Math.abs(h[k] - d[k]) <= tol * Math.abs(h[k]) + 1e-7, `step ${h.step} ${k}: host ${h[k]} vs device ${d[k]}`);
    if (i > 0) return;
    h.routing!.share.forEach((row, l) => row.forEach((v, e) => assert.ok(Math.abs(v - d.routing!.share[l][e]) < 1e-6, `step ${h.step} layer ${l} expert ${e} share`)));
    h.routing!.meanProb.forEach((row, l) => row.forEach((v, e) => assert.ok(Math.abs(v - d.routing!.meanProb[l][e]) < 1e-6, `step ${h.step} layer ${l} expert ${e} mean prob`)));
  });
  assert.equal(device.length, 8);
  assert.ok(device.every((d) => d.lbLoss > 0));
});
