import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { disposeCheckpoint, expectedTensors, loadCheckpoint, readCheckpointInfo, saveCheckpoint } from "../../lib/io/checkpoint";
import { bf16ToF32, f32ToBf16, readSafetensors, readSafetensorsHeader, writeSafetensors, type WriteEntry } from "../../lib/io/safetensors";
import { fromHfConfig, toHfConfig } from "../../lib/io/hf-config";
import type { ModelConfig } from "../../lib/model/config";
import { paramEntries, type ModelParams } from "../../lib/model/params";
import { bits, randomParams, tempDir, tinyConfig } from "./fixtures";

before(async () => {
  await initBackend("cpu");
});

const disposeParams = (p: ModelParams) => paramEntries(p).forEach((e) => e.tensor.dispose());

/** Run `body` on seeded random params of `cfg` and a fresh temporary directory, both released afterwards, pass or fail. */
async function withParamsAndDir(cfg: ModelConfig, seed: number, body: (p: ModelParams, dir: string) => Promise<void>): Promise<void> {
  const p = randomParams(cfg, seed);
  const { dir, cleanup } = tempDir();
  try {
    await body(p, dir);
  } finally {
    cleanup();
    disposeParams(p);
  }
}

/** Every tensor of two param sets has identical bits. */
function assertSameBits(a: ModelParams, b: ModelParams): void {
  const ea = paramEntries(a);
  const eb = paramEntries(b);
  assert.equal(ea.length, eb.length);
  ea.forEach((e, i) => {
    assert.equal(eb[i].name, e.name);
    assert.deepEqual(eb[i].tensor.shape, e.tensor.shape, e.name);
    assert.deepEqual(bits(eb[i].tensor), bits(e.tensor), `${e.name} differs`);
  });
}

test("expectedTensors lists exactly what paramEntries enumerates (names, shapes, layout flags)", () => {
  const cfg = tinyConfig({ nHeads: 4, nKvHeads: 2 }); // GQA: k/v narrower than q
  const p = randomParams(cfg, 1);
  const got = paramEntries(p).map((e) => ({ name: e.name, shape: e.tensor.shape, transposed: e.transposed, hf: e.hf }));
  const want = expectedTensors(cfg).map((e) => ({ name: e.name, shape: e.shape, transposed: e.transposed, hf: e.hf }));
  assert.deepEqual(got, want);
  disposeParams(p);
});

test("checkpoint round trip is bit-exact: weights, expert bias, sidecar, optimizer state", async () => {
  const cfg = tinyConfig();
  const p = randomParams(cfg, 7);
  // Bias values that JSON cannot spell directly must survive too.
  p.layers[1].expertBias.dispose();
  p.layers[1].expertBias = tf.tensor1d([-0, -0.123456789, 1e-30]);
  const m = tf.randomNormal([cfg.dModel, cfg.dFf], 0, 1, "float32", 3);
  const v = tf.randomUniform([cfg.dModel, cfg.dFf], 0, 1, "float32", 4);
  const count = tf.tensor1d([5, 6], "int32");
  const { dir, cleanup } = tempDir();
  try {
    const ck = path.join(dir, "ck");
    const cards = { news: { owner: "Newsroom", licence: "CC-BY", documents: 1234 }, code: { owner: "Coders", seed: 9 } };
    const rep = await saveCheckpoint(ck, {
      config: cfg,
      params: p,
      sidecar: { dataCards: cards, provenance: { run: "r1", parents: ["a", "b"] }, step: 42, metadata: { note: "hi" } },
      optimizer: { step: 42, tensors: { "model.layers.0.mlp.experts.1.gate_proj.weight.m": m, "model.layers.0.mlp.experts.1.gate_proj.weight.v": v, counts: count } },
      hf: { eosTokenId: 0, padTokenId: 1 },
    });
    assert.ok(rep.bytes > 0);
    assert.deepEqual(fs.readdirSync(ck).sort(), ["config.json", "flexolmo.json", "model.safetensors", "optimizer.safetensors"]);

    const back = await loadCheckpoint(ck);
    assert.deepEqual(back.config, cfg);
    assertSameBits(p, back.params);
    assert.ok(Object.is(back.params.layers[1].expertBias.dataSync()[0], -0), "-0 bias survives");
    assert.deepEqual(back.sidecar.experts, cfg.experts);
    assert.deepEqual(back.sidecar.dataCards, [null, cards.news, cards.code]);
    assert.deepEqual(back.sidecar.provenance, { run: "r1", parents: ["a", "b"] });
    assert.equal(back.sidecar.step, 42);
    assert.deepEqual(back.sidecar.metadata, { note: "hi" });
    assert.equal(back.sidecar.present, true);
    assert.equal(back.hf.eosTokenId, 0);
    assert.equal(back.hf.padTokenId, 1);
    assert.equal(back.optimizer!.step, 42);
    assert.deepEqual(bits(back.optimizer!.tensors["model.layers.0.mlp.experts.1.gate_proj.weight.m"]), bits(m));
    assert.deepEqual(bits(back.optimizer!.tensors["model.layers.0.mlp.experts.1.gate_proj.weight.v"]), bits(v));
    assert.equal(back.optimizer!.tensors.counts.dtype, "int32");
    assert.deepEqual(Array.from(back.optimizer!.tensors.counts.dataSync()), [5, 6]);
    disposeCheckpoint(back);
  } finally {
    cleanup();
    disposeParams(p);
    tf.dispose([m, v, count]);
  }
});

