/**
 * What a Hugging Face user opens: every checkpoint folder the lab saves (public model, owner,
 * merged model) carries the tokenizer files and config.json values typed as transformers types them.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { flex, type Lab, type PublicModel } from "../../lib/flex";
import { referenceEncoders, validateTokenizerJson } from "../../lib/data/tokenizer";
import { hfConfigText } from "../../lib/io/hf-config";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-hf-files-"));
let lab: Lab;
let pub: PublicModel;
const dirs: Record<string, string> = {};

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 0 });
  pub = await lab.publicModel({ from: "scratch" });
  const math = lab.owner("math", { from: pub });
  await math.train({ steps: 1 });
  const merged = await flex.merge(pub, [math]);
  dirs.public = path.join(tmp, "public");
  dirs.owner = path.join(tmp, "owner");
  dirs.merged = path.join(tmp, "merged");
  await pub.save(dirs.public);
  await math.save(dirs.owner);
  await merged.save(dirs.merged);
  merged.dispose();
  math.dispose();
});

after(() => {
  pub?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("every saved folder has tokenizer.json + tokenizer_config.json, and config.json names the eos and pad ids", () => {
  const tok = lab.data.tokenizer;
  for (const [what, dir] of Object.entries(dirs)) {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    assert.equal(cfg.eos_token_id, tok.eosId, what);
    assert.equal(cfg.pad_token_id, tok.padId, what);
    assert.equal(cfg.bos_token_id, null, what);
    const tc = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
    assert.equal(tc.tokenizer_class, "PreTrainedTokenizerFast");
    assert.equal(tc.eos_token, "<|endoftext|>");
    assert.equal(tc.pad_token, "<|pad|>");
    assert.equal(tc.model_max_length, cfg.max_position_embeddings);
    assert.equal(tok.encode("<|endoftext|>")[0], tok.eosId, "the named token is the id config.json gives");
    // The file is the tokenizer itself: Hugging Face's own libraries encode with it exactly as we do.
    const json = validateTokenizerJson(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8")), `${what}/tokenizer.json`);
    const hf = referenceEncoders(json).hfJs;
    for (const text of ["Solve 3x + 2 = 11.", "def f(x):\n    return x  # ünïcödé", ""]) assert.deepEqual(hf.encode(text), tok.encode(text), `${what}: ${JSON.stringify(text)}`);
  }
});

test("a save without a tokenizer carries the folder's tokenizer files over; a save with one replaces them", async () => {
  const { saveCheckpoint } = await import("../../lib/io/checkpoint");
  const dir = path.join(tmp, "resaved");
  fs.cpSync(dirs.public, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), '{"mine": true}');
  await saveCheckpoint(dir, { config: pub.config, params: pub.params }); // the low-level save: no tokenizer given
  assert.equal(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"), '{"mine": true}', "carried, like any file the save does not write");
  assert.ok(fs.existsSync(path.join(dir, "tokenizer.json")));
  await pub.save(dir);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")).tokenizer_class, "PreTrainedTokenizerFast", "the save's own file wins");
});

test("hfConfigText writes float fields as floats (500000.0, 0.0) and leaves everything else as JSON.stringify would", () => {
  const c = { rope_theta: 500000, attention_dropout: 0, rms_norm_eps: 1e-6, initializer_range: 0.02, router_aux_loss_coef: 1, hidden_size: 64, name: "rope_theta", big: 1e21 };
  const text = hfConfigText(c);
  assert.match(text, /"rope_theta": 500000\.0,/);
  assert.match(text, /"attention_dropout": 0\.0,/);
  assert.match(text, /"router_aux_loss_coef": 1\.0,/);
  assert.match(text, /"hidden_size": 64,/);
  assert.match(text, /"name": "rope_theta",/);
  assert.deepEqual(JSON.parse(text), c, "the same values");
});

// Python's json is the reader transformers uses: a float field must come back as a float.
const PY = "/usr/bin/python3";
test("config.json read by Python's json has the types transformers' FlexOlmoConfig declares", { skip: fs.existsSync(PY) ? false : `${PY} not installed` }, () => {
  // The annotations of FlexOlmoConfig (transformers, configuration_flex_olmo.py); rope_theta: its default_theta = 500000.0.
  const script = String.raw`
import json, sys
declared = {
  "vocab_size": (int,), "hidden_size": (int,), "intermediate_size": (int,), "num_hidden_layers": (int,),
  "num_attention_heads": (int,), "num_key_value_heads": (int, type(None)), "hidden_act": (str,),
  "max_position_embeddings": (int,), "initializer_range": (float,), "rms_norm_eps": (float,), "use_cache": (bool,),
  "pad_token_id": (int, type(None)), "bos_token_id": (int, type(None)), "eos_token_id": (int, list, type(None)),
  "tie_word_embeddings": (bool,), "attention_bias": (bool,), "attention_dropout": (float, type(None)),
  "num_experts_per_tok": (int,), "num_experts": (int,), "output_router_logits": (bool,),
  "router_aux_loss_coef": (float,), "norm_topk_prob": (bool,), "rope_theta": (float,),
}
bad = []
for f in sys.argv[1:]:
    c = json.load(open(f))
    for k, types in declared.items():
        if k not in c: bad.append(f"{f}: {k} missing"); continue
        v = c[k]
        # bool is a subclass of int in Python: an int field must not be a bool, a bool field must be one
        ok = isinstance(v, types) and not (bool not in types and isinstance(v, bool))
        if not ok: bad.append(f"{f}: {k} = {v!r} is {type(v).__name__}, FlexOlmoConfig declares {'/'.join(t.__name__ for t in types)}")
print("\n".join(bad) if bad else "ok")
`;
  const r = spawnSync(PY, ["-c", script, ...Object.values(dirs).map((d) => path.join(d, "config.json"))], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "ok");
});
