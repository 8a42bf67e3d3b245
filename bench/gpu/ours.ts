/**
 * GPU benchmark, our side: forward and training tokens/s of the FlexOlmo model on the active TF.js
 * backend, for a dense model and an 8-expert model, at one preset. bench/gpu/hf.py measures
 * transformers' FlexOlmoForCausalLM on the same configs (exported here with our checkpoint writer)
 * and prints both side by side. bench/gpu/run.sh runs the two on a GPU machine; docs/gpu.md explains.
 *
 *   node dist/bench/gpu/ours.js                                   # gpu preset, automatic backend
 *   FLEXOLMO_BACKEND=webgpu node dist/bench/gpu/ours.js --out /tmp/ours.json --export /tmp/cfgs
 *   node dist/bench/gpu/ours.js --preset tiny --backend wasm      # a seconds-long smoke run on a CPU
 *
 * Definitions (the same in hf.py):
 *   forward: logits for B×T tokens, synchronised by reading their sum (not the whole logits tensor:
 *            copying [B, T, V] to the host would time PCIe, not the model).
 *   train:   one full step of our Trainer: forward, cross-entropy + router z-loss, backward, global
 *            gradient-norm clipping, AdamW update; the step ends with the host reading the loss.
 * tokens/s = B·T / median seconds. Inputs are uniform random tokens (an untrained router spreads
 * them roughly evenly across experts, the worst case for sparse dispatch).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { BackendReport, initBackend } from "../../lib/backend";
import { saveCheckpoint } from "../../lib/io/checkpoint";
import { MODEL_PRESETS, ModelConfig, PresetName } from "../../lib/model/config";
import { flopsPerToken } from "../../lib/model/flops";
import { disposeParams, forward, initParams, paramCount } from "../../lib/model/model";
import { Rng } from "../../lib/model/rng";
import { randomWindows } from "../../lib/train/batches";
import { TRAIN_PRESETS } from "../../lib/train/config";
import { Trainer } from "../../lib/train/trainer";

interface Args {
  preset: PresetName;
  backend?: string;
  models: string[];
  batch?: number;
  seq?: number;
  /** Timed forward passes / training steps (after one warm-up each). */
  reps: number;
  /** Experts per token in the 8-expert model. */
  moeK: number;
  /** Directory for one checkpoint per model (config.json + weights + bench.json) that hf.py loads. */
  exportDir?: string;
  /** Export the checkpoints and stop (no measurement). */
  exportOnly: boolean;
  out?: string;
}

const USAGE =
  "usage: node dist/bench/gpu/ours.js [--preset gpu|cpu|tiny] [--backend NAME] [--models dense,moe8] [--batch B] [--seq T]\n" +
  "                                   [--reps N] [--moe-k K] [--export DIR [--export-only]] [--out FILE]";

/** The two models of the issue: dense (one expert) and FlexOlmo's merged shape, 8 experts. */
const EXPERT_NAMES = ["public", "math", "code", "news", "creative", "academic", "reddit", "edu"];
function modelSpec(name: string, moeK: number): { experts: number; topK: number } {
  if (name === "dense") return { experts: 1, topK: 1 };
  if (name === "moe8") return { experts: 8, topK: moeK };
  throw new Error(`--models: unknown model "${name}" (use dense and/or moe8)`);
}

function positiveInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer (got ${JSON.stringify(v)})`);
  return n;
}

export function parseArgs(argv: string[]): Args {
  // Defaults: the gpu preset; top-4 of 8 is the paper's merged-model setting (docs/method.md §8.3: "top-4 of 8").
  const a: Args = { preset: "gpu", models: ["dense", "moe8"], reps: 5, moeK: 4, exportOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${s} needs a value\n${USAGE}`);
      return v;
    };
    if (s === "--preset") {
      const p = val();
      if (!(p in MODEL_PRESETS)) throw new Error(`--preset must be one of ${Object.keys(MODEL_PRESETS).join(", ")} (got "${p}")`);
      a.preset = p as PresetName;
    } else if (s === "--backend") a.backend = val();
    else if (s === "--models") a.models = val().split(",").map((x) => x.trim()).filter(Boolean);
    else if (s === "--batch") a.batch = positiveInt(s, val());
    else if (s === "--seq") a.seq = positiveInt(s, val());
    else if (s === "--reps") a.reps = positiveInt(s, val());
    else if (s === "--moe-k") a.moeK = positiveInt(s, val());
    else if (s === "--export") a.exportDir = val();
    else if (s === "--export-only") a.exportOnly = true;
    else if (s === "--out") a.out = val();
    else if (s === "--help" || s === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`Unknown argument "${s}"\n${USAGE}`);
  }
  for (const m of a.models) modelSpec(m, a.moeK); // validate names early
  if (a.exportOnly && !a.exportDir) throw new Error("--export-only needs --export DIR");
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface Measurement {
  tokensPerSec: number;
  msMedian: number;
  msMin: number;
  /** Model TFLOP/s (matrix products only, lib/model/flops.ts; training = 3 × forward). */
  tflops: number;
}

export interface ModelResult {
  model: string;
  experts: number;
  topK: number;
  params: { total: number; active: number };
  batchSize: number;
  seqLen: number;
  forward?: Measurement;
  forwardError?: string;
  train?: Measurement;
  trainError?: string;
  /** Checkpoint directory for hf.py (with --export). */
  checkpoint?: string;
}

export interface OursReport {
  tool: "flexolmo-lab bench/gpu/ours";
  date: string;
  preset: PresetName;
  backend: Pick<BackendReport, "name" | "tfBackend" | "gpu" | "summary" | "adapter">;
  node: string;
  models: ModelResult[];
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

async function measureForward(p: ReturnType<typeof initParams>, cfg: ModelConfig, ids: Int32Array, B: number, T: number, reps: number): Promise<number[]> {
  const once = async () => {
    const t0 = performance.now();
    // A fresh ids tensor each pass: the model checks ids on the host (dataSync), which webgpu can do
    // only while the tensor has not been uploaded yet. Uploading B·T int32s costs microseconds.
    const s = tf.tidy(() => tf.sum(forward(p, cfg, tf.tensor2d(ids, [B, T], "int32")).logits));
    await s.data(); // async read: the one kind every backend supports (webgpu has no sync reads in Node)
    s.dispose();
    return performance.now() - t0;
  };
  await once(); // warm-up: shader / kernel compilation
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) ms.push(await once());
  return ms;
}

