/**
 * Benchmark: forward and training throughput of the FlexOlmo model on the active TF.js backend.
 *
 *   npm run bench                      # default run (~2-3 min on wasm)
 *   node dist/bench/main.js --quick    # ~30 s: batch 4, fewer repetitions
 *   FLEXOLMO_BACKEND=cpu node dist/bench/main.js --quick --out /tmp/bench.json
 *
 * Reports, for a dense, a 2-expert (top-2) and an 8-expert (top-4) model at the `cpu` preset:
 * tokens/s (forward and training), model FLOPs/s and their fraction of the machine's dense-matmul
 * peak (measured in the same run: bench/sweep.ts matMulPeak), peak live tensors and bytes during a
 * step, RSS, and a per-kernel step-time breakdown — with the native matMul ("after") and without it
 * ("before", a child process). Then cost against E and k (sparse dispatch), and live tensors and RSS
 * over a 1 000-step run. Also the backend's matMul GFLOP/s at the shapes the model uses.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "../lib/tf";
import { initBackend } from "../lib/backend";
import { MODEL_PRESETS, ModelConfig } from "../lib/model/config";
import { flopsPerToken } from "../lib/model/flops";
import { disposeParams, forwardHidden, initParams, paramCount } from "../lib/model/model";
import { Rng } from "../lib/model/rng";
import { installOps, nativeMatMul, OP_FIXES } from "../lib/ops";
import { randomWindows } from "../lib/train/batches";
import { TRAIN_PRESETS } from "../lib/train/config";
import { Trainer } from "../lib/train/trainer";
import { expertNames, matMulPeak, memoryRun, sweep, sweepConfigs, type MemoryResult, type PeakResult, type SweepRow } from "./sweep";
import { type ParsedArgs, parseScriptArgs, type ScriptSpec, UsageError } from "../lib/cli/args";
import { Progress } from "../lib/cli/progress";

interface Args {
  quick: boolean;
  out?: string;
  /** Print the results document on stdout instead of tables (it is written to `out` as well). */
  json: boolean;
  /** Also measure what each registered fix buys (child processes with FLEXOLMO_OPS_SKIP). */
  ablate: boolean;
  /** Internal: run one ablation measurement for this model and print it as JSON. */
  ablateChild?: string;
  /** Internal: run the three model benchmarks and print them as JSON (the "before" column). */
  modelsChild: boolean;
  /** Steps of the memory run (default 1 000; --quick 200). */
  memorySteps?: number;
  /** Skip the "before" child (no native matMul comparison), the E/k sweep or the memory run. */
  noBefore: boolean;
  noSweep: boolean;
  noMemory: boolean;
}

export const SPEC: ScriptSpec = {
  prog: "node dist/bench/main.js",
  summary: "Benchmark forward and training throughput of the FlexOlmo model on the active TF.js backend (FLEXOLMO_BACKEND=wasm|cpu|tfjs-node selects it).",
  description: "Tables go to stdout, progress and logs to stderr; the results document is also written to --out (default bench/results/bench-<backend>[-quick].json).",
  flags: [
    { name: "quick", type: "boolean", help: "~30 s: batch 4, fewer repetitions" },
    { name: "out", type: "string", metavar: "FILE", help: "results JSON file (default bench/results/bench-<backend>[-quick].json)" },
    { name: "json", type: "boolean", help: "print the results document on stdout instead of tables" },
    { name: "ablate", type: "boolean", help: "also measure what each registered op fix buys (one child process per configuration)" },
    { name: "no-before", type: "boolean", help: "skip the same models without the native matMul (child process)" },
    { name: "no-sweep", type: "boolean", help: "skip the cost against E and k" },
    { name: "no-memory", type: "boolean", help: "skip the memory run" },
    { name: "memory-steps", type: "int", metavar: "N", help: "steps of the memory run (default 1000; --quick 200; at least 10)" },
    { name: "ablate-child", type: "string", metavar: "MODEL", help: "internal: one ablation measurement, printed as an ABLATE line" },
    { name: "models-child", type: "boolean", help: "internal: the three model benchmarks, printed as a MODELS line" },
  ],
  examples: ["npm run bench", "node dist/bench/main.js --quick", "FLEXOLMO_BACKEND=cpu node dist/bench/main.js --quick --out /tmp/bench.json --json"],
};

