/**
 * The inspection views on a real (tiny) FlexOlmo model: every number a view reports is checked
 * against an independent route to the same number (a direct evaluate, a direct telemetry pass, a
 * hand-built degenerate router), and masks are respected.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "../../lib/tf";
import { flex, FlexModel, type Lab, type OwnerExpert, type PublicModel } from "../../lib/flex";
import { DISPLAY, PLOTLY_MIME } from "../../lib/display";
import * as inspect from "../../lib/inspect";

let lab: Lab;
let pub: PublicModel;
let owners: OwnerExpert[];
let model: FlexModel;
const EVAL = { maxWindows: 2, batchSize: 2 };
const SAMPLE = { maxWindows: 2, seqLen: 16 };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-inspect-"));

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 5, backend: "cpu", train: { batchSize: 2 } });
  pub = await lab.publicModel();
  await pub.train({ steps: 6 });
  owners = [];
  for (const d of ["math", "code"]) {
    const o = lab.owner(d, { from: pub, docs: 20 });
    await o.train({ steps: 3 });
    owners.push(o);
  }
  model = await flex.merge(pub, owners, { k: 2 });
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("routeTokens: per layer, the top-k equals a direct telemetry pass; opted-out experts never appear", async () => {
  const text = "Solve 3x + 2 = 11.";
  const r = await inspect.routeTokens(model, text, { layers: "all" });
  const tel = await inspect.telemetryOf(model, r.ids);
  for (const l of r.layers) assert.deepEqual(r.topk[l].flat(), Array.from(tel.layers[l].topkIdx));
  assert.deepEqual((await inspect.routeTokens(model, text)).layers, [0, 1]); // default: first, middle, last (2 layers: 0 and 1)
  const masked = await inspect.routeTokens(model.without("math"), text);
  for (const l of masked.layers) assert.ok(!masked.top1(l).includes("math"));
  for (const l of masked.layers) for (const p of masked.probs[l]) assert.equal(p[1], 0);
  const b = masked[DISPLAY]();
  assert.deepEqual(Object.keys(b).sort(), ["text/html", "text/plain"]);
  assert.match(String(b["text/html"]), /title="L0: /);
  await assert.rejects(() => inspect.routeTokens(model, ""), /empty after tokenisation/);
});

test("routing by domain: fractions sum to k per layer; a one-expert view sends everything to it", async () => {
  const report = await inspect.routing(model, { domains: ["math", "public"], ...SAMPLE });
  const shares = report.byDomain({ layers: "all" });
  assert.equal(shares.uniform, 2 / 3);
  for (const d of shares.fractions) for (const layer of d) assert.ok(Math.abs(layer.reduce((a, b) => a + b) - 2) < 1e-12);
  const only = (await inspect.routing(model.only(["public"]), { domains: ["math"], ...SAMPLE })).byDomain({ layers: "all" });
  for (const layer of only.fractions[0]) assert.deepEqual(layer, [1, 0, 0]);
  const b = shares[DISPLAY]();
  assert.ok(b[PLOTLY_MIME] && b["text/html"]);
  // Co-activation: the diagonal counts equal the selection counts behind the shares.
  const co = report.coactivation({ layers: [0] });
  const tokens = report.sample.domains.reduce((a, d) => a + d.tokens, 0);
  for (let j = 0; j < 3; j++) {
    const sel = report.sample.domains.reduce((a, d) => a + d.selected[0][j], 0);
    assert.equal(co.counts[0][j][j], sel);
  }
  assert.equal(co.tokens, tokens);
  const v = report.vocabulary({ layer: 1, top: 3, minCount: 1 });
  for (const list of v.lists) for (const t of list) assert.ok(t.fraction > 0 && t.fraction <= 1);
  assert.throws(() => report.byDomain({ layers: [7] }), /Layer 7 does not exist/);
});

test("quality vs k: each point is exactly evaluate() of withTopK(k)", async () => {
  const q = await inspect.qualityVsK(model, { domains: ["math"], ...EVAL });
  assert.deepEqual(q.ks, [1, 2, 3]);
  const direct = await model.withTopK(3).evaluate({ domains: ["math"], ...EVAL });
  assert.equal(q.ppl[0][2], direct.ppl("math"));
  await assert.rejects(() => inspect.qualityVsK(model.without("code"), { ks: [3] }), /k = 3 is not in 1 … 2/);
});

test("opt-out matrix: cells equal direct evaluations of without(e); provenance is carried", async () => {
  const m = await inspect.optOutMatrix(model, { domains: ["math", "public"], ...EVAL });
  assert.deepEqual(m.removed, ["math", "code"]);
  assert.equal(m.guarantee, "exact");
  const without = await model.without("code").evaluate({ domains: ["math", "public"], ...EVAL });
  const base = await model.evaluate({ domains: ["math", "public"], ...EVAL });
  assert.equal(m.ppl[1][0], without.ppl("math"));
  assert.equal(m.delta("code", "math"), (100 * (without.ppl("math") - base.ppl("math"))) / base.ppl("math"));
  assert.match(m.toString(), /Opt-out is exact/);
  const tuned = await flex.tuneRouter(model, lab, { steps: 1, proxyDocs: 2 });
  const mt = await inspect.optOutMatrix(tuned, { domains: ["math"], ...EVAL });
  assert.equal(mt.guarantee, "approximate");
  assert.match(String(mt[DISPLAY]()["text/html"]), /approximate/);
});

test("router geometry: unit diagonal; parallel rows trigger the degenerate-router warning", async () => {
  const g = await inspect.routerGeometry(model);
  for (const l of g.layers) {
    l.cosine.forEach((row, i) => assert.ok(Math.abs((row[i] as number) - 1) < 1e-6));
    assert.ok(l.condition >= 1);
    assert.equal(l.bias[0], 0);
  }
  // The same model with every owner's row replaced by 1.001 × r_pub + tiny noise: nearly parallel.
  const E = model.config.experts.length;
  const routers = model.params.layers.map((l) =>
    tf.tidy(() => {
      const pubRow = l.router.slice([0, 0], [1, -1]); // [1, C]
      const rows = [pubRow, ...Array.from({ length: E - 1 }, (_, j) => pubRow.mul(1.001).add(tf.randomNormal(pubRow.shape, 0, 1e-5, "float32", 7 + j)))];
      return tf.concat(rows, 0) as tf.Tensor2D; // [E, C]
    }),
  );
  try {
    const degenerate = new FlexModel({ config: model.config, params: { ...model.params, layers: model.params.layers.map((l, i) => ({ ...l, router: routers[i] })) }, provenance: model.provenance, label: "degenerate" });
    const dg = await inspect.routerGeometry(degenerate);
    assert.deepEqual(dg.degenerate, [0, 1]);
    assert.match(dg.warning, /^ALL layers have degenerate router rows \(condition number > 5\)/);
    assert.ok(g.layers.every((l) => l.condition < dg.layers[0].condition));
  } finally {
    routers.forEach((r) => r.dispose());
  }
});

test("bias effect: β = 0 routes exactly like dropping the bias; 'keep' matches the model's own routing", async () => {
  const b = await inspect.biasEffect(model, { domains: ["math", "public"], betas: [0, -3], ...SAMPLE });
  assert.deepEqual(b.setting("β=0").publicTop1, b.setting("drop").publicTop1); // min(0, 0) = 0: no bias at all
  assert.deepEqual(b.setting("β=0").ownTop1, b.setting("drop").ownTop1);
  // "keep" is the model's own routing: recount the top-1 experts from a direct telemetry pass.
  const keep = await inspect.sampleRouting(model.withBias("keep"), { domains: ["math", "public"], ...SAMPLE });
  const pubTop1 = keep.domains.map((d) => d.top1.reduce((a, l) => a + l[0] / d.tokens, 0) / keep.layers);
  assert.deepEqual(b.setting("keep (learned)").publicTop1, pubTop1);
  assert.equal(b.setting("keep (learned)").ownTop1[1], null); // "public" has no owner expert
  // The owners' learned biases are reported as b = min(β, 0), mean over layers.
  for (const l of b.learned) assert.ok(l.bias <= 0);
  await assert.rejects(() => inspect.biasEffect(model, { betas: [1] }), /use finite values ≤ 0/);
  await assert.rejects(() => inspect.biasEffect(model.only(["math", "code"])), /excludes the public expert/);
});

test("compareViews: perplexity deltas, same-seed generations and manifests agree with the direct calls", async () => {
  const view = model.without("math");
  const c = await inspect.compareViews(model, view, { prompt: "Problem 1.", domains: ["math"], maxWindows: 2, maxTokens: 4, seed: 3 });
  const a = await model.evaluate({ domains: ["math"], maxWindows: 2 });
  const b = await view.evaluate({ domains: ["math"], maxWindows: 2 });
  assert.equal(c.deltaPct("math"), (100 * (b.ppl("math") - a.ppl("math"))) / a.ppl("math"));
  assert.equal(c.generations![1].completion, (await view.generate("Problem 1.", { maxTokens: 4, temperature: 0.8, seed: 3 })).completion);
  for (const t of c.nextTokens) assert.ok(t.pa >= 0 && t.pa <= 1 && t.pb >= 0 && t.pb <= 1);
  assert.deepEqual(c.manifests[1].excluded, ["math"]);
  // A view compared with itself changes nothing.
  const same = await inspect.compareViews(model, model, { prompt: "Problem 1.", domains: ["math"], maxWindows: 2, maxTokens: 0 });
  assert.equal(same.deltaPct("math"), 0);
  for (const t of same.nextTokens) assert.equal(t.pa, t.pb);
  assert.equal(same.generations, null);
  const bundle = c[DISPLAY]();
  assert.match(String(bundle["text/html"]), /Data in effect/);
});

test("extraction test: deterministic for a seed; similarities in [0, 1]", async () => {
  const opts = { documents: 2, prefixTokens: 8, continuationTokens: 6, samples: 2, seed: 1 };
  const r1 = await inspect.extractionTest([pub.model(), model], opts);
  const r2 = await inspect.extractionTest([pub.model(), model], opts);
  assert.deepEqual(r1.toJSON(), r2.toJSON());
  for (const m of r1.models) for (const s of m.best) assert.ok(s >= 0 && s <= 1);
  assert.equal(r1.cases.length, 2);
  await assert.rejects(() => inspect.extractionTest([model], { domain: "cooking" }), /Unknown domain|not in this corpus/);
});

test("tutorial runs: a saved public model and owner load back bit-identical, at the right step", async () => {
  const t = await inspect.tutorial.setup({ preset: "tiny", runs: tmp });
  const recipe = { ...t.recipe };
  assert.equal(t.preset, "tiny");
  const p1 = await t.publicModel({ steps: 2, live: false });
  const fp = p1.trunkFingerprint();
  const p2 = await t.publicModel({ steps: 2, live: false });
  assert.equal(p2.trunkFingerprint(), fp);
  assert.equal(p2.step, 2);
  const o1 = await t.owner("math", p2, { steps: 1, live: false });
  const o2 = await t.owner("math", p2, { steps: 1, live: false });
  assert.equal(o2.step, 1);
  const h = (o: OwnerExpert) => Array.from(o.params.layers[0].experts[1].up.dataSync());
  assert.deepEqual(h(o2), h(o1));
  assert.deepEqual(t.recipe, recipe);
  assert.ok(fs.readdirSync(t.dir).every((d) => !d.includes(".tmp-")), "no temporary folders left behind");
  assert.throws(() => inspect.tutorial.tutorialPreset(false, { FLEXOLMO_PRESET: "huge" }), /FLEXOLMO_PRESET="huge" is not a preset/);
  assert.equal(inspect.tutorial.tutorialPreset(true, {}), "gpu");
  assert.equal(inspect.tutorial.tutorialPreset(false, {}), "cpu");
  [p1, p2, o1, o2].forEach((m) => m.dispose());
});

test("inspection views free every tensor they create (tensor count flat across repeats)", async () => {
  const run = async () => {
    await inspect.sampleRouting(model, { domains: ["math"], ...SAMPLE });
    await inspect.routeTokens(model, "Problem 1. Solve 3x = 9.");
    await inspect.routerGeometry(model);
    await inspect.biasEffect(model, { domains: ["math"], betas: [-1], ...SAMPLE });
    await inspect.compareViews(model, model.without("code"), { prompt: "Problem", domains: ["math"], maxWindows: 1, maxTokens: 1 });
  };
  await run(); // first call may build caches (token streams, RoPE tables)
  const before = tf.memory().numTensors;
  await run();
  assert.equal(tf.memory().numTensors, before);
});
