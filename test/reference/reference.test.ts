/**
 * Our TF.js forward (through a saved-and-reloaded checkpoint) against an independent numpy
 * implementation written from Hugging Face's FlexOlmo modeling code (`flexolmo_ref.py`, float64).
 * The agreement bound 1e-4 is float32 rounding headroom: observed differences are ~1e-6.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { initBackend } from "../../lib/backend";
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from "../../lib/io/checkpoint";
import type { ModelConfig } from "../../lib/model/config";
import { disposeParams, forward } from "../../lib/model/model";
import { randomParams, tempDir, tinyConfig } from "../io/fixtures";

const PYTHON = "/usr/bin/python3";
// dist/test/reference/*.js → the .py file stays in the source tree.
const REF = path.resolve(__dirname, "../../../test/reference/flexolmo_ref.py");
const numpyMissing = spawnSync(PYTHON, ["-c", "import numpy"]).status !== 0;
const SKIP = numpyMissing ? `needs numpy: ${PYTHON} -c "import numpy" failed (install with: apt-get install -y python3-numpy)` : false;

before(async () => {
  await initBackend("cpu");
});

interface RefOut {
  logits: number[][];
  router: number[][][];
  minTopkMargin: number | null;
}

function reference(dir: string, ids: number[], include: boolean[], k: number, bias: "keep" | "drop"): RefOut {
  const out = execFileSync(PYTHON, [REF, dir, "--ids", ids.join(","), "--include", include.map(Number).join(","), "--top-k", String(k), "--bias", bias], { encoding: "utf-8", maxBuffer: 64 << 20 });
  return JSON.parse(out) as RefOut;
}

function maxAbsDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

interface Case {
  name: string;
  /**
   * Fixture seed. For cases with a real top-k choice it is one whose smallest gap between the k-th
   * and (k+1)-th router probability is > 1e-3 (random routers often produce gaps of 1e-5, where the
   * choice could legitimately differ by rounding between two correct implementations).
   */
  seed: number;
  cfg: ModelConfig;
  include: boolean[];
  k: number;
  bias: "keep" | "drop";
}

const IDS = [3, 17, 0, 42, 60, 5, 5, 29, 11];

const CASES: Case[] = [
  { name: "dense (one public expert)", seed: 1000, cfg: tinyConfig({ experts: ["public"], topK: 1 }), include: [true], k: 1, bias: "keep" },
  { name: "2 experts, top-2, bias drop", seed: 1001, cfg: tinyConfig({ experts: ["public", "news"], topK: 2 }), include: [true, true], k: 2, bias: "drop" },
  {
    name: "4 experts, top-2, expert 2 excluded, bias keep",
    seed: 1007, // min top-k margin 3.8e-3
    cfg: tinyConfig({ experts: ["public", "news", "code", "math"], topK: 2 }),
    include: [true, true, false, true],
    k: 2,
    bias: "keep",
  },
  {
    name: "4 experts, top-2, norm_topk_prob, grouped KV heads",
    seed: 1000, // min top-k margin 1.7e-2
    cfg: tinyConfig({ experts: ["public", "news", "code", "math"], topK: 2, normTopkProb: true, nHeads: 4, nKvHeads: 2 }),
    include: [true, true, true, true],
    k: 2,
    bias: "keep",
  },
];

const worst = { logits: 0, router: 0 };

for (const c of CASES) {
  test(`numpy reference agrees with forward: ${c.name}`, { skip: SKIP }, async () => {
    const { dir, cleanup } = tempDir("flexolmo-ref-");
    const p = randomParams(c.cfg, c.seed);
    try {
      await saveCheckpoint(dir + "/ck", { config: c.cfg, params: p });
      const ck = await loadCheckpoint(dir + "/ck");
      const T = IDS.length;
      const E = c.cfg.experts.length;
      let telemetry: ReturnType<typeof forward>["telemetry"];
      const logitsT = tf.tidy(() => {
        const r = forward(ck.params, ck.config, tf.tensor2d(IDS, [1, T], "int32"), { include: c.include, topK: c.k, bias: c.bias, telemetry: true });
        telemetry = r.telemetry;
        return r.logits; // [1, T, V]
      });
      const ours = Array.from(logitsT.dataSync());
      logitsT.dispose();
      disposeCheckpoint(ck);

      const ref = reference(dir + "/ck", IDS, c.include, c.k, c.bias);
      // A near-tie in the top-k choice would make the comparison ill-posed (either side may pick
      // differently by rounding); 1e-4 is ~1000× the float32 disagreement observed in router probs.
      if (ref.minTopkMargin !== null) assert.ok(ref.minTopkMargin > 1e-4, `top-k margin ${ref.minTopkMargin} too small for a stable comparison`);

      const dLogits = maxAbsDiff(ours, ref.logits.flat());
      assert.ok(dLogits < 1e-4, `logits differ by ${dLogits}`);
      assert.equal(telemetry!.layers.length, c.cfg.nLayers);
      let dRouter = 0;
      telemetry!.layers.forEach((l, layer) => {
        assert.equal(l.probs.length, T * E);
        dRouter = Math.max(dRouter, maxAbsDiff(Array.from(l.probs), ref.router[layer].flat()));
        for (let e = 0; e < E; e++) if (!c.include[e]) for (let t = 0; t < T; t++) assert.equal(l.probs[t * E + e], 0, "excluded expert has probability 0");
      });
      assert.ok(dRouter < 1e-4, `router probabilities differ by ${dRouter}`);
      worst.logits = Math.max(worst.logits, dLogits);
      worst.router = Math.max(worst.router, dRouter);

      // The comparison discriminates: the same model with the other bias mode or without the
      // exclusion gives clearly different numbers (where those options matter).
      if (E > 1 && c.bias === "keep") {
        const other = reference(dir + "/ck", IDS, c.include, c.k, "drop");
        assert.ok(maxAbsDiff(ours, other.logits.flat()) > 1e-3, "bias keep/drop must change the logits");
      }
      if (c.include.includes(false)) {
        const all = reference(dir + "/ck", IDS, c.include.map(() => true), c.k, c.bias);
        assert.ok(maxAbsDiff(ours, all.logits.flat()) > 1e-3, "excluding an expert must change the logits");
      }
    } finally {
      disposeParams(p);
      cleanup();
    }
  });
}

test("report the worst reference difference", { skip: SKIP }, () => {
  // Printed for the record (benchmarks and the report quote it); the per-case assertions above gate.
  console.log(`reference: max |Δ| vs numpy: logits ${worst.logits.toExponential(2)}, router probs ${worst.router.toExponential(2)}`);
  assert.ok(worst.logits < 1e-4 && worst.router < 1e-4);
});
