/**
 * Owner options beyond the paper: router calibration on public text (the lab recipe). The guarantees
 * FlexOlmo rests on must hold with it on: frozen parts bit-identical, and opt-out exact.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { flex, Lab, PublicModel, OwnerExpert } from "../../lib/flex";
import { loadOwnerArtifact } from "../../lib/flex/owner";
import { tensorHash } from "../../lib/flex/trunk";
import { disposeParams } from "../../lib/model/model";
import { FLEX_RECIPES, flexRecipe } from "../../lib/flex/recipes";

let lab: Lab;
let pub: PublicModel;
let math: OwnerExpert;
let code: OwnerExpert;

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 4, backend: "cpu", train: { batchSize: 4 }, recipe: "paper" });
  pub = await lab.publicModel();
  await pub.train({ steps: 20 });
  math = lab.owner("math", { from: pub, docs: 40, bias: -3, calibration: 1, routerMargin: { weight: 0.5, boundary: -3 } });
  code = lab.owner("code", { from: pub, docs: 40, bias: -3, calibration: 0.5 });
  await math.train({ steps: 6 });
  await code.train({ steps: 6 });
});

test("calibration interleaves router-only public steps: count, what trains, the data card", async () => {
  assert.equal(math.step, 6);
  assert.equal(math.calibrationSteps, 6); // 1 public step per owner step
  assert.equal(code.calibrationSteps, 3); // one every other owner step
  const card = math.card();
  const cal = card.training.routerCalibration as { publicStepsPerOwnerStep: number; publicSteps: number; departure: string };
  assert.equal(cal.publicStepsPerOwnerStep, 1);
  assert.equal(cal.publicSteps, 6);
  assert.match(cal.departure, /not in the paper/);
  const margin = card.training.routerMargin as { weight: number; boundary: number; departure: string };
  assert.deepEqual([margin.weight, margin.boundary], [0.5, -3]);
  assert.match(margin.departure, /not in the paper/);
  assert.equal(code.card().training.routerMargin, undefined, "off unless asked for (this lab's recipe is the paper's)");
  assert.ok(math.invariants().ok, "trunk, public FFN and r_pub bit-identical to the public model");
});

test("calibration steps move only r_i and β_i: after one owner step the FFN equals an uncalibrated twin's", async () => {
  const a = lab.owner("math", { from: pub, docs: 40, bias: -3, calibration: 1 });
  const twin = lab.owner("math", { from: pub, docs: 40, bias: -3 });
  try {
    await a.train({ steps: 1 }); // one owner step, then one router-only public step
    await twin.train({ steps: 1 }); // the same owner step alone
    const ffn = (o: OwnerExpert) => o.params.layers.map((l) => [l.experts[1].gate, l.experts[1].up, l.experts[1].down].map(tensorHash).join()).join();
    const rows = (o: OwnerExpert) => o.params.layers.map((l) => tensorHash(l.router) + tensorHash(l.expertBias)).join();
    assert.equal(ffn(a), ffn(twin));
    assert.notEqual(rows(a), rows(twin));
  } finally {
    a.dispose();
    twin.dispose();
  }
});

test("with calibration on, opting out of an owner equals the merge without it, bit for bit", async () => {
  const merged = await flex.merge(pub, [math, code], { k: 2 });
  const alone = await flex.merge(pub, [code], { k: 2 });
  try {
    const ids = tf.tensor2d([lab.data.tokenizer.encode("Q1. Add 12 and 30. Answer: 42. def f(x): return x")], undefined, "int32");
    const a = merged.without("math").logits(ids);
    const b = alone.logits(ids);
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
    tf.dispose([ids, a, b]);
  } finally {
    disposeParams(merged.params);
    disposeParams(alone.params);
  }
});

test("a calibrated owner saved mid-run resumes bit for bit: the calibration's optimizer state is saved too", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flex-owner-resume-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const calibration of [1, 0.5]) {
    const opts = { from: pub, docs: 40, bias: -3, calibration, routerMargin: { weight: 0.5, boundary: -3 } } as const;
    const straight = lab.owner("code", opts);
    await straight.train({ steps: 3, schedule: { steps: 5 } });
    const calBefore = straight.calibrationSteps;
    await straight.save(dir);
    await straight.train({ steps: 2, schedule: "continue" });
    const resumed = lab.owner("code", { ...opts, resume: dir });
    await resumed.train({ steps: 0 });
    assert.equal(resumed.calibrationSteps, calBefore, "the calibration step count comes back");
    await resumed.train({ steps: 2, schedule: "continue" });
    assert.equal(resumed.step, 5);
    assert.equal(resumed.calibrationSteps, straight.calibrationSteps);
    for (const [l, layer] of straight.params.layers.entries()) {
      const other = resumed.params.layers[l];
      assert.equal(tensorHash(other.router), tensorHash(layer.router), `calibration ${calibration}, layer ${l}: router rows`);
      assert.equal(tensorHash(other.expertBias), tensorHash(layer.expertBias), `calibration ${calibration}, layer ${l}: bias`);
      assert.equal(tensorHash(other.experts[1].up), tensorHash(layer.experts[1].up), `calibration ${calibration}, layer ${l}: owner FFN`);
    }
    straight.dispose();
    resumed.dispose();
  }
  // Read for merging, a saved owner brings only its weights: the optimizer states are freed.
  const before = tf.memory().numTensors;
  const artefact = await loadOwnerArtifact(dir);
  disposeParams(artefact.params);
  assert.equal(tf.memory().numTensors, before);
  // Resumed without calibration, the saved calibration state is dropped, not leaked into the owner's optimizer.
  const tensors = tf.memory().numTensors;
  const plain = lab.owner("code", { from: pub, docs: 40, bias: -3, calibration: 0, resume: dir });
  await plain.train({ steps: 0 });
  assert.equal(plain.calibrationSteps, 0);
  plain.dispose();
  assert.equal(tf.memory().numTensors, tensors);
});

test("a resumed owner reads its domain embeddings' hashes from its checkpoint instead of embedding again", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flex-owner-embed-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  await math.save(dir);
  const embed = lab.embed.bind(lab);
  let calls = 0;
  lab.embed = (async (...args: Parameters<typeof lab.embed>) => (calls++, embed(...args))) as typeof lab.embed;
  try {
    const opts = { from: pub, bias: -3, calibration: 1, routerMargin: { weight: 0.5, boundary: -3 } } as const;
    const resumed = lab.owner("math", { ...opts, docs: 40, resume: dir });
    await resumed.train({ steps: 0 });
    assert.equal(calls, 0, "nothing embedded");
    assert.deepEqual(resumed.card().embedding, math.card().embedding);
    assert.ok(resumed.invariants().ok, "r_pub checked against the recorded public embedding");
    resumed.dispose();
    // Another document count is another embedding: computed, and r_pub (from 40 documents) no longer matches it.
    const other = lab.owner("math", { ...opts, docs: 30, resume: dir });
    await other.train({ steps: 0 });
    assert.equal(calls, 2, "public and own embedded again");
    assert.notEqual(other.card().embedding!.sha256, math.card().embedding!.sha256);
    assert.equal(other.invariants().ok, false);
    other.dispose();
  } finally {
    lab.embed = embed;
  }
});

test("calibration and the router margin reject nonsense", () => {
  assert.throws(() => lab.owner("math", { from: pub, calibration: -1 }), /calibration must be a number ≥ 0/);
  assert.throws(() => lab.owner("math", { from: pub, calibration: Number.NaN }), /calibration/);
  assert.throws(() => lab.owner("math", { from: pub, routerMargin: { weight: -1, boundary: -3 } }), /routerMargin must be \{ weight: a number ≥ 0, boundary: a finite number \} or false/);
  assert.throws(() => lab.owner("math", { from: pub, routerMargin: { weight: 1, boundary: Number.NaN } }), /routerMargin/);
  assert.throws(() => lab.owner("math", { from: pub, routerMargin: 3 as never }), /routerMargin/);
});

test("named recipes: owners and merges take their defaults from the lab's recipe; unknown names are refused", async () => {
  assert.throws(() => flexRecipe("nope" as never), /Unknown recipe "nope". Recipes: paper, lab/);
  const labRecipe = await flex.lab({ preset: "tiny", seed: 4, backend: "cpu", train: { batchSize: 4 } }); // the default recipe
  assert.equal(lab.recipe.name, "paper");
  assert.equal(labRecipe.recipe.name, "lab");
  const p = await labRecipe.publicModel();
  try {
    const o = labRecipe.owner("math", { from: p, docs: 20 });
    assert.equal(o.biasInit, FLEX_RECIPES.lab.owner.bias);
    assert.equal(o.calibration, FLEX_RECIPES.lab.owner.calibration);
    assert.deepEqual(o.routerMargin, FLEX_RECIPES.lab.owner.routerMargin);
    const paperOwner = lab.owner("math", { from: pub, docs: 20 });
    assert.equal(paperOwner.biasInit, -1);
    assert.equal(paperOwner.calibration, 0);
    // k: the paper's ⌈E/2⌉ (4 owners: E = 5, k = 3); the lab's 2.
    assert.equal(FLEX_RECIPES.paper.k(4), 3);
    assert.equal(FLEX_RECIPES.lab.k(4), 2);
    assert.equal(FLEX_RECIPES.lab.k(1), 2);
    o.dispose();
    paperOwner.dispose();
  } finally {
    p.dispose();
  }
});