test("on disk: HF names, Linear weights [out, in], config.json fields, bias only in the sidecar", async () => {
  const cfg = tinyConfig();
  await withParamsAndDir(cfg, 11, async (p, dir) => {
    await saveCheckpoint(dir + "/ck", { config: cfg, params: p });
    const { tensors, header } = readSafetensors(path.join(dir, "ck", "model.safetensors"));
    assert.equal(header.metadata.format, "pt");
    assert.equal(tensors.has("model.layers.0.mlp.expert_bias"), false);
    assert.equal(tensors.size, expectedTensors(cfg).filter((e) => e.hf).length);
    // q_proj on disk is [out, in]: element [o][i] equals our q[i][o].
    const q = tensors.get("model.layers.1.self_attn.q_proj.weight")!;
    assert.deepEqual(q.shape, [cfg.dModel, cfg.dModel]);
    const ours = p.layers[1].q.arraySync() as number[][];
    for (const [o, i] of [[0, 1], [3, 7], [15, 2]]) assert.equal(q.data[o * cfg.dModel + i], ours[i][o]);
    const down = tensors.get("model.layers.0.mlp.experts.2.down_proj.weight")!;
    assert.deepEqual(down.shape, [cfg.dModel, cfg.dFf]); // HF down_proj: Linear(F → C) stores [C, F]
    assert.deepEqual(tensors.get("model.layers.0.mlp.gate.weight")!.shape, [3, cfg.dModel]); // router rows, not transposed
    assert.deepEqual(tensors.get("lm_head.weight")!.shape, [cfg.vocabSize, cfg.dModel]);

    const json = JSON.parse(fs.readFileSync(path.join(dir, "ck", "config.json"), "utf-8"));
    assert.equal(json.model_type, "flex_olmo");
    assert.deepEqual(json.architectures, ["FlexOlmoForCausalLM"]);
    assert.equal(json.hidden_size, 16);
    assert.equal(json.intermediate_size, 24);
    assert.equal(json.num_experts, 3);
    assert.equal(json.num_experts_per_tok, 2);
    assert.equal(json.norm_topk_prob, false);
    assert.equal(json.tie_word_embeddings, false);
    assert.equal(json.rope_scaling, null);
    assert.equal(json.torch_dtype, "float32");

    const side = JSON.parse(fs.readFileSync(path.join(dir, "ck", "flexolmo.json"), "utf-8"));
    assert.deepEqual(side.expert_bias[0], Array.from(p.layers[0].expertBias.dataSync()));
  });
});