/** The checked arguments from parsed flags (throws UsageError). */
export function argsFrom(p: ParsedArgs): Args {
  const f = p.flags;
  const memorySteps = f["memory-steps"] as number | undefined;
  if (memorySteps !== undefined && memorySteps < 10) throw new UsageError(`--memory-steps must be an integer ≥ 10 (got ${memorySteps})`);
  return {
    quick: Boolean(f.quick),
    out: f.out as string | undefined,
    json: Boolean(f.json),
    ablate: Boolean(f.ablate),
    ablateChild: f["ablate-child"] as string | undefined,
    modelsChild: Boolean(f["models-child"]),
    memorySteps,
    noBefore: Boolean(f["no-before"]),
    noSweep: Boolean(f["no-sweep"]),
    noMemory: Boolean(f["no-memory"]),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Best-of-n wall time (ms) of f, after one warm-up call. f must dispose what it makes. */
function timeBest(f: () => void, n: number): number {
  f();
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

interface MatMulResult {
  name: string;
  shape: string;
  gflops: number;
  ms: number;
}

function matMulBench(quick: boolean, n: number): MatMulResult[] {
  const rng = new Rng(1);
  const mk = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
  const N = n; // tokens per step
  const cases: Array<{ name: string; a: number[]; b: number[]; ta?: boolean; tb?: boolean }> = [
    { name: "512³ reference", a: [512, 512], b: [512, 512] },
    { name: "q/k/v/o  x·W", a: [N, 128], b: [128, 128] },
    { name: "FFN gate/up", a: [N, 128], b: [128, 352] },
    { name: "FFN down", a: [N, 352], b: [352, 128] },
    { name: "LM head x·W", a: [N, 128], b: [128, 4096] },
    { name: "LM head dW = xᵀ·dY", a: [128, N], b: [N, 4096] },
    { name: "LM head dX = dY·Wᵀ", a: [N, 4096], b: [4096, 128] },
    { name: "attention q·kᵀ (batched)", a: [(N / 128) * 4, 128, 32], b: [(N / 128) * 4, 32, 128] },
    { name: "with transposeA flag", a: [512, 512], b: [512, 512], ta: true },
  ];
  const out: MatMulResult[] = [];
  for (const c of cases) {
    const a = mk(c.a), b = mk(c.b);
    const ms = timeBest(() => tf.matMul(a, b, c.ta, c.tb).dispose(), quick ? 2 : 4);
    const m = c.a[c.a.length - 2], k = c.a[c.a.length - 1], nn = c.b[c.b.length - 1];
    const batch = c.a.length === 3 ? c.a[0] : 1;
    out.push({ name: c.name, shape: `${c.a.join("×")} · ${c.b.join("×")}`, gflops: (2 * batch * m * k * nn) / (ms * 1e6), ms });
    tf.dispose([a, b]);
  }
  return out;
}

interface ModelResult {
  name: string;
  experts: number;
  topK: number;
  params: { total: number; active: number };
  batchSize: number;
  seqLen: number;
  forward: { tokensPerSec: number; msPerBatch: number; gflops: number };
  train: { tokensPerSec: number; msPerStep: number; gflops: number; steps: number };
  peakTensors: number;
  peakTensorMB: number;
  liveTensorsBetweenSteps: number;
  rssMB: number;
  breakdown: Array<{ kernel: string; ms: number; calls: number; share: number }>;
  outsideKernelsMs: number;
}

async function modelBench(name: string, experts: number, topK: number, a: Args, slow: boolean): Promise<ModelResult> {
  const cfg: ModelConfig = { ...MODEL_PRESETS.cpu, experts: expertNames(experts), topK };
  const tc = { ...TRAIN_PRESETS.cpu, batchSize: a.quick ? 4 : TRAIN_PRESETS.cpu.batchSize };
  const B = tc.batchSize, T = tc.seqLen, N = B * T;
  const p = initParams(cfg, 0);
  const rng = new Rng(7);
  // Synthetic uniform tokens: throughput does not depend on the text (routing is data-dependent, but
  // an untrained router splits tokens roughly evenly, the worst case for sparse dispatch).
  const tokens = Int32Array.from({ length: 200_000 }, () => rng.int(cfg.vocabSize));
  const batches = randomWindows(tokens, B, T, 0);
  const reps = a.quick || slow ? 1 : 3;

  // Forward: logits for one batch, inside a tidy.
  const fb = batches.next();
  const ids = tf.tensor2d(Int32Array.from({ length: N }, (_, i) => fb.ids[Math.floor(i / T) * (T + 1) + (i % T)]), [B, T], "int32");
  const fwdMs = timeBest(() => {
    tf.tidy(() => {
      const hr = forwardHidden(p, cfg, ids);
      tf.matMul(hr.hidden, p.lmHead).dataSync();
    });
  }, reps);
  ids.dispose();

  // Training: warm-up, timed steps, then one profiled step for the breakdown.
  const tr = new Trainer(p, cfg, tc, batches, { routingStats: false });
  await tr.steps(1);
  const live = tf.memory().numTensors;
  const secs: number[] = [];
  const r = await tr.steps(reps, { onProgress: (q) => secs.push(q.seconds) });
  const msPerStep = median(secs) * 1000; // median: robust to other processes sharing the cores
  let rss = process.memoryUsage().rss;
  const t0 = performance.now();
  const prof = await tf.profile(async () => {
    await tr.steps(1);
  });
  const profWall = performance.now() - t0;
  rss = Math.max(rss, process.memoryUsage().rss);
  const agg = new Map<string, { ms: number; calls: number }>();
  let peakTensors = 0;
  for (const k of prof.kernels) {
    const e = agg.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += k.kernelTimeMs as number;
    e.calls++;
    agg.set(k.name, e);
    peakTensors = Math.max(peakTensors, k.totalTensorsSnapshot);
  }
  const kernelMs = [...agg.values()].reduce((s, e) => s + e.ms, 0);
  const breakdown = [...agg.entries()]
    .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls, share: e.ms / profWall }))
    .sort((x, y) => y.ms - x.ms)
    .slice(0, 10);
  tr.dispose();
  disposeParams(p);

  const f = flopsPerToken(cfg, T);
  const pc = paramCount(cfg);
  return {
    name,
    experts,
    topK,
    params: { total: pc.total, active: pc.active },
    batchSize: B,
    seqLen: T,
    forward: { tokensPerSec: (N / fwdMs) * 1000, msPerBatch: fwdMs, gflops: (f.forward * N) / (fwdMs * 1e6) },
    train: { tokensPerSec: (N / msPerStep) * 1000, msPerStep, gflops: (f.train * N) / (msPerStep * 1e6), steps: r.steps },
    peakTensors,
    peakTensorMB: prof.peakBytes / 2 ** 20,
    liveTensorsBetweenSteps: live,
    rssMB: rss / 2 ** 20,
    breakdown,
    outsideKernelsMs: Math.max(0, profWall - kernelMs),
  };
}

