/**
 * The `flexolmo` CLI: `info` and `logits` run as real subprocesses on a tiny checkpoint; argument
 * errors are checked in-process through `main()` (same code path, no process start-up per case)
 * plus once as a subprocess for the exit code.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend } from "../../lib/backend";
import { main } from "../../lib/cli/main";
import { saveCheckpoint } from "../../lib/io/checkpoint";
import { trainByteLevelBpe } from "../../lib/data/bpe-train";
import { tokenizerFromJson } from "../../lib/data/tokenizer";
import { disposeParams } from "../../lib/model/model";
import { randomParams, tempDir, tinyConfig } from "../io/fixtures";
import { CLI, cli, inProcess } from "./helpers";

const tmp = tempDir("flexolmo-cli-");
const CK = path.join(tmp.dir, "ck");
const cfg = tinyConfig(); // experts public, news, code; top-2; 2 layers; vocab 61

before(async () => {
  await initBackend("cpu");
  const p = randomParams(cfg, 77);
  await saveCheckpoint(CK, {
    config: cfg,
    params: p,
    sidecar: { dataCards: { news: { owner: "Daily Planet", licence: "CC-BY-4.0" } }, provenance: { run: "unit-test" }, step: 12 },
  });
  disposeParams(p);
});

after(() => tmp.cleanup());



interface LogitsOut {
  ids: number[];
  experts: string[];
  include: boolean[];
  topK: number;
  bias: string;
  logits: number[][];
  router: number[][][];
}

test("flexolmo info: config, parameter counts, experts with bias values, data cards", () => {
  const r = cli(["info", CK]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /vocab 61, d_model 16, 2 layers, 2 heads \(2 kv\), d_ff 24/);
  assert.match(r.stdout, /3 experts, top-2, norm_topk_prob false/);
  // Hand count (see test/io/checkpoint.test.ts): HF file 11,152; + 2·3 bias = 11,158 total;
  // active = total − (3 − 2) experts · 2 layers · 3·16·24 = 11,158 − 2,304 = 8,854.
  assert.match(r.stdout, /total 11,158 · active 8,854 \(top-2 of 3\) · in the HF file 11,152/);
  assert.match(r.stdout, /^\s+0\s+public\s+\(public\)$/m);
  assert.match(r.stdout, /^\s+1\s+news\s+bias min\(β,0\) per layer: -?\d\.\d{4} -?\d\.\d{4}$/m);
  assert.match(r.stdout, /news: \{"owner":"Daily Planet","licence":"CC-BY-4.0"\}/);
  assert.match(r.stdout, /provenance\s+\{"run":"unit-test"\}/);
  assert.match(r.stdout, /step\s+12/);

  const j = cli(["info", CK, "--json"]);
  assert.equal(j.code, 0, j.stderr);
  const info = JSON.parse(j.stdout);
  assert.deepEqual(info.params, { total: 11158, active: 8854, hf: 11152 });
  assert.deepEqual(info.experts.map((e: { name: string }) => e.name), ["public", "news", "code"]);
  assert.equal(info.experts[0].bias, null);
  assert.equal(info.experts[1].bias.length, 2);
  assert.deepEqual(info.experts[1].dataCard, { owner: "Daily Planet", licence: "CC-BY-4.0" });
});

test("flexolmo logits: JSON shape, probabilities, --without removes the expert from the softmax", () => {
  const all = cli(["logits", CK, "--ids", "1,2,3,4"]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stderr, /backend: cpu/);
  const a = JSON.parse(all.stdout) as LogitsOut;
  assert.deepEqual(a.ids, [1, 2, 3, 4]);
  assert.equal(a.logits.length, 4);
  assert.ok(a.logits.every((row) => row.length === 61 && row.every(Number.isFinite)));
  assert.equal(a.router.length, 2);
  for (const layer of a.router) {
    assert.equal(layer.length, 4);
    for (const p of layer) {
      assert.equal(p.length, 3);
      assert.ok(Math.abs(p.reduce((s, x) => s + x, 0) - 1) < 1e-5);
    }
  }
  assert.equal(a.topK, 2);
  assert.equal(a.bias, "keep");

  const wo = cli(["logits", CK, "--ids", "1,2,3,4", "--without", "news"]);
  assert.equal(wo.code, 0, wo.stderr);
  const w = JSON.parse(wo.stdout) as LogitsOut;
  assert.deepEqual(w.include, [true, false, true]);
  for (const layer of w.router) {
    for (const p of layer) {
      assert.equal(p[1], 0, "the removed expert's column is zero");
      assert.ok(Math.abs(p[0] + p[2] - 1) < 1e-5, "the remaining experts' probabilities sum to 1");
    }
  }
  // Layer 0 sees the same router input either way (nothing before it depends on the experts), so
  // removing a row from a softmax must give p'_e = p_e / (1 − p_news), i.e. the ratio between the
  // remaining experts is unchanged. (Compared as ratios: 1 − p_news cancels badly in float32 when
  // p_news ≈ 1, which this fixture has.)
  for (let t = 0; t < 4; t++) {
    const before = a.router[0][t][0] / a.router[0][t][2];
    const afterRemoval = w.router[0][t][0] / w.router[0][t][2];
    assert.ok(Math.abs(afterRemoval / before - 1) < 1e-4, `token ${t}: p_public/p_code ${before} → ${afterRemoval}`);
  }
  assert.ok(a.logits.flat().some((x, i) => Math.abs(x - w.logits.flat()[i]) > 1e-4), "removing an expert changes the logits");

  // The same exclusion by index and by --only.
  const byIndex = JSON.parse(cli(["logits", CK, "--ids", "1,2,3,4", "--without", "1"]).stdout) as LogitsOut;
  assert.deepEqual(byIndex.logits, w.logits);
  const only = JSON.parse(cli(["logits", CK, "--ids", "1,2,3,4", "--only", "public,code"]).stdout) as LogitsOut;
  assert.deepEqual(only.router, w.router);
});

test("flexolmo logits --top-k and --bias reach the model", async () => {
  const k1 = await inProcess(["logits", CK, "--ids", "5,6", "--top-k", "1", "--bias", "drop"]);
  assert.equal(k1.code, 0, k1.stderr);
  const o = JSON.parse(k1.stdout) as LogitsOut;
  assert.equal(o.topK, 1);
  assert.equal(o.bias, "drop");
  const k2 = JSON.parse((await inProcess(["logits", CK, "--ids", "5,6", "--bias", "drop"])).stdout) as LogitsOut;
  // Layer 0 router probabilities do not depend on k; the logits do.
  assert.deepEqual(o.router[0], k2.router[0]);
  assert.notDeepEqual(o.logits, k2.logits);
  const keep = JSON.parse((await inProcess(["logits", CK, "--ids", "5,6"])).stdout) as LogitsOut;
  assert.notDeepEqual(keep.router[0], k2.router[0], "bias keep vs drop changes the routing (fixture biases are nonzero)");
});

test("flexolmo logits --text tokenizes with --tokenizer", async () => {
  const corpus = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"];
  const tokJson = trainByteLevelBpe(corpus, { vocabSize: 270 });
  const tokFile = path.join(tmp.dir, "tokenizer.json");
  fs.writeFileSync(tokFile, JSON.stringify(tokJson));
  const tok = tokenizerFromJson(tokJson);
  const big = tinyConfig({ vocabSize: tok.vocabSize });
  const p = randomParams(big, 5);
  const ck = path.join(tmp.dir, "ck-text");
  await saveCheckpoint(ck, { config: big, params: p });
  disposeParams(p);
  const r = await inProcess(["logits", ck, "--text", "the cat sat", "--tokenizer", tokFile]);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout) as LogitsOut;
  assert.deepEqual(o.ids, tok.encode("the cat sat"));
  assert.equal(o.logits.length, o.ids.length);
});

test("usage errors exit with code 2 and say what was wrong", async () => {
  const cases: [string[], RegExp][] = [
    [["logits", CK, "--ids", "1,2", "--topk", "1"], /unknown flag --topk \(did you mean --top-k\?\)/],
    [["logits", CK, "--ids", "1,x"], /--ids must be comma-separated non-negative integers; "x" is not/],
    [["logits", CK], /exactly one of --ids 1,2,3 or --text/],
    [["logits", CK, "--ids", "1", "--text", "hi"], /exactly one of --ids/],
    [["logits", CK, "--ids", "1", "--without", "sports"], /--without "sports": no such expert \(experts: 0=public, 1=news, 2=code\)/],
    [["logits", CK, "--ids", "1", "--without", "7"], /--without 7: expert index out of range/],
    [["logits", CK, "--ids", "1", "--without", "news", "--only", "code"], /either --without or --only/],
    [["logits", CK, "--ids", "1", "--only", "public,news,code", "--without", "0"], /either --without or --only/],
    [["logits", CK, "--ids", "1", "--without", "public,news,code"], /every expert is excluded/],
    [["logits", CK, "--ids", "1", "--without", "news", "--top-k", "3"], /--top-k must be between 1 and the number of included experts \(2\); got 3/],
    [["logits", CK, "--ids", "1", "--top-k", "two"], /--top-k must be an integer \(got "two"\)/],
    [["logits", CK, "--ids", "1", "--bias", "maybe"], /--bias must be one of keep, drop \(got "maybe"\)/],
    [["logits", CK, "--ids", "99"], /token id 99 is outside the model's vocabulary \(0 … 60\)/],
    [["logits", CK, "--ids"], /--ids needs a value/],
    [["logits"], /missing DIR/],
    [["info", CK, "extra"], /unexpected argument "extra"/],
    [["infoo", CK], /unknown command "infoo" \(did you mean info\?\)/],
    [[], /Usage: flexolmo <command>/],
  ];
  for (const [args, re] of cases) {
    const r = await inProcess(args);
    assert.equal(r.code, 2, `${args.join(" ")} → exit ${r.code}; stderr: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.equal(r.stdout, "", "nothing on stdout for a usage error");
  }
  // The real process exit code, once.
  const sub = cli(["logits", CK, "--ids", "1", "--bogus"]);
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /unknown flag --bogus\nRun 'flexolmo logits --help' for usage\./);
});

test("help exits 0; a broken checkpoint exits 1 with the loader's message", async () => {
  const h = await inProcess(["logits", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Usage: flexolmo logits DIR \[flags\]/);
  assert.match(h.stdout, /--without NAME\|INDEX\s+switch an expert off \(repeatable\)/);
  assert.match(h.stdout, /--backend NAME/);
  const g = await inProcess(["--help"]);
  assert.equal(g.code, 0);
  assert.match(g.stdout, /^\s+info\s+Show a checkpoint's config/m);
  assert.match(g.stdout, /^\s+logits\s+Print next-token logits/m);

  const missing = await inProcess(["info", path.join(tmp.dir, "nope")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /flexolmo info: .*nope: checkpoint directory does not exist/);
  const notCk = path.join(tmp.dir, "empty");
  fs.mkdirSync(notCk, { recursive: true });
  const e = await inProcess(["logits", notCk, "--ids", "1"]);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /missing config\.json/);
});