test("config.json ↔ ModelConfig, both ways", () => {
  const cfg = tinyConfig({ nHeads: 4, nKvHeads: 2, normTopkProb: true, ropeTheta: 10000, rmsNormEps: 1e-5 });
  const hf = toHfConfig(cfg, { eosTokenId: 0 });
  assert.deepEqual(
    [hf.vocab_size, hf.hidden_size, hf.intermediate_size, hf.num_hidden_layers, hf.num_attention_heads, hf.num_key_value_heads, hf.max_position_embeddings, hf.rms_norm_eps, hf.rope_theta, hf.num_experts, hf.num_experts_per_tok, hf.norm_topk_prob],
    [61, 16, 24, 2, 4, 2, 32, 1e-5, 10000, 3, 2, true],
  );
  assert.deepEqual(fromHfConfig(JSON.parse(JSON.stringify(hf)), "c", cfg.experts).config, cfg);

  // The released FlexOlmo-7x7B-1T values (HF FlexOlmoConfig defaults), with num_key_value_heads null.
  const released = {
    model_type: "flex_olmo", vocab_size: 100352, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32,
    num_attention_heads: 32, num_key_value_heads: null, max_position_embeddings: 4096, rms_norm_eps: 1e-6,
    rope_theta: 500000, rope_scaling: null, num_experts: 7, num_experts_per_tok: 5, norm_topk_prob: false,
    pad_token_id: 100277, eos_token_id: 100257, bos_token_id: null, tie_word_embeddings: false, torch_dtype: "bfloat16",
  };
  const r = fromHfConfig(released);
  assert.deepEqual(r.config, {
    vocabSize: 100352, dModel: 4096, nLayers: 32, nHeads: 32, nKvHeads: 32, dFf: 11008, maxSeqLen: 4096, ropeTheta: 500000,
    rmsNormEps: 1e-6, experts: ["public", "expert_1", "expert_2", "expert_3", "expert_4", "expert_5", "expert_6"], topK: 5, normTopkProb: false,
  });
  assert.equal(r.extras.padTokenId, 100277);
  assert.equal(r.extras.torchDtype, "bfloat16");
  // transformers 5 spells RoPE as rope_parameters.
  const v5 = { ...released, rope_theta: undefined, rope_scaling: undefined, rope_parameters: { rope_type: "default", rope_theta: 10000 } };
  assert.equal(fromHfConfig(v5).config.ropeTheta, 10000);

  assert.throws(() => fromHfConfig({ ...released, model_type: "olmoe" }, "x/config.json"), /x\/config\.json: model_type is "olmoe", expected "flex_olmo"/);
  assert.throws(() => fromHfConfig({ ...released, hidden_act: "gelu" }), /hidden_act is "gelu"/);
  assert.throws(() => fromHfConfig({ ...released, rope_scaling: { rope_type: "linear", factor: 2 } }), /rope_scaling .* is not supported/);
  assert.throws(() => fromHfConfig({ ...released, num_experts_per_tok: 9 }), /topK \(9\) cannot exceed the number of experts \(7\)/);
  assert.throws(() => fromHfConfig({ ...released, hidden_size: "big" }), /"hidden_size" must be a positive integer/);
});

test("BF16 checkpoints: saved rounded to nearest even, loaded back as float32", async () => {
  const cfg = tinyConfig({ experts: ["public", "a"], topK: 1 });
  await withParamsAndDir(cfg, 5, async (p, dir) => {
    await saveCheckpoint(path.join(dir, "bf"), { config: cfg, params: p, dtype: "BF16" });
    const h = readSafetensorsHeader(path.join(dir, "bf", "model.safetensors"));
    assert.ok([...h.tensors.values()].every((t) => t.dtype === "BF16"));
    const back = await loadCheckpoint(path.join(dir, "bf"));
    assert.deepEqual(back.source.dtypes, { BF16: h.tensors.size });
    const want = Array.from(p.embed.dataSync(), (x) => bf16ToF32(f32ToBf16(x)));
    assert.deepEqual(Array.from(back.params.embed.dataSync()), want);
    disposeCheckpoint(back);
  });
});

/** Rewrite a checkpoint's model.safetensors through `edit` (a list of entries in HF layout). */
function rewriteWeights(ck: string, edit: (entries: WriteEntry[]) => WriteEntry[]): void {
  const file = path.join(ck, "model.safetensors");
  const { tensors } = readSafetensors(file);
  const entries: WriteEntry[] = [...tensors.values()].map((t) => ({ name: t.name, shape: t.shape, data: t.data }));
  writeSafetensors(file, edit(entries));
}

