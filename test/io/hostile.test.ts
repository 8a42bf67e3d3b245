/**
 * Checkpoints written by someone else (issue 16): every hostile directory must give a clear error
 * (what was wrong, what to do) or load correctly; none may crash the process, hang, allocate by an
 * untrusted count, or lose saved work. Cases are grouped by kind, as in the issue.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { disposeCheckpoint, HOST_TAG, loadCheckpoint, readCheckpointInfo, saveCheckpoint } from "../../lib/io/checkpoint";
import { fromHfConfig } from "../../lib/io/hf-config";
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type WriteEntry } from "../../lib/io/safetensors";
import type { ModelConfig } from "../../lib/model/config";
import { paramEntries, type ModelParams } from "../../lib/model/params";
import { bits, randomParams, rawSafetensors, tempDir, tinyConfig } from "./fixtures";

before(async () => {
  await initBackend("cpu");
});

const cfg = tinyConfig(); // 3 experts (public, news, code), 2 layers, vocab 61, C 16, F 24
const disposeParams = (p: ModelParams) => paramEntries(p).forEach((e) => e.tensor.isDisposed || e.tensor.dispose());

/** A fresh saved checkpoint `name` under a temp dir, handed to `body`; everything is removed afterwards. */
async function withCheckpoint(body: (ck: string, dir: string, p: ModelParams) => Promise<void>, c: ModelConfig = cfg, sidecar = true): Promise<void> {
  const p = randomParams(c, 5);
  const { dir, cleanup } = tempDir("flexolmo-hostile-");
  try {
    const ck = path.join(dir, "ck");
    await saveCheckpoint(ck, { config: c, params: p, optimizer: { step: 3, tensors: { "x.m": p.norm } } });
    if (!sidecar) fs.rmSync(path.join(ck, "flexolmo.json"));
    await body(ck, dir, p);
  } finally {
    cleanup();
    disposeParams(p);
  }
}

const readCfg = (ck: string) => JSON.parse(fs.readFileSync(path.join(ck, "config.json"), "utf-8")) as Record<string, unknown>;
const writeCfg = (ck: string, over: Record<string, unknown>) => fs.writeFileSync(path.join(ck, "config.json"), JSON.stringify({ ...readCfg(ck), ...over }));

/** Both readers refuse `ck` with `re` (info reads headers only, load reads data: both paths are checked). */
async function bothReject(ck: string, re: RegExp): Promise<void> {
  await assert.rejects(readCheckpointInfo(ck), re, "readCheckpointInfo");
  await assert.rejects(loadCheckpoint(ck), re, "loadCheckpoint");
}

/** Rewrite model.safetensors through `edit` (entries in HF layout). */
function rewriteWeights(ck: string, edit: (entries: WriteEntry[]) => WriteEntry[]): void {
  const file = path.join(ck, "model.safetensors");
  const { tensors } = readSafetensors(file);
  writeSafetensors(file, edit([...tensors.values()].map((t) => ({ name: t.name, shape: t.shape, dtype: "F32" as const, data: t.data }))));
}

