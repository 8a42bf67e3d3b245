/**
 * bench/gpu/ours.ts at the tiny preset on wasm: the numbers are not checked (speed is for the
 * benchmark), but the report's shape, the parameter counts, the exported checkpoints that hf.py
 * loads, and the argument errors are.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main, parseArgs } from "../../../bench/gpu/ours";
import { readCheckpointInfo } from "../../../lib/io/checkpoint";
import { MODEL_PRESETS } from "../../../lib/model/config";
import { paramCount } from "../../../lib/model/model";
import { TRAIN_PRESETS } from "../../../lib/train/config";

test("bad arguments get specific errors", () => {
  assert.throws(() => parseArgs(["--preset", "huge"]), /--preset must be one of tiny, cpu, gpu/);
  assert.throws(() => parseArgs(["--models", "dense,moe3"]), /unknown model "moe3"/);
  assert.throws(() => parseArgs(["--batch", "0"]), /--batch needs a positive integer/);
  assert.throws(() => parseArgs(["--export-only"]), /--export-only needs --export DIR/);
  assert.throws(() => parseArgs(["--frobnicate"]), /unknown flag --frobnicate/);
  assert.throws(() => parseArgs(["--export-onyl"]), /unknown flag --export-onyl \(did you mean --export-only\?\)/);
  assert.throws(() => parseArgs(["--reps", "two"]), /--reps must be an integer \(got "two"\)/);
  const a = parseArgs([]);
  assert.equal(a.preset, "gpu");
  assert.deepEqual(a.models, ["dense", "moe8"]);
  assert.equal(a.moeK, 4);
});

test("a tiny run on wasm measures both models and exports checkpoints hf.py can read", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-gpu-bench-"));
  const log = console.log;
  const err = console.error;
  console.log = () => undefined; // the table
  console.error = () => undefined; // progress lines
  try {
    const out = path.join(dir, "ours.json");
    const r = await main(["--preset", "tiny", "--backend", "wasm", "--reps", "1", "--export", path.join(dir, "ckpt"), "--out", out]);
    assert.deepEqual(JSON.parse(fs.readFileSync(out, "utf-8")), JSON.parse(JSON.stringify(r)));
    assert.equal(r.backend.name, "wasm");
    assert.deepEqual(r.models.map((m) => [m.model, m.experts, m.topK]), [["dense", 1, 1], ["moe8", 8, 4]]);
    for (const m of r.models) {
      assert.equal(m.forwardError, undefined);
      assert.equal(m.trainError, undefined);
      assert.ok(m.forward && m.forward.tokensPerSec > 0 && Number.isFinite(m.forward.tokensPerSec));
      assert.ok(m.train && m.train.tokensPerSec > 0 && Number.isFinite(m.train.tokensPerSec));
      // tokens/s is B·T per median step: check the arithmetic against the reported time.
      assert.ok(Math.abs(m.train.tokensPerSec - (m.batchSize * m.seqLen * 1000) / m.train.msMedian) < 1e-6);
      assert.equal(m.batchSize, TRAIN_PRESETS.tiny.batchSize);
      assert.equal(m.seqLen, TRAIN_PRESETS.tiny.seqLen);
      const cfg = { ...MODEL_PRESETS.tiny, experts: Array.from({ length: m.experts }, (_, i) => `e${i}`), topK: m.topK };
      assert.equal(m.params.total, paramCount(cfg).total);
      // The export: a real checkpoint (our loader reads it back) with the HF config and the batch shape.
      const info = await readCheckpointInfo(m.checkpoint!);
      assert.equal(info.config.experts.length, m.experts);
      assert.equal(info.config.topK, m.topK);
      const hf = JSON.parse(fs.readFileSync(path.join(m.checkpoint!, "config.json"), "utf-8"));
      assert.equal(hf.architectures[0], "FlexOlmoForCausalLM");
      assert.equal(hf.num_experts, m.experts);
      const bench = JSON.parse(fs.readFileSync(path.join(m.checkpoint!, "bench.json"), "utf-8"));
      assert.equal(bench.batchSize, m.batchSize);
      assert.equal(bench.seqLen, m.seqLen);
    }
  } finally {
    console.log = log;
    console.error = err;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
