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
import { parseArgs as parseCliArgs, scriptHelp, type ScriptSpec, UsageError } from "../../lib/cli/args";
import { Progress } from "../../lib/cli/progress";

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
  /** Print the report on stdout instead of the table. */
  json: boolean;
}

export const SPEC: ScriptSpec = {
  prog: "node dist/bench/gpu/ours.js",
  summary: "GPU benchmark, our side: forward and training tokens/s of a dense and an 8-expert FlexOlmo model on the active TF.js backend.",
  description: "The table goes to stdout, progress to stderr. bench/gpu/hf.py measures transformers on the same configs (--export); docs/gpu.md explains.",
  flags: [
    { name: "preset", type: "string", choices: Object.keys(MODEL_PRESETS), help: "model and batch size (default gpu)" },
    { name: "backend", type: "string", metavar: "NAME", help: "TF.js backend (default: automatic, or FLEXOLMO_BACKEND)" },
    { name: "models", type: "string", metavar: "LIST", help: "dense and/or moe8, comma-separated (default dense,moe8)" },
    { name: "batch", type: "int", metavar: "B", help: "batch size (default: the preset's)" },
    { name: "seq", type: "int", metavar: "T", help: "sequence length (default: the preset's)" },
    { name: "reps", type: "int", metavar: "N", help: "timed forward passes / training steps after one warm-up each (default 5)" },
    { name: "moe-k", type: "int", metavar: "K", help: "experts per token in the 8-expert model (default 4)" },
    { name: "export", type: "string", metavar: "DIR", help: "write one checkpoint per model (config.json + weights + bench.json) for hf.py" },
    { name: "export-only", type: "boolean", help: "export the checkpoints and stop (needs --export)" },
    { name: "out", type: "string", metavar: "FILE", help: "also write the report as JSON" },
    { name: "json", type: "boolean", help: "print the report as one JSON document on stdout instead of the table" },
  ],
  examples: ["node dist/bench/gpu/ours.js", "FLEXOLMO_BACKEND=webgpu node dist/bench/gpu/ours.js --out /tmp/ours.json --export /tmp/cfgs", "node dist/bench/gpu/ours.js --preset tiny --backend wasm"],
};

/** The two models of the issue: dense (one expert) and FlexOlmo's merged shape, 8 experts. */
const EXPERT_NAMES = ["public", "math", "code", "news", "creative", "academic", "reddit", "edu"];
function modelSpec(name: string, moeK: number): { experts: number; topK: number } {
  if (name === "dense") return { experts: 1, topK: 1 };
  if (name === "moe8") return { experts: 8, topK: moeK };
  throw new UsageError(`--models: unknown model "${name}" (use dense and/or moe8)`);
}

function positiveInt(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new UsageError(`--${flag} needs a positive integer (got ${String(v)})`);
  return v;
}

/** The benchmark's arguments (throws UsageError; prints the help and exits on --help, as the CLI). */
export function parseArgs(argv: string[]): Args {
  const p = parseCliArgs(argv, SPEC.flags, []);
  if (p.help) {
    process.stdout.write(scriptHelp(SPEC));
    process.exit(0);
  }
  const f = p.flags;
  // Defaults: the gpu preset; top-4 of 8 is the paper's merged-model setting (docs/method.md §8.3: "top-4 of 8").
  const a: Args = {
    preset: ((f.preset as string | undefined) ?? "gpu") as PresetName,
    backend: f.backend as string | undefined,
    models: ((f.models as string | undefined) ?? "dense,moe8").split(",").map((x) => x.trim()).filter(Boolean),
    batch: positiveInt("batch", f.batch),
    seq: positiveInt("seq", f.seq),
    reps: positiveInt("reps", f.reps) ?? 5,
    moeK: positiveInt("moe-k", f["moe-k"]) ?? 4,
    exportDir: f.export as string | undefined,
    exportOnly: Boolean(f["export-only"]),
    out: f.out as string | undefined,
    json: Boolean(f.json),
  };
  for (const m of a.models) modelSpec(m, a.moeK); // validate names early
  if (a.exportOnly && !a.exportDir) throw new UsageError("--export-only needs --export DIR");
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
    // A fresh ids tensor each pass, as the evaluation makes them (uploading B·T int32s costs microseconds).
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
  const progress = new Progress({ label: "bench gpu", unit: "models", total: a.models.length, stream: process.stderr, showRate: false });
  progress.update(0);
  for (const m of a.models) {
    progress.stage(m);
    progress.log(`measuring ${m} at the ${a.preset} preset …`);
    models.push(await benchModel(m, a));
    progress.update(models.length);
  }
  progress.finish();
  const report: OursReport = {
    tool: "flexolmo-lab bench/gpu/ours",
    date: new Date().toISOString(),
    preset: a.preset,
    backend: { name: backend.name, tfBackend: backend.tfBackend, gpu: backend.gpu, summary: backend.summary, ...(backend.adapter ? { adapter: backend.adapter } : {}) },
    node: process.version,
    models,
  };
  if (a.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(`ours (${backend.name}), preset ${a.preset}`);
    console.log("| model | params (active) | B×T | forward tok/s | train tok/s | train TFLOP/s |");
    console.log("|---|---|---|---|---|---|");
    for (const r of models) {
      const cell = (m: Measurement | undefined, err: string | undefined) => (m ? fmt(m.tokensPerSec) : err ? `failed: ${err}` : "not measured");
      const fw = cell(r.forward, r.forwardError);
      const trn = cell(r.train, r.trainError);
      console.log(`| ${r.model} (E=${r.experts}, k=${r.topK}) | ${fmt(r.params.total / 1e6, 1)} M (${fmt(r.params.active / 1e6, 1)} M) | ${r.batchSize}×${r.seqLen} | ${fw} | ${trn} | ${fmt(r.train?.tflops, 2)} |`);
    }
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
    if (e instanceof UsageError) {
      process.stderr.write(`${SPEC.prog}: ${e.message}\nRun '${SPEC.prog} --help' for usage.\n`);
      process.exit(2);
    }
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