/** A pid that was running a moment ago and no longer is. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  return r.pid!;
}

// ---------------------------------------------------------------------------------------------
// 1. Allocation before validation
// ---------------------------------------------------------------------------------------------

test("allocation before validation: huge counts in config.json are refused before anything is sized by them", async () => {
  await withCheckpoint(async (ck) => {
    // With flexolmo.json: its 3 names against num_experts 1e9 (used to build 1e9 default names first: heap out of memory).
    writeCfg(ck, { num_experts: 1e9 });
    await bothReject(ck, /"num_experts" is 1000000000, more than the 1024 this reader accepts/);
    writeCfg(ck, { num_experts: 3, num_hidden_layers: 1e9 });
    await bothReject(ck, /"num_hidden_layers" is 1000000000, more than the 1024/);
    writeCfg(ck, { num_hidden_layers: 2, max_position_embeddings: 1e300 });
    await bothReject(ck, /"max_position_embeddings" is 1e\+300, more than/);
    writeCfg(ck, { max_position_embeddings: 32, vocab_size: 2 ** 40 });
    await bothReject(ck, /"vocab_size" is 1099511627776, more than/);
  });
  await withCheckpoint(
    async (ck) => {
      // Without flexolmo.json: num_hidden_layers sized the default bias rows before any check.
      writeCfg(ck, { num_hidden_layers: 1e9 });
      await bothReject(ck, /"num_hidden_layers" is 1000000000/);
      // Within the bounds but not what the file holds: one sentence, before the expected-tensor list is built.
      writeCfg(ck, { num_hidden_layers: 1000 });
      await bothReject(ck, /config\.json says num_hidden_layers = 1000 but the weight files hold 2 layers \(model\.layers\.0 … 1\)/);
      writeCfg(ck, { num_hidden_layers: 2, num_experts: 1000, num_experts_per_tok: 2 });
      await bothReject(ck, /config\.json says num_experts = 1000 but the router model\.layers\.0\.mlp\.gate\.weight in model\.safetensors has 3 rows/);
    },
    cfg,
    false,
  );
});

test("allocation before validation: flex.merge's owner loader refuses a huge num_experts cleanly", async () => {
  const { loadOwnerArtifact } = await import("../../lib/flex/owner");
  await withCheckpoint(async (ck) => {
    writeCfg(ck, { num_experts: 1e9 });
    await assert.rejects(loadOwnerArtifact(ck), /"num_experts" is 1000000000/);
  });
});

test("counts that are not positive integers are refused by name", () => {
  const base = { model_type: "flex_olmo", hidden_size: 16, num_attention_heads: 2, intermediate_size: 24, num_hidden_layers: 2, vocab_size: 61, num_experts: 3, num_experts_per_tok: 2 };
  for (const [key, v] of [["num_experts", 2.5], ["num_hidden_layers", -2], ["num_experts", "3"], ["hidden_size", 0]] as const) {
    assert.throws(() => fromHfConfig({ ...base, [key]: v }), new RegExp(`"${key}" must be a positive integer \\(got ${JSON.stringify(JSON.stringify(v)).slice(1, -1)}\\)`), `${key}=${v}`);
  }
  assert.throws(() => fromHfConfig({ ...base, rope_theta: 1e400 }), /rope_theta must be a positive finite number/);
  assert.throws(() => fromHfConfig({ ...base, tie_word_embeddings: "yes" }), /"tie_word_embeddings" must be true or false/);
});

// ---------------------------------------------------------------------------------------------
// 2. Files that are not regular files
// ---------------------------------------------------------------------------------------------

test("not regular files: /dev/zero links, FIFOs, directories, oversized and looping files are refused without blocking", { timeout: 120_000 }, async () => {
  await withCheckpoint(async (ck) => {
    const cfgFile = path.join(ck, "config.json");
    const saved = fs.readFileSync(cfgFile);
    const restore = () => {
      fs.rmSync(cfgFile, { recursive: true, force: true });
      fs.writeFileSync(cfgFile, saved);
    };

    fs.rmSync(cfgFile);
    fs.symlinkSync("/dev/zero", cfgFile); // used to be read until memory ran out
    await bothReject(ck, /cannot read config\.json .*config\.json: it is a character device, not a regular file/);
    restore();

    fs.rmSync(cfgFile);
    fs.mkdirSync(cfgFile);
    await bothReject(ck, /config\.json: it is a directory, not a regular file/);
    restore();

    fs.rmSync(cfgFile);
    fs.writeFileSync(cfgFile, "");
    fs.truncateSync(cfgFile, 5 << 20); // sparse: 5 MiB of zeros
    await bothReject(ck, /config\.json: it is 5\.0 MiB, over the 4\.0 MiB limit for config\.json/);
    restore();

    fs.rmSync(cfgFile);
    fs.symlinkSync("config.json", cfgFile); // a link to itself
    await bothReject(ck, /config\.json: it is a symbolic link that points \(directly or not\) to itself/);
    fs.rmSync(cfgFile);
    fs.symlinkSync("nowhere.json", cfgFile); // dangling: not "missing config.json"
    await bothReject(ck, /cannot read config\.json .*config\.json: it does not exist/);
    restore();

    // A FIFO named model.safetensors used to block `flexolmo info` forever (open waits for a writer).
    const wf = path.join(ck, "model.safetensors");
    const weights = fs.readFileSync(wf);
    fs.rmSync(wf);
    execFileSync("mkfifo", [wf]);
    await bothReject(ck, /model\.safetensors: it is a FIFO \(named pipe\), not a regular file/);
    fs.rmSync(wf);
    fs.mkdirSync(wf);
    await bothReject(ck, /model\.safetensors: it is a directory, not a regular file/);
    fs.rmSync(wf, { recursive: true });
    fs.writeFileSync(wf, weights);

    const side = path.join(ck, "flexolmo.json");
    const sideBytes = fs.readFileSync(side);
    fs.rmSync(side);
    execFileSync("mkfifo", [side]);
    await bothReject(ck, /flexolmo\.json: it is a FIFO/);
    fs.rmSync(side);
    fs.writeFileSync(side, sideBytes);

    const opt = path.join(ck, "optimizer.safetensors");
    fs.rmSync(opt);
    execFileSync("mkfifo", [opt]);
    await bothReject(ck, /optimizer\.safetensors: it is a FIFO/);
    fs.rmSync(opt);

    // And after all that, the checkpoint still loads.
    disposeCheckpoint(await loadCheckpoint(ck));
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Paths where Node misbehaves: /proc, symbolic links, leftovers of interrupted saves
// ---------------------------------------------------------------------------------------------

test("saving under /proc fails at once with a reason (Node's recursive mkdir used to spin forever)", { timeout: 120_000, skip: !fs.existsSync("/proc/self") }, async () => {
  const p = randomParams(cfg, 1);
  try {
    await assert.rejects(saveCheckpoint("/proc/flexolmo-test/ck", { config: cfg, params: p }), /cannot save the checkpoint to \/proc\/flexolmo-test\/ck: cannot create the folder \/proc\/flexolmo-test: \/proc does not accept new folders/);
  } finally {
    disposeParams(p);
  }
});

test("symbolic links: a save goes through the link into its target; a dangling link is refused", async () => {
  const a = randomParams(cfg, 1);
  const b = randomParams(cfg, 2);
  const { dir, cleanup } = tempDir("flexolmo-hostile-");
  try {
    const real = path.join(dir, "store", "real");
    const link = path.join(dir, "link");
    await saveCheckpoint(real, { config: cfg, params: a, sidecar: { step: 1 } });
    fs.symlinkSync(real, link);
    const rep = await saveCheckpoint(link, { config: cfg, params: b, sidecar: { step: 2 } });
    assert.equal(fs.lstatSync(link).isSymbolicLink(), true, "the link is kept (it used to be replaced by a real directory)");
    assert.equal(rep.dir, link);
    assert.equal(rep.target, fs.realpathSync(real));
    const back = await loadCheckpoint(real); // the target holds the new checkpoint, not a stale one
    assert.equal(back.sidecar.step, 2);
    assert.deepEqual(bits(back.params.embed), bits(b.embed));
    disposeCheckpoint(back);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["link", "store"]);
    assert.deepEqual(fs.readdirSync(path.join(dir, "store")), ["real"], "no temporary folders left next to the target");

    const dangling = path.join(dir, "dangling");
    fs.symlinkSync(path.join(dir, "gone"), dangling);
    await assert.rejects(saveCheckpoint(dangling, { config: cfg, params: a }), /dangling: it is a symbolic link to .*gone, which does not exist\. Create that directory/);
    assert.equal(fs.lstatSync(dangling).isSymbolicLink(), true);
  } finally {
    cleanup();
    disposeParams(a);
    disposeParams(b);
  }
});

test("interrupted saves: the next save tidies dead processes' leftovers, restores a half-swapped checkpoint, and says so", async () => {
  const a = randomParams(cfg, 1);
  const b = randomParams(cfg, 2);
  const { dir, cleanup } = tempDir("flexolmo-hostile-");
  try {
    const ck = path.join(dir, "ck");
    await saveCheckpoint(ck, { config: cfg, params: a, sidecar: { step: 1 } });
    const pid = deadPid();
    // 1) Swap completed, removal of the old copy and an unfinished other save were cut off.
    fs.cpSync(ck, path.join(dir, `.ck.old-${pid}-00ff`), { recursive: true });
    fs.mkdirSync(path.join(dir, `.ck.saving-${pid}-abcd`));
    const live = path.join(dir, `.ck.saving-${process.pid}-beef`); // a live process's save: never touched
    fs.mkdirSync(live);
    // This machine's name in the tag (what saves write now): a dead pid here is tidied too.
    fs.mkdirSync(path.join(dir, `.ck.saving-${HOST_TAG}-${pid}-abce`));
    // Another machine on a shared disk: its pid means nothing here, so it is reported, not touched.
    const otherHost = HOST_TAG === "0badf00d" ? "0badf00e" : "0badf00d";
    const foreign = path.join(dir, `.ck.saving-${otherHost}-${pid}-cafe`);
    fs.mkdirSync(foreign);
    const rep = await saveCheckpoint(ck, { config: cfg, params: b, sidecar: { step: 2 } });
    assert.equal(rep.notes.length, 4, rep.notes.join("\n"));
    assert.match(rep.notes.join("\n"), new RegExp(`removed .*\\.ck\\.saving-${HOST_TAG}-${pid}-abce \\(an unfinished save`));
    assert.match(rep.notes.join("\n"), new RegExp(`left .*\\.ck\\.saving-${otherHost}-${pid}-cafe alone: another machine \\(host tag ${otherHost}\\) wrote it`));
    assert.match(rep.notes.join("\n"), new RegExp(`removed .*\\.ck\\.old-${pid}-00ff \\(the previous checkpoint of a save that completed`));
    assert.match(rep.notes.join("\n"), new RegExp(`removed .*\\.ck\\.saving-${pid}-abcd \\(an unfinished save`));
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(live), path.basename(foreign), "ck"].sort());
    fs.rmSync(live, { recursive: true });
    fs.rmSync(foreign, { recursive: true });

    // 2) Cut between "old aside" and "new in": the only copy is .old-*; a load says how to recover it.
    fs.renameSync(ck, path.join(dir, `.ck.old-${pid}-1234`));
    await assert.rejects(loadCheckpoint(ck), /The previous checkpoint is at .*\.ck\.old-\d+-1234: rename it to .*ck to recover it/);
    // The next save restores it first, then replaces it atomically; nothing is left behind.
    const rep2 = await saveCheckpoint(ck, { config: cfg, params: a, sidecar: { step: 3 } });
    assert.match(rep2.notes[0], /restored the previous checkpoint from .*\.ck\.old-\d+-1234/);
    assert.deepEqual(fs.readdirSync(dir), ["ck"]);
    const back = await loadCheckpoint(ck);
    assert.equal(back.sidecar.step, 3);
    disposeCheckpoint(back);
  } finally {
    cleanup();
    disposeParams(a);
    disposeParams(b);
  }
});

test("save targets that cannot hold a checkpoint are refused with a reason, and saved work is untouched", async () => {
  const p = randomParams(cfg, 1);
  const { dir, cleanup } = tempDir("flexolmo-hostile-");
  try {
    const file = path.join(dir, "file.txt");
    fs.writeFileSync(file, "x");
    await assert.rejects(saveCheckpoint(path.join(file, "ck"), { config: cfg, params: p }), /cannot create the folder .*file\.txt: .*file\.txt exists and is not a directory/);
    await assert.rejects(saveCheckpoint(file, { config: cfg, params: p }), /file\.txt exists and is not a directory; choose another checkpoint path/);
    await assert.rejects(saveCheckpoint("/", { config: cfg, params: p }), /cannot save a checkpoint to \/: that is the root of a file system/);

    // A checkpoint someone made read-only is not replaced (root could, so the permission bits decide).
    const ro = path.join(dir, "ro");
    await saveCheckpoint(ro, { config: cfg, params: p, sidecar: { step: 1 } });
    fs.chmodSync(ro, 0o555);
    try {
      await assert.rejects(saveCheckpoint(ro, { config: cfg, params: p, sidecar: { step: 2 } }), /ro is read-only \(its permissions allow no writes\); make it writable \(chmod u\+w/);
    } finally {
      fs.chmodSync(ro, 0o755);
    }
    assert.equal((await readCheckpointInfo(ro)).sidecar.step, 1);

    // A FIFO among the files a save carries over: refused before the swap, old checkpoint intact, no temp folder.
    const ck = path.join(dir, "ck");
    await saveCheckpoint(ck, { config: cfg, params: p, sidecar: { step: 1 } });
    execFileSync("mkfifo", [path.join(ck, "tokenizer.json")]);
    await assert.rejects(saveCheckpoint(ck, { config: cfg, params: p, sidecar: { step: 2 } }), /"tokenizer\.json" in the existing checkpoint cannot be carried over .*Nothing was changed; move it out/);
    assert.equal((await readCheckpointInfo(ck)).sidecar.step, 1);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["ck", "file.txt", "ro"]);
  } finally {
    cleanup();
    disposeParams(p);
  }
});

// ---------------------------------------------------------------------------------------------
// 4. Silent acceptance
// ---------------------------------------------------------------------------------------------

test("non-finite weights are refused at load with the tensor name (F32 NaN, F16 Inf, F64 overflow, optimizer, bias)", async () => {
  await withCheckpoint(async (ck) => {
    const target = "model.layers.1.mlp.experts.2.up_proj.weight";
    const weights = fs.readFileSync(path.join(ck, "model.safetensors"));
    const poison = (dtype: "F32" | "F16" | "F64") => {
      const { tensors } = readSafetensors(path.join(ck, "model.safetensors"));
      const file = path.join(ck, "model.safetensors");
      const entries = [...tensors.values()].filter((t) => t.name !== target).map((t) => ({ name: t.name, shape: t.shape, data: t.data }));
      const t = tensors.get(target)!;
      const n = t.data.length;
      let data: Uint8Array;
      if (dtype === "F32") {
        const d = Float32Array.from(t.data);
        d[5] = NaN;
        data = new Uint8Array(d.buffer);
      } else if (dtype === "F16") {
        const d = new Uint16Array(n).fill(0x3c00); // 1.0
        d[5] = 0x7c00; // +Inf
        data = new Uint8Array(d.buffer);
      } else {
        const d = new Float64Array(n).fill(0.5);
        d[5] = 1e300; // finite in F64, +Inf once narrowed to float32
        data = new Uint8Array(d.buffer);
      }
      // Our writer writes F32/BF16/I32 only: hand-assemble a file with the poisoned tensor first.
      const header: Record<string, unknown> = { [target]: { dtype, shape: t.shape, data_offsets: [0, data.length] } };
      let off = data.length;
      const parts: Uint8Array[] = [data];
      for (const e of entries) {
        const b = new Uint8Array(Float32Array.from(e.data as Float32Array).buffer);
        header[e.name] = { dtype: "F32", shape: e.shape, data_offsets: [off, off + b.length] };
        off += b.length;
        parts.push(b);
      }
      fs.writeFileSync(file, rawSafetensors(header, Buffer.concat(parts)));
    };
    poison("F32");
    await assert.rejects(loadCheckpoint(ck), new RegExp(`model\\.safetensors: tensor "${target.replace(/\./g, "\\.")}" holds NaN at index 5; weights must be finite numbers`));
    poison("F16");
    await assert.rejects(loadCheckpoint(ck), /holds Infinity at index 5/);
    poison("F64");
    await assert.rejects(loadCheckpoint(ck), /holds Infinity at index 5/);
    fs.writeFileSync(path.join(ck, "model.safetensors"), weights);

    writeSafetensors(path.join(ck, "optimizer.safetensors"), [{ name: "x.m", shape: [2], data: new Float32Array([0, -Infinity]) }], { step: "3" });
    await assert.rejects(loadCheckpoint(ck), /optimizer\.safetensors: tensor "x\.m" holds -Infinity at index 1/);
    fs.rmSync(path.join(ck, "optimizer.safetensors"));

    const sj = JSON.parse(fs.readFileSync(path.join(ck, "flexolmo.json"), "utf-8"));
    sj.expert_bias[1][2] = "NaN";
    fs.writeFileSync(path.join(ck, "flexolmo.json"), JSON.stringify(sj));
    await assert.rejects(loadCheckpoint(ck), /flexolmo\.json: tensor "expert_bias\[1\]" holds NaN at index 2/);
  });
});

test("tie_word_embeddings: true ties the head to the embedding as transformers does, even with an lm_head.weight stored", async () => {
  await withCheckpoint(async (ck, _dir, p) => {
    writeCfg(ck, { tie_word_embeddings: true }); // model.safetensors still holds the (different) lm_head.weight
    const back = await loadCheckpoint(ck);
    assert.equal(back.source.tiedHead, true);
    assert.deepEqual(back.params.lmHead.arraySync(), (tf.transpose(p.embed) as tf.Tensor).arraySync(), "lm_head = embed_tokens, not the stored lm_head.weight");
    disposeCheckpoint(back);
    const info = await readCheckpointInfo(ck);
    assert.equal(info.source.tiedHead, true);
    assert.equal(info.counts.hfParams, info.params.hf - cfg.vocabSize * cfg.dModel, "the unused stored head is not counted");
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Config defaults
// ---------------------------------------------------------------------------------------------

test("config.json fields left out take transformers' FlexOlmoConfig defaults; an explicit null stays null", async () => {
  await withCheckpoint(async (ck) => {
    const c = readCfg(ck);
    for (const k of ["max_position_embeddings", "pad_token_id", "eos_token_id", "bos_token_id", "rms_norm_eps", "rope_theta", "tie_word_embeddings", "norm_topk_prob", "num_key_value_heads", "initializer_range", "router_aux_loss_coef"]) delete c[k];
    fs.writeFileSync(path.join(ck, "config.json"), JSON.stringify(c));
    const back = await loadCheckpoint(ck);
    assert.equal(back.config.maxSeqLen, 4096); // used to be refused: "max_position_embeddings" must be a positive integer
    assert.equal(back.config.rmsNormEps, 1e-6);
    assert.equal(back.config.ropeTheta, 500000);
    assert.equal(back.config.nKvHeads, cfg.nHeads);
    assert.equal(back.hf.padTokenId, 100277);
    assert.equal(back.hf.eosTokenId, 100257);
    assert.equal(back.hf.bosTokenId, null);
    disposeCheckpoint(back);
  });
  const explicit = fromHfConfig({ model_type: "flex_olmo", hidden_size: 16, num_attention_heads: 2, pad_token_id: null, eos_token_id: null, num_experts: 3, num_experts_per_tok: 1 });
  assert.equal(explicit.extras.padTokenId, null);
  assert.equal(explicit.extras.eosTokenId, null);
  assert.equal(explicit.config.vocabSize, 100352);
});

// ---------------------------------------------------------------------------------------------
// More hostile inputs
// ---------------------------------------------------------------------------------------------

test("malformed JSON files: empty, null, invalid UTF-8, wrong sidecar types (a BOM is fine)", async () => {
  await withCheckpoint(async (ck) => {
    const cfgFile = path.join(ck, "config.json");
    const good = fs.readFileSync(cfgFile);
    fs.writeFileSync(cfgFile, "");
    await bothReject(ck, /config\.json: config\.json is not valid JSON \(Unexpected end of JSON input\); fix or replace the file/);
    fs.writeFileSync(cfgFile, "null");
    await bothReject(ck, /config\.json: must contain a JSON object/);
    // A byte-order mark (Windows editors add one) is tolerated: it cannot change what the file means.
    fs.writeFileSync(cfgFile, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), good]));
    assert.equal((await readCheckpointInfo(ck)).config.dModel, cfg.dModel);
    fs.writeFileSync(cfgFile, Buffer.concat([good.subarray(0, 10), Buffer.from([0xff, 0xfe]), good.subarray(10)]));
    await bothReject(ck, /config\.json: it is not valid UTF-8 text/);
    fs.writeFileSync(cfgFile, good);

    const sideFile = path.join(ck, "flexolmo.json");
    const side = JSON.parse(fs.readFileSync(sideFile, "utf-8"));
    fs.writeFileSync(sideFile, JSON.stringify({ ...side, experts: [{ name: "public" }, { name: 7 }, { name: "code" }] }));
    await bothReject(ck, /flexolmo\.json: "experts"\[1\] must be an object with a string "name" \(got "\{\\"name\\":7\}"\)/);
    fs.writeFileSync(sideFile, JSON.stringify({ ...side, experts: [{ name: "public" }, { name: "" }, { name: "code" }] }));
    await bothReject(ck, /expert names must be non-empty strings/);
    fs.writeFileSync(sideFile, JSON.stringify({ ...side, experts: [{ name: "public" }, { name: "code" }, { name: "code" }] }));
    await bothReject(ck, /duplicate expert name "code"/);
    fs.writeFileSync(sideFile, JSON.stringify({ ...side, metadata: [1, 2] }));
    await bothReject(ck, /flexolmo\.json: "metadata" must be an object \(got "\[1,2\]"\)/);
    fs.writeFileSync(sideFile, JSON.stringify({ ...side, provenance: "me" }));
    await bothReject(ck, /flexolmo\.json: "provenance" must be an object or null/);
    fs.writeFileSync(sideFile, JSON.stringify({ ...side, expert_bias: [[0, "lots", 0], [0, 0, 0]] }));
    await assert.rejects(loadCheckpoint(ck), /expert_bias\[0\]\[1\]: expected a number, got "lots"/);
  });
});

test("unicode and odd expert names load and round-trip", async () => {
  const odd = tinyConfig({ experts: ["public", "日本語 🧪", "‮evil"] });
  await withCheckpoint(async (ck) => {
    const back = await loadCheckpoint(ck);
    assert.deepEqual(back.config.experts, odd.experts);
    disposeCheckpoint(back);
  }, odd);
});

test("malformed weight files: empty, duplicate names, wrong dtype, huge shape, bad shard index, bad optimizer step", async () => {
  await withCheckpoint(async (ck) => {
    const wf = path.join(ck, "model.safetensors");
    const good = fs.readFileSync(wf);
    fs.writeFileSync(wf, "");
    await bothReject(ck, /model\.safetensors: truncated file: 0 bytes/);

    // Two entries with one name: JSON.parse would keep the last; another reader the first.
    const dup = `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`;
    fs.writeFileSync(wf, rawSafetensors(dup, new Uint8Array(8)));
    await bothReject(ck, /model\.safetensors: bad header: tensor name "a" appears twice in the header/);
    // A key that merely looks the same inside a nested object is not a duplicate.
    const nested = `{"__metadata__":{"a":"x"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`;
    assert.equal(readSafetensorsHeader(writeTo(path.join(path.dirname(ck), "nested.safetensors"), rawSafetensors(nested, new Uint8Array(4)))).tensors.size, 1);

    fs.writeFileSync(wf, rawSafetensors({ w: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await bothReject(ck, /bad header: tensor "w" has 4 bytes but shape \[1099511627776,1099511627776\] of F32 needs/);
    fs.writeFileSync(wf, rawSafetensors({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)));
    await bothReject(ck, /shape must be an array of non-negative integers \(got \[-1\]\)/);
    fs.writeFileSync(wf, good);

    rewriteWeights(ck, (es) => es.map((e) => (e.name === "model.norm.weight" ? { ...e, dtype: "I32" as const, data: new Int32Array(cfg.dModel) } : e)));
    await bothReject(ck, /tensor "model\.norm\.weight" in model\.safetensors has dtype I32; expected a float dtype/);
    fs.writeFileSync(wf, good);

    // A shard index must name plain files inside the checkpoint.
    fs.renameSync(wf, path.join(ck, "shard.safetensors"));
    const index = path.join(ck, "model.safetensors.index.json");
    for (const [bad, re] of [
      ["..", /weight_map names an invalid shard file "\\"\.\.\\"" \(shards must be plain file names/],
      ["../ck/shard.safetensors", /invalid shard file/],
      ["/etc/passwd", /invalid shard file/],
    ] as const) {
      fs.writeFileSync(index, JSON.stringify({ weight_map: { "model.norm.weight": bad } }));
      await bothReject(ck, re);
    }
    fs.writeFileSync(index, JSON.stringify({ weight_map: {} }));
    await bothReject(ck, /"weight_map" is empty/);
    fs.writeFileSync(index, JSON.stringify({ weight_map: [] }));
    await bothReject(ck, /missing "weight_map" object/);
    fs.rmSync(index);
    fs.renameSync(path.join(ck, "shard.safetensors"), wf);

    writeSafetensors(path.join(ck, "optimizer.safetensors"), [{ name: "x.m", shape: [1], data: new Float32Array([0]) }], { step: "abc" });
    await bothReject(ck, /optimizer\.safetensors: __metadata__\.step must hold the optimizer step, a non-negative integer \(got "\\"abc\\""\); delete optimizer\.safetensors/);
  });
});

function writeTo(file: string, bytes: Uint8Array): string {
  fs.writeFileSync(file, bytes);
  return file;
}