const MODELS: Record<string, { experts: number; topK: number }> = {
  dense: { experts: 1, topK: 1 },
  "2-expert top-2": { experts: 2, topK: 2 },
  "8-expert top-4": { experts: 8, topK: 4 },
};

/** Child process: time training steps of one model with the fixes named in FLEXOLMO_OPS_SKIP left out. */
async function ablateChild(model: string, quick: boolean): Promise<void> {
  const m = MODELS[model];
  if (!m) throw new Error(`--ablate-child: unknown model "${model}"`);
  await initBackend();
  const ops = installOps();
  const cfg: ModelConfig = { ...MODEL_PRESETS.cpu, experts: expertNames(m.experts), topK: m.topK };
  const tc = { ...TRAIN_PRESETS.cpu, batchSize: quick ? 4 : TRAIN_PRESETS.cpu.batchSize };
  const p = initParams(cfg, 0);
  const rng = new Rng(7);
  const tokens = Int32Array.from({ length: 100_000 }, () => rng.int(cfg.vocabSize));
  const tr = new Trainer(p, cfg, tc, randomWindows(tokens, tc.batchSize, tc.seqLen, 0), { routingStats: false });
  let ms = NaN, error: string | undefined;
  try {
    await tr.steps(1);
    const secs: number[] = [];
    await tr.steps(quick ? 4 : 3, { onProgress: (q) => secs.push(q.seconds) });
    ms = Math.min(...secs) * 1000; // min: the least-disturbed step when other processes share the cores
  } catch (e) {
    error = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  }
  console.log(`ABLATE ${JSON.stringify({ model, skipped: ops.skipped, msPerStep: ms, tokensPerSec: (tc.batchSize * tc.seqLen * 1000) / ms, error })}`);
}

interface AblationRow {
  model: string;
  skipped: string[];
  msPerStep: number;
  tokensPerSec: number;
  /** time without this fix ÷ time with every fix (> 1: the fix helps). */
  speedupOfFix?: number;
  error?: string;
}

/** The ablation's child processes: (configurations) × rounds × 2 models, for the progress line. */
function ablationRuns(quick: boolean): number {
  return (OP_FIXES.filter((f) => f !== "segmentSum").length + 2) * (quick ? 1 : 2) * 2;
}

