/**
 * FlexModel runtime hygiene (issue 16): no verb leaks tensors, every object that owns tensors frees
 * them once (views never), unbounded or stoppable work is bounded and stoppable, and hostile input
 * gets a clear error naming what was wrong. Tiny preset on the shipped corpus.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { flex, Lab, PublicModel, OwnerExpert, FlexModel } from "../../lib/flex";
import { MAX_GENERATE_TOKENS } from "../../lib/flex/model";
import { rPubMismatch } from "../../lib/flex/merge";
import { paramEntries } from "../../lib/model/params";
import * as inspect from "../../lib/inspect";
import { Btm } from "../../lib/flex/baselines/btm";

let lab: Lab;
let pub: PublicModel;
let math: OwnerExpert;
let code: OwnerExpert;
let merged: FlexModel;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-model-"));
const live = () => tf.memory().numTensors;
const ONE = { domains: ["math"], maxWindows: 1, batchSize: 1 } as const;

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 3, backend: "cpu", train: { batchSize: 4 } });
  pub = await lab.publicModel();
  await pub.train({ steps: 4 });
  math = lab.owner("math", { from: pub, docs: 20 });
  code = lab.owner("code", { from: pub, docs: 20 });
  await math.train({ steps: 2 });
  await code.train({ steps: 2 });
  merged = await flex.merge(pub, [math, code], { k: 2 });
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Leaks

test("telemetry and attribution free every tensor of their forward pass", async () => {
  const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], "int32");
  await merged.telemetry(ids); // warm-up: kernels and caches
  await merged.attribution("Solve 3x + 2 = 11.");
  const before = live();
  for (let i = 0; i < 3; i++) {
    const tel = await merged.telemetry(ids);
    assert.equal(tel.n, 6);
  }
  assert.equal(live(), before, "telemetry left tensors alive (before the fix: ~129 per call at the tiny preset)");
  for (let i = 0; i < 3; i++) await merged.attribution("Solve 3x + 2 = 11.");
  assert.equal(live(), before, "attribution left tensors alive (before the fix: ~136 per call at the tiny preset)");
  ids.dispose();
});

test("a merged model owns its tensors: dispose frees them once; its views refuse clearly; a view's dispose frees nothing", async () => {
  const before = live();
  const m = await flex.merge(pub, [math, code], { k: 2 });
  const P = paramEntries(m.params).length;
  assert.equal(live(), before + P, "the merge holds exactly its own copies");
  assert.equal(m.ownsTensors, true);
  const view = m.without("math");
  const other = m.withTopK(1);
  assert.equal(view.ownsTensors, false);
  // Disposing a view retires that handle only.
  view.dispose();
  view.dispose(); // twice: a no-op
  assert.equal(live(), before + P);
  assert.equal(view.disposed, true);
  const x = tf.tensor2d([[1, 2, 3]], [1, 3], "int32");
  assert.throws(() => view.logits(x), /"flexolmo − math" was disposed/);
  await assert.rejects(() => view.evaluate(ONE), /evaluate: the model "flexolmo − math" was disposed/);
  tf.tidy(() => void m.logits(x).dataSync()); // the parent still runs
  assert.equal(other.disposed, false);
  // Disposing the owner frees every tensor, once.
  m.dispose();
  assert.equal(live(), before + 1, "only the ids tensor of this test is left");
  m.dispose();
  assert.equal(live(), before + 1, "a second dispose frees nothing more");
  assert.equal(m.disposed, true);
  assert.equal(other.disposed, true);
  assert.throws(() => other.logits(x), /"flexolmo k=1" is a view of "flexolmo", whose weights were freed by its dispose\(\)/);
  await assert.rejects(() => m.generate("x", { maxTokens: 1 }), /generate: the model "flexolmo" was disposed/);
  await assert.rejects(() => m.attribution("x"), /attribution: .*was disposed/);
  await assert.rejects(() => m.scoreOptions([1], [[2]]), /scoreOptions: .*was disposed/);
  await assert.rejects(() => inspect.routing(m, ONE), /routing: .*was disposed/);
  await assert.rejects(() => inspect.routerGeometry(m), /routerGeometry: .*was disposed/);
  await assert.rejects(() => flex.tuneRouter(m, lab, { steps: 1 }), /tuneRouter: .*was disposed/);
  assert.throws(() => m.without("math"), /a view: .*was disposed/);
  await assert.rejects(() => m.telemetry(x), /telemetry: .*was disposed/);
  await assert.rejects(() => m.save(path.join(tmp, "never")), /save: .*was disposed/);
  // Metadata stays readable.
  assert.deepEqual(m.experts, ["public", "math", "code"]);
  assert.match(m.manifest().toString(), /math/);
  x.dispose();
  assert.equal(live(), before);
});

test("borrowed models free nothing; after their owner's dispose they say so", async () => {
  const p = await lab.publicModel({ from: "scratch", seed: 7 });
  const v = p.model();
  assert.equal(v.ownsTensors, false);
  const x = tf.tensor2d([[1, 2]], [1, 2], "int32");
  const n = live();
  v.dispose();
  assert.equal(live(), n, "pub.model() borrows the public model's tensors");
  const w = p.model();
  tf.tidy(() => void w.logits(x).dataSync());
  const P = paramEntries(p.params).length;
  p.dispose();
  assert.equal(live(), n - P);
  p.dispose(); // idempotent
  assert.equal(live(), n - P);
  assert.throws(() => w.logits(x), /logits: the weights of "public" were disposed by their owner/);
  await assert.rejects(() => p.train({ steps: 1 }), /public model: train after dispose\(\)/);
  assert.throws(() => p.model(), /public model: model after dispose\(\)/);
  await assert.rejects(() => flex.merge(p, [math]), /public model: merge after dispose\(\)/);
  x.dispose();
});

test("a disposed owner refuses clearly (train, params, merge)", async () => {
  const o = lab.owner("math", { from: pub, docs: 20 });
  await o.ensureParams();
  const n = live();
  o.dispose();
  o.dispose();
  assert.ok(live() < n);
  assert.throws(() => o.params, /owner "math": params after dispose\(\)/);
  await assert.rejects(() => o.train({ steps: 1 }), /owner "math": train after dispose\(\)/);
  await assert.rejects(() => flex.merge(pub, [o]), /owner "math": params after dispose\(\)/);
});

test("merging owners from directories keeps only the merged model's tensors (no optimizer state, no loaded copies)", async () => {
  const dir = path.join(tmp, "math-owner");
  await math.save(dir); // with its optimizer state and its router calibration's (the lab recipe)
  const before = live();
  const m = await flex.merge(pub, [dir, code], { k: 2 });
  assert.equal(live() - before, paramEntries(m.params).length);
  m.dispose();
  assert.equal(live(), before);
});

test("loadPublicModel(dir).dispose() frees the weights and the loaded optimizer moments, trained or not", async () => {
  const dir = path.join(tmp, "pub");
  await pub.save(dir); // weights + optimizer state
  const before = live();
  const a = await lab.loadPublicModel(dir);
  assert.ok(live() > before + paramEntries(a.params).length, "the optimizer moments were loaded too");
  a.dispose();
  assert.equal(live(), before);
  const b = await lab.loadPublicModel(dir);
  await b.train({ steps: 1 }); // the moments move into a trainer
  b.dispose();
  assert.equal(live(), before);
});

test("a router-tuned model owns all its tensors; dispose frees them and leaves the input model working", async () => {
  const tuned = await flex.tuneRouter(merged, lab, { steps: 1, proxyDocs: 2 });
  const n = live();
  assert.equal(tuned.ownsTensors, true);
  tuned.dispose();
  assert.equal(n - live(), paramEntries(tuned.params).length);
  assert.ok((await merged.evaluate(ONE)).ppl("math") > 0);
  // A view without an expert tunes with k = its experts (it used to default to k = E and fail in forward).
  const partial = await flex.tuneRouter(merged.without("code"), lab, { steps: 1, proxyDocs: 2 });
  partial.dispose();
});

// ---------------------------------------------------------------------------------------------
// Unbounded work and silent acceptance in generate

test("generate validates every sampling option with a clear error", async () => {
  const bad: Array<[object, RegExp]> = [
    [{ topK: -3 }, /topK must be an integer ≥ 0 .*got -3/],
    [{ topK: 2.5 }, /topK must be an integer ≥ 0 .*got 2\.5/],
    [{ topK: NaN }, /topK must be an integer/],
    [{ topP: 0 }, /topP must be in \(0, 1\]/],
    [{ topP: 1.5 }, /topP must be in \(0, 1\]/],
    [{ topP: NaN }, /topP must be in \(0, 1\]/],
    [{ temperature: -1 }, /temperature must be a finite number ≥ 0/],
    [{ temperature: Infinity }, /temperature must be a finite number ≥ 0 .*Infinity/],
    [{ temperature: NaN }, /temperature must be a finite number/],
    [{ seed: 1.5 }, /seed must be an integer \(got 1\.5\)/],
    [{ seed: "7" }, /seed must be an integer/],
    [{ maxTokens: -1 }, /maxTokens must be a non-negative integer/],
    [{ maxTokens: 2.5 }, /maxTokens must be a non-negative integer/],
    [{ maxTokens: 1e9 }, new RegExp(`maxTokens 1000000000 is over the limit of ${MAX_GENERATE_TOKENS} tokens per call.*Generate in chunks`)],
    [{ top_k: 5 }, /unknown option "top_k" \(did you mean topK\?\); the options are maxTokens, temperature, topK, topP, seed, signal/],
    [{ signal: {} }, /signal must be an AbortSignal/],
  ];
  const n = live();
  for (const [opts, re] of bad) await assert.rejects(() => merged.generate("Hi", opts as never), re, JSON.stringify(opts));
  await assert.rejects(() => merged.generate(42 as never), /the prompt must be a string \(got number\)/);
  await assert.rejects(() => merged.generate("Hi", null as never), /options must be an object/);
  assert.equal(live(), n);
  const ok = await merged.generate("Hi", { maxTokens: 0 });
  assert.equal(ok.completion, "");
});

test("generate stops between tokens on its signal, returns what it has, and leaks nothing", async () => {
  await merged.generate("Problem", { maxTokens: 1 }); // warm-up
  const n = live();
  const pre = new AbortController();
  pre.abort();
  const none = await merged.generate("Problem", { maxTokens: 50, signal: pre.signal });
  assert.equal(none.aborted, true);
  assert.equal(none.tokens.length, 0);
  // Abort from outside while it runs (as the kernel's interrupt does): a few event-loop turns in.
  const ac = new AbortController();
  let turns = 0;
  const tick = (): void => {
    if (++turns >= 4) ac.abort();
    else setImmediate(tick);
  };
  setImmediate(tick);
  const r = await merged.generate("Problem", { maxTokens: MAX_GENERATE_TOKENS, temperature: 0, signal: ac.signal });
  assert.equal(r.aborted, true, `stopped by the signal, not by end-of-text (${r.tokens.length} tokens)`);
  assert.ok(r.tokens.length >= 1 && r.tokens.length < 50, `${r.tokens.length} tokens`);
  assert.match(String(r), /stopped early/);
  assert.equal(live(), n);
  const full = await merged.generate("Problem", { maxTokens: 3, seed: 1 });
  assert.equal(full.aborted, undefined, "a finished run carries no aborted flag");
});

test("a misspelt or unknown option is refused by every verb that takes window options, naming the closest key", async () => {
  const btm = new Btm([pub, math.model()]); // holds copies of its members: made before counting
  const n = live();
  const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
    ["evaluate", () => merged.evaluate({ ...ONE, maxWindow: 2 } as never), /evaluate: unknown option "maxWindow" \(did you mean maxWindows\?\); the options are domains, split, maxWindows, seqLen, batchSize, reference/],
    ["ensemble evaluate", () => btm.evaluate({ ...ONE, splt: "valid" } as never), /evaluate: unknown option "splt" \(did you mean split\?\)/],
    ["routing", () => inspect.routing(merged, { ...ONE, layers: "all" } as never), /routing: unknown option "layers"/],
    ["routingByDomain", () => inspect.routingByDomain(merged, { ...ONE, layer: 0 } as never), /routing: unknown option "layer"/],
    ["qualityVsK", () => inspect.qualityVsK(merged, { ...ONE, k: [1] } as never), /qualityVsK: unknown option "k" \(did you mean ks\?\)/],
    ["optOutMatrix", () => inspect.optOutMatrix(merged, { ...ONE, expert: ["math"] } as never), /optOutMatrix: unknown option "expert" \(did you mean experts\?\)/],
    ["biasEffect", () => inspect.biasEffect(merged, { ...ONE, beta: [-1] } as never), /biasEffect: unknown option "beta" \(did you mean betas\?\)/],
    ["compare", () => flex.compare([merged], { ...ONE, refrence: pub } as never), /compare: unknown option "refrence" \(did you mean reference\?\)/],
    ["compareViews", () => inspect.compareViews(merged, merged.without("code"), { maxTokens: 1, promt: "x" } as never), /compareViews: unknown option "promt" \(did you mean prompt\?\)/],
    ["options not an object", () => inspect.qualityVsK(merged, null as never), /qualityVsK: options must be an object/],
  ];
  for (const [what, f, re] of cases) await assert.rejects(f, re, what);
  assert.equal(live(), n, "refused before any tensor was made");
  btm.dispose();
  // The verbs' own keys still pass through (and are not handed to evaluate, which would now refuse them).
  assert.equal((await inspect.qualityVsK(merged, { ...ONE, ks: [1] })).ks.length, 1);
  assert.deepEqual((await inspect.optOutMatrix(merged, { ...ONE, experts: ["math"] })).removed, ["math"]);
  assert.ok((await inspect.routingByDomain(merged, { ...ONE, layers: "all" })).layers.length > 0);
});

// ---------------------------------------------------------------------------------------------
// attribution of long text

test("attribution of a text longer than the context covers it window by window and says how many", async () => {
  const text = "Solve 3x + 2 = 11 and then check the answer twice. ".repeat(12);
  const n = lab.data.tokenizer.encode(text).length;
  const T = merged.config.maxSeqLen;
  assert.ok(n > 2 * T, `${n} tokens`);
  const before = live();
  const a = await merged.attribution(text);
  assert.equal(live(), before);
  assert.equal(a.tokens.length, n, "every token is attributed, not only the first window");
  assert.equal(a.windows, Math.ceil(n / T));
  assert.equal(a.windowSize, T);
  for (const row of a.shares) assert.ok(Math.abs(row.reduce((s, x) => s + x, 0) - 1) < 1e-5);
  assert.match(String(a), new RegExp(`${n} tokens in ${a.windows} windows of ≤ ${T}`));
  const short = await merged.attribution("Solve 3x.");
  assert.equal(short.windows, 1);
  await assert.rejects(() => merged.attribution(""), /the text is empty after tokenisation/);
  await assert.rejects(() => merged.attribution(undefined as never), /pass the text as a string \(got undefined\)/);
});

// ---------------------------------------------------------------------------------------------
// Vague errors

test("merging owners whose embeddings were built differently says exactly what differs and what to do", async () => {
  const a = lab.owner("math", { from: pub, docs: 20 });
  const b = lab.owner("code", { from: pub, docs: 30 });
  const c = lab.owner("code", { from: pub, docs: 20, init: "random" });
  try {
    await Promise.all([a.ensureParams(), b.ensureParams(), c.ensureParams()]);
    await assert.rejects(
      () => flex.merge(pub, [a, b]),
      /Owner "code": router row 0 \(r_pub\) in layer 0 differs from owner "math"'s\. r_pub is the public domain embedding, and the two owners built it differently \(20 vs 30 public embedding documents; "math" vs "code"\)\. .*same embedding settings, lab\.owner\(domain, \{ from: pub, init, docs \}\).*retrain "code"/,
    );
    await assert.rejects(() => flex.merge(pub, [a, c]), /built it differently \(embedder "external" vs "random"/);
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
  // Without data cards (hand-built artefacts) the message still lists the likely causes.
  assert.match(rPubMismatch("math", undefined, "code", undefined, 1), /layer 1 differs.*different embedding settings \(\{ init, docs \} of lab\.owner\)/);
});

// ---------------------------------------------------------------------------------------------
// More hostile input

test("hostile views, merges and tuning: clear errors", async () => {
  assert.throws(() => merged.without(), /without\(\) needs at least one expert to opt out.*public, math, code/);
  assert.throws(() => merged.without("news"), /unknown expert "news"/);
  assert.throws(() => merged.without(1.5), /unknown expert 1\.5/);
  assert.throws(() => merged.without("public", "math", "code"), /excludes every expert/);
  assert.throws(() => merged.only([]), /only\(\[\]\) would exclude every expert/);
  assert.throws(() => merged.withTopK(0), /top-k must be a positive integer \(got 0\)/);
  assert.throws(() => merged.withTopK(NaN), /top-k must be a positive integer/);
  assert.throws(() => merged.withTopK(4), /top-k 4 is larger than the 3 included/);
  assert.throws(() => merged.withBias("x" as never), /bias mode must be "keep" or "drop"/);
  await assert.rejects(() => flex.merge(pub, [math, code], { k: 0 }), /merge: k must be an integer from 1 to 3 .*public \+ 2 owners\); got 0/);
  await assert.rejects(() => flex.merge(pub, [math, code], { k: 5 }), /merge: k must be an integer from 1 to 3/);
  await assert.rejects(() => flex.merge(pub, [math, code], { k: 2.5 }), /merge: k must be an integer from 1 to 3.*got 2\.5/);
  await assert.rejects(() => flex.merge(pub, []), /pass at least one owner expert/);
  await assert.rejects(() => flex.merge(pub, [path.join(tmp, "no-such-owner")]), /checkpoint directory does not exist/);
  await assert.rejects(() => flex.tuneRouter(merged, lab, { steps: 0 }), /pass \{ steps: N \} with N ≥ 1/);
  await assert.rejects(() => flex.tuneRouter(merged, lab, { steps: 1, proxyDocs: 0 }), /proxyDocs must be a positive integer/);
  await assert.rejects(() => flex.tuneRouter(merged, lab, { steps: 1, k: 9 }), /tuneRouter: k must be an integer from 1 to 3/);
  await assert.rejects(() => flex.tuneRouter(merged.without("code"), lab, { steps: 1, k: 3 }), /tuneRouter: k must be an integer from 1 to 2/);
});

test("hostile evaluation and routing options: clear errors naming the verb", async () => {
  await assert.rejects(() => merged.evaluate({ domains: "math" as never }), /evaluate: domains must be an array of domain names/);
  await assert.rejects(() => merged.evaluate({ domains: ["cooking"] }), /Unknown domain "cooking"/);
  await assert.rejects(() => merged.evaluate({ domains: [] }), /no domains given/);
  await assert.rejects(() => merged.evaluate({ ...ONE, maxWindows: 0 }), /evaluate: maxWindows must be a positive integer \(got 0\)/);
  await assert.rejects(() => merged.evaluate({ ...ONE, maxWindows: -2 }), /evaluate: maxWindows must be a positive integer/);
  await assert.rejects(() => merged.evaluate({ ...ONE, batchSize: 0 }), /evaluate: batchSize must be a positive integer/);
  await assert.rejects(() => merged.evaluate({ ...ONE, seqLen: 1e6 }), /evaluate: seqLen 1000000 is longer than the model's context \(maxSeqLen 64\)/);
  await assert.rejects(() => merged.evaluate({ ...ONE, split: "dev" as never }), /evaluate: split must be "train", "valid" or "test"/);
  await assert.rejects(() => inspect.routing(merged, { maxWindows: -1 }), /routing: maxWindows must be a positive integer/);
  await assert.rejects(() => inspect.qualityVsK(merged, { ks: [], ...ONE }), /qualityVsK: ks must be a non-empty list/);
  await assert.rejects(() => inspect.qualityVsK(merged, { ks: [0], ...ONE }), /k = 0 is not in 1 … 3/);
  await assert.rejects(() => inspect.optOutMatrix(merged.only(["public"])), /no owner expert to remove/);
  await assert.rejects(() => inspect.routeTokens(merged, "a b c ".repeat(100)), /the model's context is 64; pass a shorter text/);
  await assert.rejects(() => inspect.routeTokens(merged, ""), /empty after tokenisation/);
});

test("hostile scoring input: clear errors instead of TF.js internals, nothing leaked", async () => {
  const n = live();
  const V = merged.config.vocabSize;
  await assert.rejects(() => merged.scoreOptions([], [[1]]), /the context is empty; it needs at least one token/);
  await assert.rejects(() => merged.scoreOptions([1], []), /pass at least one option/);
  await assert.rejects(() => merged.scoreOptions([1], [[]]), /options\[0\] is empty/);
  await assert.rejects(() => merged.scoreOptions([1, 2], [[V + 5]]), new RegExp(`options\\[0\\]\\[0\\] = ${V + 5} is not a token id in \\[0, ${V}\\)`));
  await assert.rejects(() => merged.scoreOptions([-1], [[2]]), /context\[0\] = -1 is not a token id/);
  await assert.rejects(() => merged.scoreOptions(new Array(64).fill(1), [[2, 3]]), /more than the model's context of 64/);
  assert.equal(live(), n);
  const ok = await merged.scoreOptions([1, 2], [[3], [4, 5]]);
  assert.equal(ok.length, 2);
  assert.ok(ok.every(Number.isFinite));
});

test("scoreOptionsBatch packs many items into a few passes and gives scoreOptions' numbers", async () => {
  const { scoreOptionsBatch } = await import("../../lib/flex/likelihood");
  // Items of different context and option lengths, so rows are padded differently in a pass.
  const items = Array.from({ length: 9 }, (_, i) => ({
    context: Array.from({ length: 1 + ((i * 7) % 20) }, (_, t) => (i * 31 + t * 7) % 50 + 2),
    options: Array.from({ length: 2 + (i % 3) }, (_, r) => Array.from({ length: 1 + ((i + r) % 5) }, (_, t) => (i + r * 13 + t * 3) % 60 + 1)),
  }));
  const one: number[][] = [];
  for (const it of items) one.push(await merged.scoreOptions(it.context, it.options));
  const n = live();
  for (const maxTokens of [4096, 40, 1]) {
    // 4096: every item in one pass; 40: a few items per pass; 1: one item per pass (always at least one).
    const many = await scoreOptionsBatch(merged, items, maxTokens);
    assert.equal(many.length, items.length);
    many.forEach((ll, i) => ll.forEach((x, r) => assert.ok(Math.abs(x - one[i][r]) <= 1e-4 * Math.max(1, Math.abs(one[i][r])), `item ${i} option ${r}: ${x} vs ${one[i][r]} (maxTokens ${maxTokens})`)));
  }
  assert.deepEqual(await merged.scoreOptionsBatch([]), []);
  await assert.rejects(() => merged.scoreOptionsBatch([{ context: [], options: [[1]] }]), /the context is empty/);
  assert.equal(live(), n);
});

test("hostile training and lab settings: refused at once, with the value", async () => {
  await assert.rejects(() => flex.lab({ preset: "tiny", backend: "cpu", train: { lr: Infinity } }), /lr must be > 0 and finite \(got Infinity\)/);
  await assert.rejects(() => flex.lab({ preset: "tiny", backend: "cpu", train: { lr: NaN } }), /lr must be > 0 and finite \(got NaN\)/);
  await assert.rejects(() => flex.lab({ preset: "tiny", backend: "cpu", train: { batchSize: 0 } }), /batchSize must be a positive integer/);
  assert.throws(() => lab.owner("math", { from: pub, docs: 0 }), /owner "math": docs must be a positive integer/);
  assert.throws(() => lab.owner("math", { from: pub, calibration: NaN }), /calibration must be a number ≥ 0/);
  const p = await lab.publicModel({ from: "scratch", seed: 11 });
  try {
    await assert.rejects(() => p.train({ steps: -1 }), /pass \{ steps: N \} with N a non-negative integer/);
    await assert.rejects(() => p.train({ steps: NaN }), /pass \{ steps: N \} with N a non-negative integer/);
    await assert.rejects(() => p.train({ steps: 1, schedule: { steps: 0 } }), /schedule\.steps must be a positive integer/);
    await assert.rejects(() => p.train({ steps: 1, schedule: { warmupFraction: 1.5 } }), /warmupFraction must be in \[0, 1\)/);
    await assert.rejects(() => p.train({ steps: 1, schedule: { warmupSteps: 5 } }), /warmupSteps must be an integer in \[0, 1\] \(got 5\)/);
    await assert.rejects(() => p.train({ steps: 1, schedule: "continue" }), /"continue" has no schedule to continue/);
  } finally {
    p.dispose();
  }
});

// ---------------------------------------------------------------------------------------------
// Every inference verb, 50 times: the live tensor count stays flat

test("every inference verb 50 times on a tiny merged model: the live tensor count is flat", async () => {
  const ids = tf.tensor2d([[1, 5, 9, 2, 7, 3]], [1, 6], "int32");
  const all = async () => {
    tf.tidy(() => merged.logits(ids).dataSync());
    tf.tidy(() => merged.without("math").logits(ids).dataSync());
    await merged.telemetry(ids);
    await merged.evaluate(ONE);
    await merged.generate("Problem", { maxTokens: 2, seed: 1 });
    await merged.attribution("Solve 3x + 2 = 11.");
    await merged.scoreOptions([1, 2], [[3], [4, 5]]);
    const r = await inspect.routing(merged, ONE);
    r.byDomain();
    r.coactivation();
    r.vocabulary({ layer: 0 });
    await inspect.routeTokens(merged, "Solve 3x + 2 = 11.");
    await inspect.optOutMatrix(merged, ONE);
    await inspect.qualityVsK(merged, { ks: [1, 2], ...ONE });
    await inspect.nextTokenProbs(merged, "Solve");
    await inspect.compareViews(merged, merged.without("code"), { domains: ["math"], maxWindows: 1, prompt: "Solve", maxTokens: 1 });
    await inspect.routerGeometry(merged);
    await inspect.biasEffect(merged, { ...ONE, betas: [-1] });
  };
  await all(); // warm-up: kernels, token streams, caches
  const before = live();
  for (let i = 0; i < 50; i++) await all();
  assert.equal(live(), before, `live tensors ${before} → ${live()} after 50 rounds`);
  ids.dispose();
});

test("BTM generate stops on its signal between tokens (no tensors left) and BTM attribution refuses a text longer than one window", async () => {
  const btm = new Btm([pub, math], { topK: 2 });
  try {
    await btm.generate("x", { maxTokens: 1, seed: 1 }); // warm-up
    const before = live();
    const c = new AbortController();
    setImmediate(() => c.abort()); // after the first token at the latest
    const r = await btm.generate("Solve", { maxTokens: MAX_GENERATE_TOKENS, seed: 1, signal: c.signal });
    assert.equal(r.aborted, true);
    assert.ok(r.tokens.length < 5, `stopped after ${r.tokens.length} tokens`);
    assert.equal(live(), before);
    const long = "one two three four five six seven eight nine ten ".repeat(40);
    await assert.rejects(() => btm.attribution(long), /BTM attributes one window of at most \d+ tokens, and this text has \d+; pass a shorter text/);
  } finally {
    btm.dispose();
  }
});
