import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { MODEL_PRESETS, ModelConfig } from "../../lib/model/config";
import { cloneParams, initParams, forward } from "../../lib/model/model";
import type { ModelParams } from "../../lib/model/params";
import { mergeParams, OwnerArtifact, tensorHash, trunkHashes } from "../../lib/flex/merge";
import { FlexModel } from "../../lib/flex/model";

before(async () => {
  await initBackend("cpu");
});

const base: ModelConfig = { ...MODEL_PRESETS.tiny, vocabSize: 64, maxSeqLen: 16 };

/** A hand-built owner: the public trunk (cloned, bit-identical), experts [public FFN, perturbed copy], rows [r_pub, r_i]. */
function makeOwner(pub: ModelParams, name: string, seed: number, rPub: tf.Tensor1D): OwnerArtifact {
  const p = cloneParams(pub);
  const rng = tf.randomNormal([base.dModel], 0, 0.5, "float32", seed);
  p.layers = p.layers.map((l) => {
    const e0 = l.experts[0];
    const bump = (t: tf.Tensor2D, s: number) => tf.add(t, tf.randomNormal(t.shape, 0, 0.05, "float32", seed + s)) as tf.Tensor2D;
    return {
      ...l,
      experts: [e0, { gate: bump(e0.gate, 1), up: bump(e0.up, 2), down: bump(e0.down, 3) }],
      router: tf.stack([rPub, rng]) as tf.Tensor2D,
      expertBias: tf.tensor1d([0, -0.5 - seed / 100]),
    };
  });
  return { name, config: { ...base, experts: ["public", name], topK: 2 }, params: p };
}

function setup() {
  const pub = initParams(base, 1);
  const rPub = tf.randomNormal([base.dModel], 0, 0.5, "float32", 99) as tf.Tensor1D;
  const owners = [makeOwner(pub, "math", 10, rPub), makeOwner(pub, "code", 20, rPub), makeOwner(pub, "news", 30, rPub)];
  return { pub: { config: base, params: pub }, owners };
}

const ids = () => tf.tensor2d([[1, 5, 9, 2, 7, 3, 3, 8], [4, 4, 0, 11, 6, 2, 1, 10]], [2, 8], "int32");

test("merge stacks FFNs (shared, not copied) and concatenates router rows [r_pub; r_1; …]", () => {
  const { pub, owners } = setup();
  const m = mergeParams(pub, owners, { topK: 2 });
  assert.deepEqual(m.config.experts, ["public", "math", "code", "news"]);
  assert.equal(m.config.topK, 2);
  m.params.layers.forEach((l, i) => {
    assert.equal(l.experts.length, 4);
    assert.equal(l.experts[0], pub.params.layers[i].experts[0], "public FFN is the public model's tensor");
    owners.forEach((o, j) => assert.equal(l.experts[j + 1], o.params.layers[i].experts[1]));
    const rows = l.router.arraySync();
    assert.deepEqual(rows[0], owners[0].params.layers[i].router.arraySync()[0]);
    owners.forEach((o, j) => assert.deepEqual(rows[j + 1], o.params.layers[i].router.arraySync()[1]));
    const bias = l.expertBias.arraySync();
    assert.equal(bias[0], 0);
    owners.forEach((o, j) => assert.equal(bias[j + 1], o.params.layers[i].expertBias.arraySync()[1]));
  });
  assert.equal(m.params.embed, pub.params.embed);
});

test("merge refuses an owner whose trunk differs, naming the tensor", () => {
  const { pub, owners } = setup();
  const bad = owners[1];
  const l0 = bad.params.layers[0];
  bad.params.layers[0] = { ...l0, q: tf.add(l0.q, 1e-7) as tf.Tensor2D };
  assert.throws(() => mergeParams(pub, owners), /Owner "code" has a different shared trunk: tensor model\.layers\.0\.self_attn\.q_proj\.weight/);
});

