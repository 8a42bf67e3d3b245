/**
 * The FlexOlmo pipeline end to end at the `tiny` preset on the shipped corpus: the paper's
 * guarantees as invariants, and every bad input the issue lists as a clear error.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { flex, Lab, PublicModel, OwnerExpert, FlexModel } from "../../lib/flex";
import { tensorHash } from "../../lib/flex/merge";

let lab: Lab;
let pub: PublicModel;
let math: OwnerExpert;
let code: OwnerExpert;
let merged: FlexModel;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-lab-"));
const EVAL = { maxWindows: 6, batchSize: 6 };

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 3, backend: "cpu", train: { batchSize: 4 } });
  pub = await lab.publicModel();
  await pub.train({ steps: 30 });
  math = lab.owner("math", { from: pub, docs: 50 });
  code = lab.owner("code", { from: pub, docs: 50 });
  await math.train({ steps: 30 });
  await code.train({ steps: 15 });
  merged = await flex.merge(pub, [math, code], { k: 2 });
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("public training is stepwise: two calls continue one run and return plain records", async () => {
  const p = await lab.publicModel({ seed: 9 });
  const a = await p.train({ steps: 3 });
  const b = await p.train({ steps: 2 });
  assert.equal(a.steps, 3);
  assert.equal(b.step, 5);
  assert.equal(b.history.length, 5);
  assert.equal(b.tokens, 2 * 4 * lab.trainConfig.seqLen);
  assert.match(String(b), /public model: 2 steps \(total 5\)/);
  p.dispose();
});

test("an owner's frozen parts stay bit-identical to the public model (coordination invariant)", () => {
  const inv = math.invariants();
  assert.equal(inv.ok, true, inv.toString());
  assert.ok(inv.checks.some((c) => c.part === "public router row"));
  // …and its own expert did train.
  const own = math.params.layers[0].experts[1].up;
  const pubUp = pub.params.layers[0].experts[0].up;
  assert.notEqual(tensorHash(own), tensorHash(pubUp));
});

test("an owner's expert lowers its domain's perplexity against the public model", async () => {
  const before = await pub.model().evaluate({ domains: ["math"], ...EVAL });
  const after = await math.model().evaluate({ domains: ["math"], ...EVAL });
  assert.ok(after.ppl("math") < before.ppl("math"), `owner ${after.ppl("math")} vs public ${before.ppl("math")}`);
});

test("merge: experts [public, math, code], rows from each owner; views are exact", async () => {
  assert.deepEqual(merged.experts, ["public", "math", "code"]);
  const ids = tf.tensor2d([[5, 9, 100, 7, 3, 2, 11, 40]], [1, 8], "int32");
  // Opt-out equals a model merged without that expert, bit for bit.
  const direct = await flex.merge(pub, [code], { k: 2 });
  const a = tf.tidy(() => merged.without("math").logits(ids).dataSync());
  const b = tf.tidy(() => direct.logits(ids).dataSync());
  assert.equal(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), 0);
  // Keeping only the public expert is the public model.
  const p = tf.tidy(() => pub.model().logits(ids).dataSync());
  const o = tf.tidy(() => merged.only(["public"]).logits(ids).dataSync());
  assert.deepEqual(Array.from(o), Array.from(p));
  ids.dispose();
});

test("removing the math expert raises math perplexity; removing every owner gives back the public model", async () => {
  const withMath = await merged.evaluate({ domains: ["math"], ...EVAL });
  const without = await merged.without("math").evaluate({ domains: ["math"], ...EVAL });
  assert.ok(without.ppl("math") > withMath.ppl("math"));
  const onlyPub = await merged.only(["public"]).evaluate({ domains: ["math", "public"], ...EVAL });
  const pubEval = await pub.model().evaluate({ domains: ["math", "public"], ...EVAL });
  assert.deepEqual(onlyPub.rows.map((r) => r.ppl), pubEval.rows.map((r) => r.ppl));
});

test("manifest and attribution reflect the view", async () => {
  const m = merged.without("code").manifest();
  assert.deepEqual(m.active.map((c) => c.expert), ["public", "math"]);
  assert.deepEqual(m.excluded, ["code"]);
  assert.equal(m.optOut, "exact");
  assert.ok(m.active[1].tokensSeen === 30 * 4 * lab.trainConfig.seqLen);
  const attr = await merged.without("code").attribution("Solve 3x + 2 = 11.");
  for (const row of attr.shares) {
    assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-5);
    assert.equal(row[2], 0); // the opted-out expert gets nothing
  }
});

test("generation is deterministic for a seed", async () => {
  const a = await merged.generate("Problem 1.", { maxTokens: 8, seed: 5 });
  const b = await merged.generate("Problem 1.", { maxTokens: 8, seed: 5 });
  assert.equal(a.completion, b.completion);
  assert.ok(a.tokens.length >= 1 && a.tokens.length <= 8);
});

test("router tuning returns a new model marked approximate; the input is untouched", async () => {
  const before = tensorHash(merged.params.layers[0].router);
  const tuned = await flex.tuneRouter(merged, lab, { steps: 3, proxyDocs: 4 });
  assert.equal(tensorHash(merged.params.layers[0].router), before);
  assert.notEqual(tensorHash(tuned.params.layers[0].router), before);
  assert.equal(tuned.optOut, "approximate");
  assert.equal(tuned.without("math").optOut, "approximate");
  assert.match(tuned.manifest().toString(), /approximate/);
  assert.equal(merged.optOut, "exact");
  // Experts and trunk are unchanged by tuning.
  assert.equal(tensorHash(tuned.params.layers[1].experts[1].gate), tensorHash(merged.params.layers[1].experts[1].gate));
  assert.equal(tuned.tuning!.record.steps, 3);
  // It read public text the public model never trained on (the valid split), unless told otherwise.
  assert.deepEqual(tuned.provenance.tunedOn, ["public (valid)", "proxy:math (valid)", "proxy:code (valid)"]);
  const sel = await flex.selectProxies(lab, ["math"], 3);
  const validIds = new Set(lab.data.corpus.documents({ domain: "public", split: "valid" }).map((d) => d.id));
  assert.ok(sel.proxies.math.every((id) => validIds.has(id)));
  await assert.rejects(flex.tuneRouter(merged, lab, { steps: 1, split: "test" as never }), /split must be "train" or "valid".*the test split is for evaluation only/);
});

test("owners save and merge from directories; resuming checks the domain", async () => {
  const dir = path.join(tmp, "math");
  await math.save(dir);
  const fromDisk = await flex.merge(pub, [dir, code], { k: 2 });
  const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], "int32");
  const a = tf.tidy(() => fromDisk.logits(ids).dataSync());
  const b = tf.tidy(() => merged.logits(ids).dataSync());
  assert.deepEqual(Array.from(a), Array.from(b));
  ids.dispose();
  const wrong = lab.owner("code", { from: pub, resume: dir, docs: 50 });
  await assert.rejects(() => wrong.train({ steps: 1 }), /it is owner "math" of domain "math", not "code" of "code"/);
  // Resuming the right owner continues it.
  const again = lab.owner("math", { from: pub, resume: dir, docs: 50 });
  const r = await again.train({ steps: 1 });
  assert.equal(r.step, 31);
  again.dispose();
});

test("bad input: clear errors, nothing lost", async () => {
  assert.throws(() => lab.owner("cooking", { from: pub }), /Unknown domain "cooking"/);
  assert.throws(() => lab.owner("public", { from: pub }), /public expert/);
  assert.throws(() => lab.owner("math", { from: pub, bias: 0.5 }), /must start below 0/);
  assert.throws(() => merged.without("public", "math", "code"), /excludes every expert/);
  assert.throws(() => merged.withTopK(4), /top-k 4 is larger than the 3 included/);
  assert.throws(() => merged.without("news"), /unknown expert "news"/);
  await assert.rejects(() => merged.evaluate({ domains: [] }), /no domains given/);
  await assert.rejects(() => merged.evaluate({ domains: ["cooking"] }), /Unknown domain/);
  // Owners of another public model cannot be merged.
  const pub2 = await lab.publicModel({ seed: 1234 });
  const stranger = lab.owner("news", { from: pub2, docs: 20 });
  await stranger.train({ steps: 1 });
  await assert.rejects(() => flex.merge(pub, [math, stranger]), /Owner "news" has a different shared trunk: tensor model\.embed_tokens\.weight/);
  stranger.dispose();
  pub2.dispose();
  await assert.rejects(() => flex.merge(pub, [math, math]), /Duplicate expert name "math"/);
  // The merged model still works after all of that.
  assert.ok((await merged.evaluate({ domains: ["math"], ...EVAL })).ppl("math") > 0);
});