test("clear errors: missing tensor, wrong shape, unexpected tensor, truncated file, bad header, missing config.json", async () => {
  const cfg = tinyConfig();
  await withParamsAndDir(cfg, 2, async (p, dir) => {
    const fresh = async (name: string) => {
      const ck = path.join(dir, name);
      await saveCheckpoint(ck, { config: cfg, params: p });
      return ck;
    };
    const missing = await fresh("missing");
    rewriteWeights(missing, (es) => es.filter((e) => e.name !== "model.layers.1.mlp.experts.2.up_proj.weight"));
    await assert.rejects(loadCheckpoint(missing), /missing tensor "model\.layers\.1\.mlp\.experts\.2\.up_proj\.weight" \(expected shape \[24,16\]\)/);

    const shape = await fresh("shape");
    rewriteWeights(shape, (es) => es.map((e) => (e.name === "model.layers.0.self_attn.k_proj.weight" ? { ...e, shape: [8, 32] } : e)));
    await assert.rejects(loadCheckpoint(shape), /tensor "model\.layers\.0\.self_attn\.k_proj\.weight" in model\.safetensors has shape \[8,32\] but config\.json implies \[16,16\]/);

    const extra = await fresh("extra");
    rewriteWeights(extra, (es) => [...es, { name: "model.layers.0.mlp.experts.3.up_proj.weight", shape: [24, 16], data: new Float32Array(24 * 16) }]);
    await assert.rejects(loadCheckpoint(extra), /unexpected tensor "model\.layers\.0\.mlp\.experts\.3\.up_proj\.weight"/);

    const trunc = await fresh("trunc");
    const wf = path.join(trunc, "model.safetensors");
    fs.truncateSync(wf, fs.statSync(wf).size - 100);
    await assert.rejects(loadCheckpoint(trunc), /trunc\/model\.safetensors: truncated file or bad header: tensor "[^"]+" ends at data byte/);

    const bad = await fresh("bad");
    const bytes = fs.readFileSync(path.join(bad, "model.safetensors"));
    bytes[8] = "[".charCodeAt(0);
    fs.writeFileSync(path.join(bad, "model.safetensors"), bytes);
    await assert.rejects(loadCheckpoint(bad), /bad\/model\.safetensors: bad header/);

    const nocfg = await fresh("nocfg");
    fs.rmSync(path.join(nocfg, "config.json"));
    await assert.rejects(loadCheckpoint(nocfg), /nocfg: missing config\.json, so this is not a checkpoint directory/);
    await assert.rejects(readCheckpointInfo(nocfg), /missing config\.json/);
    await assert.rejects(loadCheckpoint(path.join(dir, "nowhere")), /nowhere: checkpoint directory does not exist/);

    const noweights = await fresh("noweights");
    fs.rmSync(path.join(noweights, "model.safetensors"));
    await assert.rejects(loadCheckpoint(noweights), /missing model\.safetensors/);

    const side = await fresh("side");
    const sj = JSON.parse(fs.readFileSync(path.join(side, "flexolmo.json"), "utf-8"));
    sj.expert_bias[0] = [0, 1];
    fs.writeFileSync(path.join(side, "flexolmo.json"), JSON.stringify(sj));
    await assert.rejects(loadCheckpoint(side), /flexolmo\.json: "expert_bias"\[0\] must have 3 values/);

    // Saving params that do not match the config is refused before anything is written.
    await assert.rejects(saveCheckpoint(path.join(dir, "mismatch"), { config: { ...cfg, dFf: 32 }, params: p }), /params do not match the config[\s\S]*mlp\.experts\.0\.gate_proj\.weight: shape \[16,24\] but the config implies \[16,32\]/);
    assert.equal(fs.existsSync(path.join(dir, "mismatch")), false);
  });
});

