/**
 * The parameter schema against the typed params: every walk derived from it (entries, slots,
 * expected shapes, init, map/clone) must see the same tensors, with the same names, in the same order.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { MODEL_PRESETS, type ModelConfig } from "../../lib/model/config";
import { initParams } from "../../lib/model/model";
import {
  buildParams,
  cloneParams,
  disposeParams,
  expectedShapes,
  mapParams,
  type ModelParams,
  paramEntries,
  paramSchema,
  paramSlots,
} from "../../lib/model/params";

before(async () => {
  await initBackend("cpu");
});

const CFG: ModelConfig = { ...MODEL_PRESETS.tiny, experts: ["public", "math", "code"] };

/** Every tensor reachable from a params object by plain field/array traversal (independent of the schema). */
function allTensors(x: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (x instanceof tf.Tensor) out.push(x);
  else if (Array.isArray(x)) x.forEach((y) => allTensors(y, out));
  else if (x && typeof x === "object") Object.values(x).forEach((y) => allTensors(y, out));
  return out;
}

const namesAndShapes = (p: ModelParams) => paramEntries(p).map((e) => [e.name, e.tensor.shape.join("x")]);

test("schema shape rules equal the initialised tensors' shapes; names are unique", () => {
  const p = initParams(CFG, 3);
  const schema = paramSchema(CFG);
  for (const s of schema) assert.deepEqual(s.get(p).shape, s.shape(CFG), s.name);
  const names = schema.map((s) => s.name);
  assert.equal(new Set(names).size, names.length, "duplicate names");
  // 3 top-level tensors (embed, norm, head) + per layer 10 tensors and 3 per expert.
  assert.equal(schema.length, 3 + CFG.nLayers * (10 + 3 * CFG.experts.length));
  disposeParams(p);
});

test("the schema reaches every tensor field of the typed params, each exactly once", () => {
  const p = initParams(CFG, 3);
  const reached = paramEntries(p).map((e) => e.tensor);
  const present = allTensors(p);
  assert.equal(reached.length, present.length);
  assert.equal(new Set(reached).size, reached.length);
  for (const t of present) assert.ok(reached.includes(t), "a tensor field is missing from the schema");
  disposeParams(p);
});

test("paramEntries, paramSlots, expectedShapes and paramSchema agree in names and order", () => {
  const p = initParams(CFG, 3);
  const schema = paramSchema(CFG).map((s) => s.name);
  const entries = paramEntries(p);
  assert.deepEqual(entries.map((e) => e.name), schema);
  assert.deepEqual(paramSlots(p).map((s) => s.name), schema);
  assert.deepEqual([...expectedShapes(CFG).keys()], schema);
  assert.deepEqual([...expectedShapes(CFG).values()], entries.map((e) => e.tensor.shape));
  // Layout flags: every Linear is transposed (not the router, which is HF's [E, C]); only the expert bias is off-HF.
  for (const e of entries) {
    assert.equal(e.transposed, /_proj\.weight$|^lm_head\.weight$/.test(e.name), e.name);
    assert.equal(e.hf, !e.name.endsWith(".mlp.expert_bias"), e.name);
  }
  // Slots read the same tensors and write back into the params object.
  const slots = paramSlots(p);
  slots.forEach((s, i) => assert.equal(s.get(), entries[i].tensor, s.name));
  const old = p.layers[1].experts[2].down;
  const slot = slots.find((s) => s.name === "model.layers.1.mlp.experts.2.down_proj.weight")!;
  slot.set(tf.zerosLike(old));
  assert.notEqual(p.layers[1].experts[2].down, old);
  assert.equal(p.layers[1].experts[2].down, slot.get());
  old.dispose();
  disposeParams(p);
});

test("init follows each entry's rule: norms 1, expert bias 0, everything else N(0, 0.02²)", () => {
  const p = initParams(CFG, 5);
  for (const s of paramSchema(CFG)) {
    const v = s.get(p).dataSync();
    if (s.init === "ones") assert.ok(v.every((x) => x === 1), s.name);
    else if (s.init === "zeros") assert.ok(v.every((x) => x === 0), s.name);
    else assert.ok(v.some((x) => x !== 0) && v.every((x) => Math.abs(x) <= 0.06 + 1e-7), s.name);
    assert.equal(s.init === "ones", /norm\.weight$/.test(s.name), s.name);
  }
  disposeParams(p);
});

test("buildParams calls make once per tensor in canonical order", () => {
  const seen: string[] = [];
  const p = buildParams(CFG, (s) => (seen.push(s.name), tf.zeros(s.shape(CFG))));
  assert.deepEqual(seen, paramSchema(CFG).map((s) => s.name));
  assert.deepEqual(namesAndShapes(p), paramSchema(CFG).map((s) => [s.name, s.shape(CFG).join("x")]));
  disposeParams(p);
});

test("mapParams and cloneParams give trees with the same names and shapes and new tensors", () => {
  const a = initParams(CFG, 1), b = initParams(CFG, 2);
  const c = cloneParams(a);
  assert.deepEqual(namesAndShapes(c), namesAndShapes(a));
  const ea = paramEntries(a);
  paramEntries(c).forEach((e, i) => {
    assert.notEqual(e.tensor, ea[i].tensor, e.name);
    assert.deepEqual(e.tensor.dataSync(), ea[i].tensor.dataSync(), e.name);
  });
  // f sees the inputs' tensors in input order, with the entry they belong to.
  const names: string[] = [];
  const d = mapParams([a, b], ([x, y], s) => (names.push(s.name), tf.sub(x, y)));
  assert.deepEqual(names, ea.map((e) => e.name));
  assert.deepEqual(namesAndShapes(d), namesAndShapes(a));
  const eb = paramEntries(b);
  paramEntries(d).forEach((e, i) => {
    const want = tf.tidy(() => tf.sub(ea[i].tensor, eb[i].tensor).dataSync());
    assert.deepEqual(e.tensor.dataSync(), want, e.name);
  });
  assert.throws(() => mapParams([], ([x]) => x), /no parameter sets/);
  [a, b, c, d].forEach(disposeParams);
});