test("merge refuses a changed public FFN, a different r_pub, duplicates, other architectures, non-2-expert owners", () => {
  const { pub, owners } = setup();
  const o = owners[0];
  const l = o.params.layers[1];
  const movedPub = { ...o, params: { ...o.params, layers: o.params.layers.map((x, i) => (i === 1 ? { ...l, experts: [{ ...l.experts[0], up: tf.mul(l.experts[0].up, 1.001) as tf.Tensor2D }, l.experts[1]] } : x)) } };
  assert.throws(() => mergeParams(pub, [movedPub]), /public expert FFN in layer 1 differs/);
  const otherRow = { ...o, name: "x", params: { ...o.params, layers: o.params.layers.map((x) => ({ ...x, router: tf.mul(x.router, 2) as tf.Tensor2D })) } };
  assert.throws(() => mergeParams(pub, [owners[0], otherRow]), /router row 0 \(r_pub\) in layer 0 differs/);
  assert.throws(() => mergeParams(pub, [owners[0], { ...owners[1], name: "math" }]), /Duplicate expert name "math"/);
  assert.throws(() => mergeParams(pub, [{ ...owners[0], config: { ...owners[0].config, dFf: 128 } }]), /architecture differs.*dFf 96 vs 128/);
  assert.throws(() => mergeParams(pub, [{ ...owners[0], config: { ...owners[0].config, experts: ["public"] } }]), /not a 2-expert model/);
  assert.throws(() => mergeParams(pub, []), /at least one owner/);
});

test("opt-out is exact: without(news) gives bit-identical logits to a merge built without news", () => {
  const { pub, owners } = setup();
  for (const k of [1, 2, 3]) {
    const all = new FlexModel({ ...mergeParams(pub, owners, { topK: k }), provenance: { kind: "merged", routerTuned: false } });
    const noNews = new FlexModel({ ...mergeParams(pub, owners.slice(0, 2), { topK: k }), provenance: { kind: "merged", routerTuned: false } });
    for (const bias of ["keep", "drop"] as const) {
      const a = tf.tidy(() => all.without("news").withBias(bias).logits(ids()).dataSync());
      const b = tf.tidy(() => noNews.withBias(bias).logits(ids()).dataSync());
      assert.equal(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), 0, `k=${k} bias=${bias}: bit-identical`);
    }
  }
});

test("only(['public']) equals the dense public model when the bias is irrelevant", () => {
  const { pub, owners } = setup();
  const merged = new FlexModel({ ...mergeParams(pub, owners, { topK: 2 }), provenance: { kind: "merged", routerTuned: false } });
  const dense = tf.tidy(() => forward(pub.params, pub.config, ids()).logits.dataSync());
  const onlyPub = tf.tidy(() => merged.only(["public"]).logits(ids()).dataSync());
  // One included expert: softmax over one logit is exactly 1, so y = 1 · FFN_pub(h) — the dense model.
  assert.deepEqual(Array.from(onlyPub), Array.from(dense));
});

test("views never mutate and share weights; bad views give clear errors", () => {
  const { pub, owners } = setup();
  const merged = new FlexModel({ ...mergeParams(pub, owners, { topK: 2 }), provenance: { kind: "merged", routerTuned: false } });
  const before = trunkHashes(merged.params);
  const routerHash = tensorHash(merged.params.layers[0].router);
  const v = merged.without("news").withTopK(1).withBias("drop");
  assert.deepEqual(v.experts, ["public", "math", "code"]);
  assert.deepEqual(merged.experts, ["public", "math", "code", "news"]);
  assert.equal(merged.view.topK, 2);
  assert.equal(v.params, merged.params);
  tf.tidy(() => v.logits(ids()));
  assert.deepEqual(trunkHashes(merged.params), before);
  assert.equal(tensorHash(merged.params.layers[0].router), routerHash);
  assert.throws(() => merged.without("legal"), /unknown expert "legal".*0:public, 1:math, 2:code, 3:news/);
  assert.throws(() => merged.without("public", "math", "code", "news"), /excludes every expert/);
  assert.throws(() => merged.only([]), /exclude every expert/);
  assert.throws(() => merged.only(["public", "math"]).withTopK(3), /top-k 3 is larger than the 2 included expert\(s\) \(public, math\)/);
  assert.throws(() => merged.withBias("sometimes" as never), /bias mode must be "keep" or "drop"/);
  // Removing experts below k shrinks k (a model merged without them could not route to more).
  assert.equal(merged.withTopK(4).without("news").view.topK, 3);
});

test("the expert bias matters under 'keep' and is ignored under 'drop'", () => {
  const { pub, owners } = setup();
  const merged = new FlexModel({ ...mergeParams(pub, owners, { topK: 4 }), provenance: { kind: "merged", routerTuned: false } });
  const keep = tf.tidy(() => merged.logits(ids()).dataSync());
  const drop = tf.tidy(() => merged.withBias("drop").logits(ids()).dataSync());
  assert.notDeepEqual(Array.from(keep), Array.from(drop));
});