async function benchModel(name: string, a: Args): Promise<ModelResult> {
  const spec = modelSpec(name, a.moeK);
  const cfg: ModelConfig = { ...MODEL_PRESETS[a.preset], experts: EXPERT_NAMES.slice(0, spec.experts), topK: spec.topK };
  const tc = { ...TRAIN_PRESETS[a.preset], batchSize: a.batch ?? TRAIN_PRESETS[a.preset].batchSize, seqLen: a.seq ?? TRAIN_PRESETS[a.preset].seqLen };
  if (tc.seqLen > cfg.maxSeqLen) throw new Error(`--seq ${tc.seqLen} exceeds the preset's maxSeqLen ${cfg.maxSeqLen}`);
  const B = tc.batchSize, T = tc.seqLen, N = B * T;
  const pc = paramCount(cfg);
  const f = flopsPerToken(cfg, T);
  const res: ModelResult = { model: name, experts: spec.experts, topK: spec.topK, params: { total: pc.total, active: pc.active }, batchSize: B, seqLen: T };
  const p = initParams(cfg, 0);
  try {
    if (a.exportDir) {
      // Before any compute, so every weight is still host-resident (webgpu cannot read GPU tensors synchronously).
      res.checkpoint = path.resolve(a.exportDir, name);
      await saveCheckpoint(res.checkpoint, { config: cfg, params: p });
      // What hf.py must match besides config.json: the batch shape and the training hyperparameters.
      const bench = { preset: a.preset, model: name, batchSize: B, seqLen: T, lr: tc.lr, beta1: tc.beta1, beta2: tc.beta2, eps: tc.eps, weightDecay: tc.weightDecay, gradClip: tc.gradClip, zLossWeight: tc.zLossWeight };
      fs.writeFileSync(path.join(res.checkpoint, "bench.json"), JSON.stringify(bench, null, 2) + "\n");
      if (a.exportOnly) return res;
    }
    const rng = new Rng(7);
    const tokens = Int32Array.from({ length: Math.max(200_000, 4 * (T + 1) * B) }, () => rng.int(cfg.vocabSize));
    const ids = Int32Array.from({ length: N }, () => rng.int(cfg.vocabSize));
    try {
      const ms = await measureForward(p, cfg, ids, B, T, a.reps);
      const m = median(ms);
      res.forward = { tokensPerSec: (N / m) * 1000, msMedian: m, msMin: Math.min(...ms), tflops: (f.forward * N) / (m * 1e9) };
    } catch (e) {
      res.forwardError = firstLine(e);
    }
    const tr = new Trainer(p, cfg, tc, randomWindows(tokens, B, T, 0), { routingStats: false });
    try {
      await tr.steps(1); // warm-up
      const secs: number[] = [];
      await tr.steps(a.reps, { onProgress: (q) => secs.push(q.seconds * 1000) });
      const m = median(secs);
      res.train = { tokensPerSec: (N / m) * 1000, msMedian: m, msMin: Math.min(...secs), tflops: (f.train * N) / (m * 1e9) };
    } catch (e) {
      res.trainError = firstLine(e);
    } finally {
      tr.dispose();
    }
  } finally {
    disposeParams(p);
  }
  return res;
}

function fmt(x: number | undefined, digits = 0): string {
  return x === undefined || !Number.isFinite(x) ? "—" : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export async function main(argv: string[]): Promise<OursReport> {
  const a = parseArgs(argv);
  const backend = await initBackend(a.backend);
  console.error(`backend: ${backend.summary}`);
  const models: ModelResult[] = [];
  for (const m of a.models) {
    console.error(`measuring ${m} at the ${a.preset} preset …`);
    models.push(await benchModel(m, a));
  }
  const report: OursReport = {
    tool: "flexolmo-lab bench/gpu/ours",
    date: new Date().toISOString(),
    preset: a.preset,
    backend: { name: backend.name, tfBackend: backend.tfBackend, gpu: backend.gpu, summary: backend.summary, ...(backend.adapter ? { adapter: backend.adapter } : {}) },
    node: process.version,
    models,
  };
  console.log(`\nours (${backend.name}), preset ${a.preset}`);
  console.log("| model | params (active) | B×T | forward tok/s | train tok/s | train TFLOP/s |");
  console.log("|---|---|---|---|---|---|");
  for (const r of models) {
    const cell = (m: Measurement | undefined, err: string | undefined) => (m ? fmt(m.tokensPerSec) : err ? `failed: ${err}` : "not measured");
    const fw = cell(r.forward, r.forwardError);
    const trn = cell(r.train, r.trainError);
    console.log(`| ${r.model} (E=${r.experts}, k=${r.topK}) | ${fmt(r.params.total / 1e6, 1)} M (${fmt(r.params.active / 1e6, 1)} M) | ${r.batchSize}×${r.seqLen} | ${fw} | ${trn} | ${fmt(r.train?.tflops, 2)} |`);
  }
  if (a.out) {
    fs.mkdirSync(path.dirname(path.resolve(a.out)), { recursive: true });
    const tmp = `${a.out}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(report, null, 2) + "\n");
    fs.renameSync(tmp, a.out); // atomic: a killed run never leaves half a JSON file
    console.error(`wrote ${a.out}`);
  }
  return report;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
