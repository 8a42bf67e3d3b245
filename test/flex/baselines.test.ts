/**
 * The baselines at the `tiny` preset on the shipped corpus: each builds, evaluates to finite and
 * reproducible numbers, and satisfies the identity that defines it (a soup of identical models is
 * that model; BTM of one model is that model; BTX of identical experts with all experts active is
 * the dense model). Bad input gets clear errors.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { flex, FlexModel, Lab, PublicModel } from "../../lib/flex";
import { baselines, DenseExpert } from "../../lib/flex/baselines";
import { tensorHash } from "../../lib/flex/merge";
import { initParams, disposeParams } from "../../lib/model/model";
import type { DomainClassifier } from "../../lib/data/classifier";
import { evaluateWindows } from "../../lib/flex/evaluate";

let lab: Lab;
let pub: PublicModel;
let math: DenseExpert;
let code: DenseExpert;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-baselines-"));
const EVAL = { domains: ["math", "public"], maxWindows: 3, batchSize: 3 } as const;
const IDS = [[5, 9, 100, 7, 3, 2, 11, 40, 8, 13]];

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 4, backend: "cpu", train: { batchSize: 4 } });
  pub = await lab.publicModel();
  await pub.train({ steps: 20 });
  math = await baselines.denseExpert(lab, pub, "math", { steps: 8 });
  code = await baselines.denseExpert(lab, pub, "code", { steps: 4 });
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function logits(m: FlexModel, ids = IDS): Float32Array {
  const x = tf.tensor2d(ids, undefined, "int32");
  const out = tf.tidy(() => m.logits(x).dataSync() as Float32Array).slice();
  x.dispose();
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function pplOf(r: { rows: { ppl: number }[] }): number[] {
  return r.rows.map((x) => x.ppl);
}

function assertFinite(r: { rows: { ppl: number; domain: string }[] }): void {
  for (const row of r.rows) assert.ok(Number.isFinite(row.ppl) && row.ppl > 1, `${row.domain}: ${row.ppl}`);
}

test("dense expert: every parameter trains, on the owner's batches, and its domain's perplexity drops", async () => {
  // Trunk and FFN both moved (no coordination: nothing is frozen).
  assert.notEqual(tensorHash(math.params.embed), tensorHash(pub.params.embed));
  assert.notEqual(tensorHash(math.params.layers[0].experts[0].up), tensorHash(pub.params.layers[0].experts[0].up));
  assert.equal(math.tokensSeen, 8 * 4 * lab.trainConfig.seqLen);
  const before = await pub.model().evaluate(EVAL);
  const after = await math.evaluate(EVAL);
  assert.ok(after.ppl("math") < before.ppl("math"), `dense ${after.ppl("math")} vs public ${before.ppl("math")}`);
  // Same seed, same steps ⇒ the same weights, bit for bit.
  const again = await baselines.denseExpert(lab, pub, "math", { steps: 8 });
  assert.equal(tensorHash(again.params.layers[1].q), tensorHash(math.params.layers[1].q));
  assert.deepEqual(pplOf(await again.evaluate(EVAL)), pplOf(after));
  // It reads the same windows as the FlexOlmo owner of its domain: the first batch's cross-entropy
  // matches the owner's (both start from the public model, and an owner's two equal FFNs with
  // weights summing to 1 compute the public model's function at step 0, up to rounding).
  const owner = lab.owner("code", { from: pub, docs: 20 });
  let ceOwner = NaN, ceDense = NaN;
  await owner.train({ steps: 1, onProgress: (p) => (ceOwner = p.ce) });
  const fresh = await baselines.denseExpert(lab, pub, "code");
  await fresh.train({ steps: 1, onProgress: (p) => (ceDense = p.ce) });
  assert.ok(Math.abs(ceOwner - ceDense) < 1e-4 * ceDense, `owner ${ceOwner} vs dense ${ceDense}`);
  [owner, fresh, again].forEach((x) => x.dispose());
});

test("naive merge: public trunk kept bit-identical, dense FFNs stacked, rows from domain embeddings", async () => {
  const m = await baselines.naiveMerge(pub, [math, code], { docs: 20 });
  assert.deepEqual(m.experts, ["public", "math", "code"]);
  assert.equal(m.view.topK, 2); // half of 3, rounded up, as flex.merge
  assert.equal(tensorHash(m.params.layers[0].q), tensorHash(pub.params.layers[0].q));
  assert.equal(tensorHash(m.params.lmHead), tensorHash(pub.params.lmHead));
  assert.equal(tensorHash(m.params.layers[1].experts[1].down), tensorHash(math.params.layers[1].experts[0].down));
  const e = await lab.embed("code", { docs: 20 });
  const row2 = tf.tidy(() => m.params.layers[1].router.slice([2, 0], [1, -1]).dataSync());
  assert.deepEqual(Array.from(row2), Array.from(e.vector));
  assert.equal(m.optOut, "exact");
  // With only the public expert, it IS the public model (same trunk, weight exactly 1 on the public FFN).
  assert.equal(maxAbsDiff(logits(m.only(["public"])), logits(pub.model())), 0);
  assertFinite(await m.evaluate(EVAL));
  // The averaged trunk is the mean of the three trunks (checked element-wise against a hand mean).
  const avg = await baselines.naiveMerge(pub, [math, code], { docs: 20, trunk: "average" });
  const [a, p, x, y] = [avg, pub, math, code].map((s) => (s.params.layers[0].kNorm.dataSync() as Float32Array).slice(0, 4));
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(a[i] - (p[i] + x[i] + y[i]) / 3) < 1e-6);
  assert.equal(avg.optOut, "approximate");
  disposeParams(avg.params);
  disposeParams(m.params);
});

test("soup: of identical models it is the model; weights (1, 0, 0) pick the first; mixed soups are finite and reproducible", async () => {
  const twin = pub.model().named("public twin");
  // ½θ + ½θ = θ exactly in binary floating point.
  const s2 = baselines.soup([pub, twin]);
  assert.equal(maxAbsDiff(logits(s2), logits(pub.model())), 0);
  // (1/3)θ three times rounds: equal to float32 tolerance only.
  const s3 = baselines.soup([pub, twin, pub.model().named("third")]);
  assert.ok(maxAbsDiff(logits(s3), logits(pub.model())) < 1e-4);
  const pick = baselines.soup([math, pub, code], { weights: [1, 0, 0] });
  assert.equal(maxAbsDiff(logits(pick), logits(math.model())), 0);
  const s = baselines.soup([pub, math, code]);
  assert.equal(s.label, "soup (uniform)");
  assert.deepEqual(s.experts, ["soup"]);
  const r1 = await s.evaluate(EVAL);
  assertFinite(r1);
  assert.deepEqual(pplOf(await baselines.soup([pub, math, code]).evaluate(EVAL)), pplOf(r1));
  [s2, s3, pick, s].forEach((x) => disposeParams(x.params));
});

test("likelihood soup: identical members give the model; the domain's own expert gets the most weight", async () => {
  const same = baselines.likelihoodSoup([pub, pub.model().named("public twin")]);
  const a = await same.evaluate(EVAL);
  const b = await pub.model().evaluate(EVAL);
  // Per-window souping recomputes the same weights, but its NLL is summed per row instead of via
  // the batched cross-entropy: equal up to float32 rounding.
  a.rows.forEach((r, i) => assert.ok(Math.abs(r.ppl - b.rows[i].ppl) < 1e-4 * b.rows[i].ppl, `${r.ppl} vs ${b.rows[i].ppl}`));
  same.dispose();
  const ls = baselines.likelihoodSoup([pub, math, code]);
  const text = lab.sampleDocuments("math", 1)[0].text;
  const w = await ls.weights(lab.data.tokenizer.encode(text).slice(0, 40));
  assert.ok(Math.abs(w.reduce((s, x) => s + x, 0) - 1) < 1e-9);
  assert.ok(w[1] > w[0] && w[1] > w[2], `weights ${w}`);
  const r = await ls.evaluate(EVAL);
  assertFinite(r);
  assert.deepEqual(pplOf(await ls.evaluate(EVAL)), pplOf(r));
  const g1 = await ls.generate("Problem 3.", { maxTokens: 5, seed: 2 });
  const g2 = await ls.generate("Problem 3.", { maxTokens: 5, seed: 2 });
  assert.equal(g1.completion, g2.completion);
  ls.dispose();
});

test("BTM: one member is that member; weights follow the prefix likelihood (hand-worked); probs ≠ logits", async () => {
  for (const combine of ["probs", "logits"] as const) {
    const one = baselines.btm([math], { combine });
    const a = await one.evaluate(EVAL);
    const b = await math.evaluate(EVAL);
    a.rows.forEach((r, i) => assert.ok(Math.abs(r.ppl - b.rows[i].ppl) < 1e-4 * b.rows[i].ppl, `${combine}: ${r.ppl} vs ${b.rows[i].ppl}`));
    one.dispose();
  }
  // Two members, T = 3, τ = 1, likelihood "sum". Hand-worked: position 0 has no prefix → ½, ½.
  // Position 1: NLLs 1 and 2 → w₀ = e⁻¹/(e⁻¹ + e⁻²) = 1/(1 + e⁻¹) = 0.731059.
  // Position 2: NLLs 1+1 = 2 and 2+0.5 = 2.5 → w₀ = 1/(1 + e^−0.5) = 0.622459.
  const btm = baselines.btm([pub, math], { topK: 2 });
  const w = btm.positionWeights([Float32Array.from([-1, -1, -1]), Float32Array.from([-2, -0.5, -3])], 1, 3);
  assert.deepEqual(Array.from(w[0]), [0.5, 0.5]);
  assert.ok(Math.abs(w[1][0] - 0.731059) < 1e-6);
  assert.ok(Math.abs(w[2][0] - 0.622459) < 1e-6);
  // No target leaks into its own weight: changing the target at position 1 leaves w[0], w[1] alone.
  const w2 = btm.positionWeights([Float32Array.from([-1, -9, -1]), Float32Array.from([-2, -0.5, -3])], 1, 3);
  assert.deepEqual([Array.from(w2[0]), Array.from(w2[1])], [Array.from(w[0]), Array.from(w[1])]);
  assert.notDeepEqual(Array.from(w2[2]), Array.from(w[2]));
  // top-1: all weight on the better prefix.
  const top1 = baselines.btm([pub, math], { topK: 1 }).positionWeights([Float32Array.from([-1, -1, -1]), Float32Array.from([-2, -0.5, -3])], 1, 3);
  assert.deepEqual(Array.from(top1[1]), [1, 0]);
  btm.dispose();
  const full = baselines.btm([pub, math, code]);
  assert.equal(full.label, "BTM (top-2)");
  const p = await full.evaluate(EVAL);
  assertFinite(p);
  assert.deepEqual(pplOf(await full.evaluate(EVAL)), pplOf(p));
  const lg = baselines.btm([pub, math, code], { combine: "logits" });
  const q = await lg.evaluate(EVAL);
  assertFinite(q);
  assert.notDeepEqual(pplOf(q), pplOf(p));
  const att = await full.attribution("Solve 3x + 2 = 11. Subtract 2 from both sides.");
  for (const row of att.shares) assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-9 && row.filter((x) => x > 0).length <= 2);
  const g1 = await full.generate("Problem 1.", { maxTokens: 6, seed: 3 });
  assert.equal((await full.generate("Problem 1.", { maxTokens: 6, seed: 3 })).completion, g1.completion);
  // Opt-out: drop a member (exact: members never saw each other's closed data).
  const noMath = full.without("dense:math");
  assert.deepEqual(noMath.experts, ["public", "dense:code"]);
  assert.equal(noMath.optOut, "exact");
  [noMath, lg, full].forEach((x) => x.dispose());
});

test("windowed evaluation hands each row only the text before its first target (no target leaks)", async () => {
  const seen: Array<{ ctx: Int32Array; first: number }> = [];
  const r = await evaluateWindows(
    {
      label: "probe",
      experts: [],
      optOut: "exact",
      data: lab.data,
      maxSeqLen: 64,
      defaultDomains: () => ["math"],
      score: async (b) => {
        for (let i = 0; i < b.B; i++) seen.push({ ctx: b.contexts[i].slice(), first: b.inputs[i * b.T] });
        return b.B * b.T; // 1 nat per token ⇒ ppl e
      },
    },
    { domains: ["math"], maxWindows: 4, batchSize: 3 },
  );
  assert.ok(Math.abs(r.ppl("math") - Math.E) < 1e-12);
  assert.equal(seen.length, 4);
  const T = lab.trainConfig.seqLen;
  for (const s of seen) {
    // The context ends with the window's first input (a token every causal model already sees)…
    assert.equal(s.ctx[s.ctx.length - 1], s.first);
    // …and is either just that token (the stream's first window) or the previous window's T + 1 tokens.
    assert.ok(s.ctx.length === 1 || s.ctx.length === T + 1, `context of ${s.ctx.length} tokens`);
  }
  assert.equal(seen[0].ctx.length, 1);
});

test("BTX: identical experts and the averaged identical trunks equal the dense model when all experts are active", async () => {
  const copyA = await baselines.denseExpert(lab, pub, "math"); // 0 steps: copies of the public model
  const copyB = await baselines.denseExpert(lab, pub, "code");
  // All three FFNs equal, so y = (Σ_j p_j) FFN(h). This is the dense model only when the weights
  // sum to 1: k = E (softmax over all experts). With k < E and no renormalisation Σ p_j < 1 — not an
  // identity (post-norm hides most of the scale, through eps only, but not bit for bit).
  const b = await baselines.btx(pub, [copyA, copyB], { steps: 0, k: 3, docs: 20 });
  const exact = maxAbsDiff(logits(b.model()), logits(pub.model()));
  assert.ok(exact < 2e-6, `k = E: ${exact}`); // float32 rounding of the 1/3 trunk average and of Σp = 1 (logits are O(1))
  const top1 = await baselines.btx(pub, [copyA, copyB], { steps: 0, k: 1, docs: 20 });
  const off = maxAbsDiff(logits(top1.model()), logits(pub.model()));
  assert.ok(off > 10 * exact, `k = 1 should not be an identity: ${off} vs ${exact}`);
  [b, top1].forEach((x) => x.dispose());
  // Router training on public data: only router rows move; reproducible.
  const t1 = await baselines.btx(pub, [math, code], { steps: 3, docs: 20 });
  const t2 = await baselines.btx(pub, [math, code], { steps: 3, docs: 20 });
  const up = await baselines.btx(pub, [math, code], { steps: 0, docs: 20 });
  assert.notEqual(tensorHash(t1.params.layers[0].router), tensorHash(up.params.layers[0].router));
  assert.equal(tensorHash(t1.params.layers[0].q), tensorHash(up.params.layers[0].q));
  assert.equal(tensorHash(t1.params.layers[1].experts[2].gate), tensorHash(up.params.layers[1].experts[2].gate));
  assert.equal(tensorHash(t1.params.layers[0].router), tensorHash(t2.params.layers[0].router));
  const r = await t1.evaluate(EVAL);
  assertFinite(r);
  assert.deepEqual(pplOf(await t2.evaluate(EVAL)), pplOf(r));
  assert.equal(t1.model().optOut, "approximate");
  // "all": the trunk trains too.
  const all = await baselines.btx(pub, [math, code], { steps: 1, train: "all", docs: 20 });
  assert.notEqual(tensorHash(all.params.layers[0].q), tensorHash(up.params.layers[0].q));
  [copyA, copyB, t1, t2, up, all].forEach((x) => x.dispose());
});

test("prompt routing: the classifier picks the domain's expert, public text goes to the public model", async () => {
  const pr = baselines.promptRouting(pub, [math]);
  assert.deepEqual((await pr.route(lab.sampleDocuments("math", 1)[0].text)).member, 1);
  assert.deepEqual((await pr.route(lab.sampleDocuments("public", 3).map((d) => d.text).join("\n"))).member, 0);
  // Code text has no expert here: the public model answers.
  assert.deepEqual((await pr.route(lab.sampleDocuments("code", 1)[0].text)).member, 0);
  const r = await pr.evaluate(EVAL);
  assertFinite(r);
  assert.deepEqual(pplOf(await pr.evaluate(EVAL)), pplOf(r));
  // A classifier that always says "math" routes every window to the math expert: exactly its numbers.
  const always = { classify: () => ({ domain: "math", scores: {}, logProbs: {} }), domains: ["math"] } as unknown as DomainClassifier;
  const forced = baselines.promptRouting(pub, [math], { classifier: always });
  const f = await forced.evaluate(EVAL);
  const d = await math.evaluate(EVAL);
  f.rows.forEach((row, i) => assert.ok(Math.abs(row.ppl - d.rows[i].ppl) < 1e-4 * d.rows[i].ppl));
  const g = await pr.generate("Solve 3x + 2 = 11.", { maxTokens: 4, seed: 1 });
  assert.match(g.model, /→ dense:math/);
  [pr, forced].forEach((x) => x.dispose());
});

test("unrestricted MoE: budgets match the owners' FLOPs or data (hand-computed active parameters)", () => {
  // tiny: C = 32, 2 layers, 2 heads of 16, F = 96, V = the tokenizer's. Per layer: attention
  // 4·32·32 = 4096, one FFN 3·32·96 = 9216, one router row 32. Head: 32·V.
  const V = lab.modelConfig.vocabSize;
  const aOwner = 2 * (4096 + 2 * 32 + 2 * 9216) + 32 * V; // 2 experts, both active
  const aMoe = 2 * (4096 + 3 * 32 + 2 * 9216) + 32 * V; // 3 experts, k = 2
  const flops = baselines.unrestrictedBudget(lab, ["math", "code"], { ownerSteps: 50, match: "flops" });
  assert.equal(flops.ownerActiveParams, aOwner);
  assert.equal(flops.activeParams, aMoe);
  assert.equal(flops.steps, Math.round((100 * aOwner) / aMoe));
  assert.ok(Math.abs(flops.flopsRatio - 1) < 0.01);
  const data = baselines.unrestrictedBudget(lab, ["math", "code"], { ownerSteps: 50, match: "data" });
  assert.equal(data.steps, 150); // 50 + 50 closed, + the mean owner's 50 of public
  assert.equal(data.dataRatio, 1);
  assert.deepEqual(data.mix, { public: 50, math: 50, code: 50 });
  assert.ok(flops.dataRatio < 1 && data.flopsRatio > 1);
});

test("unrestricted MoE: trains every parameter on the pool; same seed ⇒ same numbers", async () => {
  const a = await baselines.unrestrictedMoE(lab, pub, ["math"], { ownerSteps: 2, match: "data", docs: 20 });
  assert.equal(a.step, 4); // the owner's 2 steps of math + the mean owner's share (2) of public
  assert.deepEqual(a.model().experts, ["public", "math"]);
  assert.notEqual(tensorHash(a.params.layers[0].experts[0].up), tensorHash(a.params.layers[0].experts[1].up)); // copies diverged
  assert.notEqual(tensorHash(a.params.embed), tensorHash(pub.params.embed));
  const b = await baselines.unrestrictedMoE(lab, pub, ["math"], { ownerSteps: 2, match: "data", docs: 20 });
  const ra = await a.evaluate(EVAL);
  assertFinite(ra);
  assert.deepEqual(pplOf(await b.evaluate(EVAL)), pplOf(ra));
  assert.equal(a.model().optOut, "approximate");
  a.dispose();
  b.dispose();
});

test("FlexOlmo ablations are flags of the pipeline: five labelled models from one public model", async () => {
  const v = await baselines.flexolmoVariants(lab, pub, ["math"], { steps: 3, rtSteps: 2, docs: 20, proxyDocs: 4 });
  assert.deepEqual(v.list.map((m) => m.label), ["FlexOlmo (no RT)", "FlexOlmo (RT)", "− no bias", "− no domain-emb init, no bias", "− public-model emb init"]);
  const bias = (m: FlexModel) => Array.from(m.params.layers[0].expertBias.dataSync());
  assert.deepEqual(bias(v.models.noBias!), [0, 0]); // β fixed at 0
  assert.ok(bias(v.models.flexolmo!)[1] < 0); // β₀ = −1, trained
  assert.equal(v.models.rt!.optOut, "approximate");
  assert.equal(v.models.flexolmo!.optOut, "exact");
  const r = await v.models.randomInit!.evaluate(EVAL);
  assertFinite(r);
  v.list.forEach((m) => m.dispose()); // each variant owns its tensors (merge and tuneRouter return owning models)
  assert.throws(() => tf.tidy(() => v.models.flexolmo!.logits(tf.tensor2d([[1, 2]], [1, 2], "int32"))), /disposed/);
});

test("save and reopen: an ensemble and a soup give the same numbers after a round trip", async () => {
  const btm = baselines.btm([pub, math]);
  const dir = path.join(tmp, "btm");
  await btm.save(dir);
  const back = await baselines.loadEnsemble(dir, lab);
  assert.equal(back.label, btm.label);
  assert.deepEqual(pplOf(await back.evaluate(EVAL)), pplOf(await btm.evaluate(EVAL)));
  const s = baselines.soup([pub, math]);
  await s.save(path.join(tmp, "soup"));
  const s2 = await baselines.loadFlexModel(path.join(tmp, "soup"), lab);
  assert.equal(s2.label, "soup (uniform)");
  assert.equal(maxAbsDiff(logits(s2), logits(s)), 0);
  assert.equal(s2.optOut, "approximate");
  [btm, back].forEach((x) => x.dispose());
  [s, s2].forEach((x) => disposeParams(x.params));
  await assert.rejects(() => baselines.loadEnsemble(path.join(tmp, "soup"), lab), /no ensemble\.json/);
});

test("bad input: clear errors", async () => {
  const other = { ...lab.modelConfig, dModel: 16, nHeads: 2, nKvHeads: 2 };
  const small = new FlexModel({ config: other, params: initParams(other, 0), provenance: { kind: "public", routerTuned: false }, label: "small" });
  assert.throws(() => baselines.soup([pub, small]), /soup: "small" does not match "public" \(dModel 16 vs 32\)/);
  assert.throws(() => baselines.soup([]), /at least one model/);
  assert.throws(() => baselines.btm([]), /at least one model/);
  assert.throws(() => baselines.likelihoodSoup([pub, small]), /dModel 16 vs 32/);
  const otherVocab = { ...lab.modelConfig, vocabSize: 100 };
  const tinyVocab = new FlexModel({ config: otherVocab, params: initParams(otherVocab, 0), provenance: { kind: "public", routerTuned: false }, label: "v100" });
  assert.throws(() => baselines.btm([pub, tinyVocab]), /btm: "v100" does not match "public" \(vocabSize 100/);
  assert.throws(() => baselines.btm([pub, pub]), /two models are labelled "public"/);
  assert.throws(() => baselines.btm([pub], { combine: "mean" as never }), /combine must be "probs" or "logits"/);
  assert.throws(() => baselines.btm([pub], { tau: 0 }), /tau must be a positive number/);
  await assert.rejects(() => baselines.denseExpert(lab, pub, "cooking"), /Unknown domain "cooking"/);
  await assert.rejects(() => baselines.denseExpert(lab, pub, "public"), /public model itself/);
  await assert.rejects(() => baselines.naiveMerge(pub, []), /at least one dense expert/);
  await assert.rejects(() => baselines.naiveMerge(pub, [small]), /does not match "public"/);
  const moe = await baselines.naiveMerge(pub, [math], { docs: 20 });
  await assert.rejects(() => baselines.btx(pub, [moe]), /stacks DENSE experts/);
  await assert.rejects(() => baselines.naiveMerge(pub, [math], { trunk: "mean" as never }), /trunk must be "public" or "average"/);
  assert.throws(() => baselines.unrestrictedBudget(lab, ["cooking"], { ownerSteps: 1, match: "data" }), /Unknown domain "cooking"/);
  assert.throws(() => baselines.unrestrictedBudget(lab, ["math"], { ownerSteps: 0, match: "data" }), /ownerSteps for "math" must be a positive integer/);
  assert.throws(() => baselines.unrestrictedBudget(lab, ["math"], { ownerSteps: 5, match: "tokens" as never }), /match must be "flops" or "data"/);
  await assert.rejects(() => baselines.flexolmoVariants(lab, pub, ["cooking"], { steps: 1 }), /Unknown domain "cooking"/);
  await assert.rejects(() => baselines.flexolmoVariants(lab, pub, ["math"], { steps: 1, only: ["rt"] }), /needs rtSteps > 0/);
  const pr = baselines.promptRouting(pub, [math]);
  assert.throws(() => pr.without("public"), /cannot be dropped/);
  assert.throws(() => pr.without("dense:code"), /unknown member "dense:code"/);
  await assert.rejects(() => pr.evaluate({ domains: ["cooking"] }), /Unknown domain "cooking"/);
  pr.dispose();
  [small, tinyVocab, moe].forEach((m) => disposeParams(m.params));
});