test("atomic save: a save that fails mid-write leaves the previous checkpoint intact, and keeps foreign files", async () => {
  const cfg = tinyConfig();
  const a = randomParams(cfg, 100);
  const b = randomParams(cfg, 200);
  const { dir, cleanup } = tempDir();
  try {
    const ck = path.join(dir, "ck");
    await saveCheckpoint(ck, { config: cfg, params: a, sidecar: { step: 1 } });
    fs.writeFileSync(path.join(ck, "tokenizer.json"), '{"keep": true}');
    const before = fs.readFileSync(path.join(ck, "model.safetensors"));

    // A tensor late in the file is gone: dataSync throws while model.safetensors is half written.
    b.layers[1].experts[2].down.dispose();
    await assert.rejects(saveCheckpoint(ck, { config: cfg, params: b, sidecar: { step: 2 } }), /disposed/);
    assert.deepEqual(fs.readdirSync(dir), ["ck"], "no temporary directories left behind");
    assert.ok(before.equals(fs.readFileSync(path.join(ck, "model.safetensors"))));
    const back = await loadCheckpoint(ck);
    assertSameBits(a, back.params);
    assert.equal(back.sidecar.step, 1);
    disposeCheckpoint(back);

    // A successful overwrite replaces the weights and carries tokenizer.json over.
    await saveCheckpoint(ck, { config: cfg, params: a, sidecar: { step: 3 } });
    assert.equal(fs.readFileSync(path.join(ck, "tokenizer.json"), "utf-8"), '{"keep": true}');
    assert.deepEqual(fs.readdirSync(dir), ["ck"]);

    // Never replace a directory that is not a checkpoint.
    const other = path.join(dir, "project");
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, "notes.txt"), "precious");
    await assert.rejects(saveCheckpoint(other, { config: cfg, params: a }), /non-empty directory without config\.json; refusing to replace it/);
    assert.equal(fs.readFileSync(path.join(other, "notes.txt"), "utf-8"), "precious");

    // A crash between "old aside" and "new in" leaves the old checkpoint next to the path: loading says where.
    fs.renameSync(ck, path.join(dir, ".ck.old-123-abcd"));
    await assert.rejects(loadCheckpoint(ck), /save into this path was interrupted.*\.ck\.old-123-abcd/);
  } finally {
    cleanup();
    disposeParams(a);
    paramEntries(b).forEach((e) => e.tensor.isDisposed || e.tensor.dispose());
  }
});