/** Parent: one child process per configuration (registrations are global, so each needs a fresh process). */
function ablate(quick: boolean, log: (s: string) => void, tick: () => void): AblationRow[] {
  const rows: AblationRow[] = [];
  const everything = OP_FIXES.filter((f) => f !== "segmentSum"); // wasm cannot train without segmentSum
  const configs: Array<{ label: string; skip: string[] }> = [
    { label: "all fixes", skip: [] },
    ...everything.map((f) => ({ label: `without ${f}`, skip: [f] })),
    { label: "stock TF.js + segmentSum only", skip: everything },
  ];
  // Rounds interleave the configurations so slow phases of a shared machine hit all of them alike;
  // each configuration keeps its fastest round.
  const rounds = quick ? 1 : 2;
  for (const model of ["dense", "8-expert top-4"]) {
    const best = new Map<string, AblationRow>();
    for (let round = 0; round < rounds; round++) {
      for (const c of configs) {
        const what = `ablation ${model} (round ${round + 1}/${rounds}): ${c.label}`;
        const r = spawnSync(process.execPath, [__filename, "--ablate-child", model, ...(quick ? ["--quick"] : [])], {
          env: { ...process.env, FLEXOLMO_OPS_SKIP: c.skip.join(",") },
          encoding: "utf8",
          timeout: 600_000,
        });
        const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("ABLATE "));
        const row: AblationRow = line ? JSON.parse(line.slice(7)) : { model, skipped: c.skip, msPerStep: NaN, tokensPerSec: NaN, error: (r.stderr || "no output").split("\n")[0] };
        log(`  ${what}: ${fmt(row.msPerStep)} ms/step${row.error ? ` (error: ${row.error})` : ""}`);
        tick();
        const prev = best.get(c.label);
        if (!prev || !(prev.msPerStep <= row.msPerStep)) best.set(c.label, row);
      }
    }
    const base = best.get("all fixes")!.msPerStep;
    for (const c of configs) {
      const r = best.get(c.label)!;
      r.speedupOfFix = r.msPerStep / base;
      rows.push(r);
    }
  }
  return rows;
}

const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

/** The three reference models, in order. */
async function modelsBench(a: Args, slow: boolean, log: (s: string) => void, tick: () => void = () => undefined): Promise<ModelResult[]> {
  const models: ModelResult[] = [];
  for (const [name, e, k] of [
    ["dense", 1, 1],
    ["2-expert top-2", 2, 2],
    ["8-expert top-4", 8, 4],
  ] as const) {
    log(`benchmarking ${name} …`);
    models.push(await modelBench(name, e, k, a, slow));
    tick();
  }
  return models;
}

/**
 * "Before": the same three models in a child process with the native matMul left out (the XNNPACK
 * kernel on one thread, as before issue 10), run right after the main measurement so that both
 * columns see the same machine load. Registrations are global, hence a fresh process.
 */
function beforeChild(a: Args): { models?: ModelResult[]; error?: string } {
  const r = spawnSync(process.execPath, [__filename, "--models-child", ...(a.quick ? ["--quick"] : [])], {
    env: { ...process.env, FLEXOLMO_OPS_SKIP: [process.env.FLEXOLMO_OPS_SKIP, "nativeMatMul"].filter(Boolean).join(",") },
    encoding: "utf8",
    timeout: 1_200_000,
  });
  const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("MODELS "));
  return line ? { models: JSON.parse(line.slice(7)) as ModelResult[] } : { error: (r.stderr || r.error?.message || "no output").trim().split("\n").pop() };
}

function printModels(say: (s: string) => void, title: string, models: ModelResult[], peak: number): void {
  say(`\n${title}`);
  say("  model            params (active)   fwd tok/s   train tok/s   ms/step   train GFLOP/s   % of peak   peak tensors   peak MB   RSS MB");
  for (const m of models) {
    say(
      `  ${m.name.padEnd(16)} ${`${fmt(m.params.total / 1e6, 2)}M (${fmt(m.params.active / 1e6, 2)}M)`.padEnd(17)} ${fmt(m.forward.tokensPerSec).padStart(9)}   ${fmt(m.train.tokensPerSec).padStart(11)}   ${fmt(m.train.msPerStep).padStart(7)}   ${fmt(m.train.gflops, 1).padStart(13)}   ${fmt((100 * m.train.gflops) / peak, 1).padStart(8)}%   ${String(m.peakTensors).padStart(12)}   ${fmt(m.peakTensorMB).padStart(7)}   ${fmt(m.rssMB).padStart(6)}`,
    );
  }
}

function printBreakdowns(say: (s: string) => void, label: string, models: ModelResult[]): void {
  for (const m of models) {
    say(`\nWhere a training step goes — ${label} (${m.name}; one profiled step):`);
    for (const b of m.breakdown) say(`  ${b.kernel.padEnd(22)} ${fmt(b.ms).padStart(7)} ms  ${fmt(100 * b.share, 1).padStart(5)}%  (${b.calls} calls)`);
    say(`  ${"(outside kernels: JS)".padEnd(22)} ${fmt(m.outsideKernelsMs).padStart(7)} ms`);
  }
}

async function main(): Promise<void> {
  const a = parseScriptArgs(process.argv.slice(2), SPEC, argsFrom);
  if (a.ablateChild) return ablateChild(a.ablateChild, a.quick);
  const t0 = performance.now();
  const backend = await initBackend();
  const ops = installOps();
  if (a.modelsChild) {
    const models = await modelsBench(a, false, () => undefined);
    console.log(`MODELS ${JSON.stringify(models)}`);
    return;
  }
  // Tables on stdout (none with --json: the document is the output), progress and logs on stderr.
  const say = (s: string) => {
    if (!a.json) process.stdout.write(`${s}\n`);
  };
  const blas = nativeMatMul();
  const doBefore = ops.nativeMatMul && !a.noBefore;
  const memorySteps = a.memorySteps ?? (a.quick ? 200 : 1000);
  // The progress unit is one measurement: the peak, the matMul shapes, each model, the "before"
  // child, each (E, k) of the sweep, the memory run, each ablation child.
  const progress = new Progress({
    label: "bench",
    unit: "parts",
    stream: process.stderr,
    total: 2 + 3 + (doBefore ? 1 : 0) + (a.noSweep ? 0 : sweepConfigs().length) + (a.noMemory ? 0 : 1) + (a.ablate ? ablationRuns(a.quick) : 0),
  });
  let done = 0;
  const tick = () => progress.update(++done);
  const log = (s: string) => progress.log(s);
  progress.update(0);
  say(`FlexOlmo Lab benchmark — backend: ${backend.summary}${a.quick ? " (quick)" : ""}`);
  say(`matMul kernel: ${ops.nativeMatMul ? `native BLAS — ${blas.library}, ${blas.threads} threads` : `the backend's own${blas.available ? "" : ` (native BLAS off: ${blas.reason})`}`}`);
  const N = (a.quick ? 4 : TRAIN_PRESETS.cpu.batchSize) * TRAIN_PRESETS.cpu.seqLen;

  progress.stage("dense-matmul peak");
  const peak = matMulPeak(a.quick);
  tick();
  say(`\nDense-matmul peak of this machine, measured now: ${fmt(peak.gflops, 1)} GFLOP/s (${peak.source})`);
  say(`  tf.matMul: ${peak.backend.map((x) => `${x.n}³ ${fmt(x.gflops, 1)}`).join(", ")}`);
  say(`  numpy:     ${peak.numpy ? peak.numpy.map((x) => `${x.n}³ ${fmt(x.gflops, 1)}`).join(", ") : `not measured (${peak.numpyError})`}`);

  progress.stage("matMul at the model's shapes");
  const mm = matMulBench(a.quick, N);
  tick();
  say("\nmatMul speed at the model's shapes:");
  for (const m of mm) say(`  ${m.name.padEnd(28)} ${m.shape.padEnd(26)} ${fmt(m.gflops, 1).padStart(7)} GFLOP/s`);
  // The cpu backend needs tens of seconds per training step at this size: one repetition only.
  const slow = mm[0].gflops < 3;

  progress.stage("models");
  const models = await modelsBench(a, slow, log, tick);
  let before: ReturnType<typeof beforeChild> | undefined;
  if (doBefore) {
    progress.stage("models without the native matMul (child process)");
    before = beforeChild(a);
    tick();
    if (!before.models) log(`the models without the native matMul failed: ${before.error}`);
  }
  const B = models[0].batchSize, T = models[0].seqLen;
  printModels(say, `Throughput at the cpu preset (d=128, 4 layers, T=${T}, batch ${B})${before ? ", native matMul (after)" : ""}:`, models, peak.gflops);
  if (before?.models) {
    printModels(say, "The same without the native matMul (before: XNNPACK, one thread):", before.models, peak.gflops);
    say("\n  model            train tok/s before → after   speed-up   fwd tok/s before → after   speed-up");
    for (const [i, m] of models.entries()) {
      const b = before.models[i];
      say(
        `  ${m.name.padEnd(16)} ${`${fmt(b.train.tokensPerSec)} → ${fmt(m.train.tokensPerSec)}`.padStart(26)}   ${fmt(m.train.tokensPerSec / b.train.tokensPerSec, 2).padStart(7)}×   ${`${fmt(b.forward.tokensPerSec)} → ${fmt(m.forward.tokensPerSec)}`.padStart(24)}   ${fmt(m.forward.tokensPerSec / b.forward.tokensPerSec, 2).padStart(7)}×`,
      );
    }
  }
  printBreakdowns(say, before ? "after" : "this run", models);
  if (before?.models) printBreakdowns(say, "before", before.models);

  let sweepRows: SweepRow[] | undefined;
  if (!a.noSweep) {
    progress.stage("cost against E and k");
    let first = true;
    sweepRows = await sweep(a.quick, (s) => {
      if (!first) tick(); // a configuration's line announces it: the one before it is done
      first = false;
      log(`  sweep ${s}`);
    });
    tick();
    const base = sweepRows[0];
    say("\nCost against E and k (cpu preset, batch 4):");
    say("\n   E   k   fwd ms   train ms   train tok/s   train ms ÷ dense   model FLOPs ÷ dense");
    for (const r of sweepRows) {
      say(`  ${String(r.experts).padStart(2)}  ${String(r.topK).padStart(2)}  ${fmt(r.fwdMs, 1).padStart(7)}  ${fmt(r.trainMs, 1).padStart(9)}   ${fmt(r.trainTokensPerSec).padStart(11)}   ${fmt(r.trainMs / base.trainMs, 2).padStart(15)}×   ${fmt(r.trainFlopsPerToken / base.trainFlopsPerToken, 2).padStart(18)}×`);
    }
  }

  let memory: MemoryResult | undefined;
  if (!a.noMemory) {
    progress.stage(`memory over a ${memorySteps}-step run`);
    memory = await memoryRun(memorySteps, "tiny", (s) => log(`  memory run: ${s}`));
    tick();
    say(`\nMemory over a ${memorySteps}-step run (tiny preset, 8 experts top-4):`);
    say(
      `  live tensors between steps: ${Math.min(...memory.samples.map((x) => x.tensors))}–${Math.max(...memory.samples.map((x) => x.tensors))} (range ${memory.tensorRange}); RSS ${fmt(memory.rssFirstMB)} MB at step ${memory.samples[Math.max(0, Math.floor(memory.samples.length / 10) - 1)].step} → ${fmt(memory.samples[memory.samples.length - 1].rssMB)} MB at the end (max ${fmt(memory.rssMaxMB)}); ${fmt(memory.seconds, 1)} s`,
    );
  }

  let ablation: AblationRow[] | undefined;
  if (a.ablate) {
    progress.stage("ablation: one fix left out per child process");
    ablation = ablate(a.quick, log, tick);
    say("\nAblation: training step time with one fix left out (each in a fresh process):");
    say("\n  model            configuration                          ms/step   tok/s   time ÷ all-fixes time");
    for (const r of ablation) {
      const label = r.skipped.length === 0 ? "all fixes" : r.skipped.length > 1 ? "stock TF.js + segmentSum only" : `without ${r.skipped[0]}`;
      say(`  ${r.model.padEnd(16)} ${label.padEnd(38)} ${fmt(r.msPerStep).padStart(7)}  ${fmt(r.tokensPerSec).padStart(6)}   ${r.error ? `error: ${r.error}` : `${fmt(r.speedupOfFix ?? NaN, 2)}×`}`);
    }
  }
  progress.finish();

  const result = {
    date: new Date().toISOString(),
    node: process.version,
    backend: { name: backend.name, summary: backend.summary, flags: backend.flags },
    ops,
    nativeMatMul: blas,
    quick: a.quick,
    seconds: (performance.now() - t0) / 1000,
    peak,
    matMul: mm,
    models,
    before: before?.models,
    beforeError: before?.error,
    sweep: sweepRows,
    memory,
    ablation,
  };
  const out = a.out ?? path.join("bench", "results", `bench-${backend.name}${a.quick ? "-quick" : ""}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(result, null, 2));
  fs.renameSync(tmp, out); // atomic: a crash never leaves a half-written results file
  if (a.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`wrote ${out} (${fmt(result.seconds)} s)\n`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