test("checkpoints written by another program: no sidecar, BF16, sharded index, fused experts, tied head", async () => {
  const cfg = tinyConfig();
  await withParamsAndDir(cfg, 33, async (p, dir) => {
    // Reference: our own F32 checkpoint, read back as HF-layout arrays.
    const ours = path.join(dir, "ours");
    await saveCheckpoint(ours, { config: cfg, params: p });
    const hfTensors = readSafetensors(path.join(ours, "model.safetensors")).tensors;
    const hfConfig = JSON.parse(fs.readFileSync(path.join(ours, "config.json"), "utf-8"));

    // 1) Sharded BF16, no sidecar, as save_pretrained(max_shard_size=…) would write it.
    const sh = path.join(dir, "sharded");
    fs.mkdirSync(sh);
    fs.writeFileSync(path.join(sh, "config.json"), JSON.stringify({ ...hfConfig, torch_dtype: "bfloat16" }));
    const names = [...hfTensors.keys()];
    const half = Math.ceil(names.length / 2);
    const weightMap: Record<string, string> = {};
    [names.slice(0, half), names.slice(half)].forEach((group, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(path.join(sh, file), group.map((n) => ({ name: n, shape: hfTensors.get(n)!.shape, dtype: "BF16" as const, data: hfTensors.get(n)!.data })));
      group.forEach((n) => (weightMap[n] = file));
    });
    fs.writeFileSync(path.join(sh, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    const s = await loadCheckpoint(sh);
    assert.equal(s.source.sharded, true);
    assert.equal(s.sidecar.present, false);
    assert.deepEqual(s.config.experts, ["public", "expert_1", "expert_2"]);
    assert.deepEqual(s.params.layers.map((l) => Array.from(l.expertBias.dataSync())), [[0, 0, 0], [0, 0, 0]]);
    const want = Array.from(p.layers[1].experts[2].up.dataSync(), (x) => bf16ToF32(f32ToBf16(x)));
    assert.deepEqual(Array.from(s.params.layers[1].experts[2].up.dataSync()), want);
    const info = await readCheckpointInfo(sh);
    assert.deepEqual(info.source.files.sort(), ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
    assert.equal(info.counts.hfParams, expectedTensors(cfg).filter((e) => e.hf).reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0));
    disposeCheckpoint(s);

    // 2) transformers-5 fused experts ([E, 2F, C] gate rows then up rows; [E, C, F]) and a tied head.
    const fu = path.join(dir, "fused");
    fs.mkdirSync(fu);
    fs.writeFileSync(path.join(fu, "config.json"), JSON.stringify({ ...hfConfig, tie_word_embeddings: true }));
    const E = cfg.experts.length;
    const F = cfg.dFf;
    const C = cfg.dModel;
    const entries: WriteEntry[] = [];
    for (const [n, t] of hfTensors) if (!/\.mlp\.experts\.\d+\./.test(n) && n !== "lm_head.weight") entries.push({ name: n, shape: t.shape, data: t.data });
    for (let l = 0; l < cfg.nLayers; l++) {
      const gu = new Float32Array(E * 2 * F * C);
      const dn = new Float32Array(E * C * F);
      for (let j = 0; j < E; j++) {
        const pre = `model.layers.${l}.mlp.experts.${j}`;
        gu.set(hfTensors.get(`${pre}.gate_proj.weight`)!.data as Float32Array, j * 2 * F * C);
        gu.set(hfTensors.get(`${pre}.up_proj.weight`)!.data as Float32Array, j * 2 * F * C + F * C);
        dn.set(hfTensors.get(`${pre}.down_proj.weight`)!.data as Float32Array, j * C * F);
      }
      entries.push({ name: `model.layers.${l}.mlp.experts.gate_up_proj`, shape: [E, 2 * F, C], data: gu });
      entries.push({ name: `model.layers.${l}.mlp.experts.down_proj`, shape: [E, C, F], data: dn });
    }
    writeSafetensors(path.join(fu, "model.safetensors"), entries);
    const f = await loadCheckpoint(fu);
    assert.equal(f.source.fusedExperts, true);
    const ep = paramEntries(f.params);
    const op = paramEntries(p);
    ep.forEach((e, i) => {
      if (e.name === "lm_head.weight") {
        // Tied: lm_head is the embedding matrix, transposed into our [C, V] layout.
        assert.deepEqual(e.tensor.arraySync(), (tf.transpose(p.embed) as tf.Tensor).arraySync());
      } else if (!e.name.endsWith("expert_bias")) {
        assert.deepEqual(bits(e.tensor), bits(op[i].tensor), e.name);
      }
    });
    disposeCheckpoint(f);
  });
});

test("readCheckpointInfo reads config, sidecar and counts without loading tensors", async () => {
  const cfg = tinyConfig();
  await withParamsAndDir(cfg, 9, async (p, dir) => {
    const ck = path.join(dir, "ck");
    await saveCheckpoint(ck, { config: cfg, params: p, sidecar: { dataCards: [null, { owner: "n" }, null], step: 7 }, optimizer: { step: 7, tensors: { "x.m": p.norm } } });
    const info = await readCheckpointInfo(ck);
    assert.deepEqual(info.config, cfg);
    assert.equal(info.sidecar.step, 7);
    assert.deepEqual(info.sidecar.dataCards, [null, { owner: "n" }, null]);
    // Hand count for vocab 61, C 16, F 24, 2 layers, 3 experts, 2 heads of 8:
    //   embed 976 + head 976 + final norm 16, per layer: q,k,v,o 4·256 + qNorm,kNorm 32 + two norms 32 + router 48
    //   + experts 3·3·384 = 3456  → per layer 4592, total 1968 + 2·4592 = 11152; bias 2·3 = 6 (sidecar).
    assert.equal(info.counts.hfParams, 11152);
    assert.deepEqual(info.params, { total: 11158, hf: 11152, active: 11158 - 2 * 3 * 16 * 24 }); // one of 3 experts idle per token, 2 layers
    assert.equal(info.counts.expertBias, 6);
    assert.deepEqual(info.optimizer, { step: 7, tensors: 1 });
    assert.deepEqual(info.source.dtypes, { F32: info.counts.hfTensors });
  });
});
