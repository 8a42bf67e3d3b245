/**
 * The parts of `npm run bench` beyond the three reference models:
 *  - matMulPeak: the machine's dense-matmul peak, measured in the same run (see its comment);
 *  - sweep: forward and training cost against the number of experts E (at k = 2) and against k
 *    (at E = 8) — sparse dispatch should make cost follow k, not E;
 *  - memoryRun: RSS and live tensors over a long training run (they must stay flat).
 */
import { spawnSync } from "node:child_process";
import * as tf from "../lib/tf";
import { MODEL_PRESETS, ModelConfig, PresetName } from "../lib/model/config";
import { flopsPerToken } from "../lib/model/flops";
import { disposeParams, forwardHidden, initParams } from "../lib/model/model";
import { Rng } from "../lib/model/rng";
import { nativeMatMul } from "../lib/ops";
import { randomWindows } from "../lib/train/batches";
import { TRAIN_PRESETS } from "../lib/train/config";
import { Trainer } from "../lib/train/trainer";

const NAMED = ["public", "math", "code", "news", "creative", "academic", "forum", "educational", "legal"];
/** E expert names: the paper's domains first, then "expert9", … */
export function expertNames(e: number): string[] {
  return Array.from({ length: e }, (_, i) => NAMED[i] ?? `expert${i}`);
}

export interface PeakResult {
  /** GFLOP/s of this backend's tf.matMul at n³, best of a few runs, for each n tried. */
  backend: Array<{ n: number; gflops: number }>;
  /** numpy's float32 matmul (the system Python), if it is installed: an independent reference. */
  numpy?: Array<{ n: number; gflops: number }>;
  numpyError?: string;
  /** The peak used for "% of peak": the best of all of the above. */
  gflops: number;
  source: string;
}

/**
 * "The machine's dense-matmul peak": the fastest square float32 matmul we can run on this machine,
 * measured now (other processes slow it down exactly as they slow the training steps we compare
 * against it). Candidates: this backend's own tf.matMul (on wasm with the native BLAS, OpenBLAS on
 * every core) at 512³…2048³, and numpy (usually OpenBLAS too) from /usr/bin/python3 when present.
 * The maximum of the candidates is the peak. It is a practical ceiling, not the CPU's theoretical
 * FLOP rate (cores × FMA width × clock), which no BLAS reaches here.
 */
export function matMulPeak(quick: boolean): PeakResult {
  const rng = new Rng(3);
  const backend: PeakResult["backend"] = [];
  for (const n of quick ? [512, 1024] : [512, 1024, 2048]) {
    const a = tf.tensor(Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]);
    const b = tf.tensor(Float32Array.from({ length: n * n }, () => rng.normal()), [n, n]);
    tf.matMul(a, b).dispose(); // warm-up (packing buffers, thread start)
    const reps = Math.max(2, Math.min(10, Math.round(4e9 / (2 * n ** 3))));
    let best = Infinity;
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      const c = tf.matMul(a, b);
      c.dataSync();
      best = Math.min(best, performance.now() - t);
      c.dispose();
    }
    backend.push({ n, gflops: (2 * n ** 3) / (best * 1e6) });
    tf.dispose([a, b]);
  }
  const py = `
import json, time, numpy as np
out = []
for n in ${JSON.stringify(quick ? [512, 1024] : [512, 1024, 2048])}:
    a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    a @ b
    best = 1e9
    for _ in range(max(2, min(10, round(4e9 / (2 * n ** 3))))):
        t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
    out.append({"n": n, "gflops": 2 * n ** 3 / best / 1e9})
print(json.dumps(out))
`;
  let numpy: PeakResult["numpy"], numpyError: string | undefined;
  // /usr/bin/python3 first: the project's notes say the first python3 on PATH may lack numpy.
  for (const exe of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(exe, ["-c", py], { encoding: "utf8", timeout: 120_000 });
    if (r.status === 0) {
      numpy = JSON.parse(r.stdout.trim().split("\n").pop()!) as PeakResult["numpy"];
      numpyError = undefined;
      break;
    }
    numpyError = r.error ? `${exe}: ${r.error.message}` : `${exe}: ${(r.stderr || "").trim().split("\n").pop()}`;
  }
  const all = [...backend.map((x) => ({ ...x, who: "tf.matMul" })), ...(numpy ?? []).map((x) => ({ ...x, who: "numpy" }))];
  const best = all.reduce((m, x) => (x.gflops > m.gflops ? x : m));
  const blas = nativeMatMul();
  const who = best.who === "numpy" ? "numpy (system Python)" : blas.available ? `tf.matMul on ${blas.library}` : "tf.matMul on this backend";
  return { backend, numpy, numpyError, gflops: best.gflops, source: `${who}, ${best.n}³` };
}

export interface SweepRow {
  experts: number;
  topK: number;
  /** Active parameters per token / all parameters. */
  fwdMs: number;
  trainMs: number;
  fwdTokensPerSec: number;
  trainTokensPerSec: number;
  /** Model FLOPs of the training step per token (grows with k, not E, apart from the router). */
  trainFlopsPerToken: number;
}

/** The sweep's (E, k): E = 1, 2, 4, 8, 16 at k = 2; k = 1…8 at E = 8. */
export function sweepConfigs(): Array<[number, number]> {
  const configs: Array<[number, number]> = [];
  for (const e of [1, 2, 4, 8, 16]) configs.push([e, Math.min(2, e)]);
  for (let k = 1; k <= 8; k++) if (k !== 2) configs.push([8, k]);
  return configs;
}

/** Time forward and training for each (E, k) of `sweepConfigs`. */
export async function sweep(quick: boolean, log: (s: string) => void): Promise<SweepRow[]> {
  const configs = sweepConfigs();
  const tc = { ...TRAIN_PRESETS.cpu, batchSize: 4 }; // batch 4 in every mode: 13 configurations must stay quick
  const B = tc.batchSize, T = tc.seqLen, N = B * T;
  const rows: SweepRow[] = [];
  const rng = new Rng(9);
  const tokens = Int32Array.from({ length: 100_000 }, () => rng.int(MODEL_PRESETS.cpu.vocabSize));
  for (const [e, k] of configs) {
    log(`E=${e} k=${k}`);
    const cfg: ModelConfig = { ...MODEL_PRESETS.cpu, experts: expertNames(e), topK: k };
    const p = initParams(cfg, 0);
    const ids = tf.tensor2d(tokens.subarray(0, N), [B, T], "int32");
    const fwd = () => tf.tidy(() => void tf.matMul(forwardHidden(p, cfg, ids).hidden, p.lmHead).dataSync());
    fwd();
    let fwdMs = Infinity;
    for (let i = 0; i < (quick ? 2 : 3); i++) {
      const t = performance.now();
      fwd();
      fwdMs = Math.min(fwdMs, performance.now() - t);
    }
    ids.dispose();
    const tr = new Trainer(p, cfg, tc, randomWindows(tokens, B, T, 0), { routingStats: false });
    await tr.steps(1);
    const secs: number[] = [];
    await tr.steps(quick ? 2 : 3, { onProgress: (q) => secs.push(q.seconds) });
    const trainMs = Math.min(...secs) * 1000; // min: the least-disturbed step on a shared machine
    tr.dispose();
    disposeParams(p);
    rows.push({ experts: e, topK: k, fwdMs, trainMs, fwdTokensPerSec: (N / fwdMs) * 1000, trainTokensPerSec: (N / trainMs) * 1000, trainFlopsPerToken: flopsPerToken(cfg, T).train });
  }
  return rows;
}

export interface MemoryResult {
  preset: PresetName;
  steps: number;
  /** Sampled every `every` steps after the first: [step, live tensors, RSS MB, tf bytes MB]. */
  samples: Array<{ step: number; tensors: number; rssMB: number; tfMB: number; jsHeapMB: number; externalMB: number }>;
  every: number;
  /** max − min of live tensors between steps (0 = no leak). */
  tensorRange: number;
  /** RSS after the last step minus RSS after the first tenth of the run (MB). */
  rssGrowthMB: number;
  rssFirstMB: number;
  rssMaxMB: number;
  seconds: number;
}

/**
 * A long training run (8-expert top-4 model, the training loop the tutorials use) that records live
 * tensors and RSS. The `tiny` model keeps 1 000 steps to about a minute; the tensor count checks
 * the same code paths at any size, and RSS growth would show a leak of typed arrays or wasm heap.
 */
export async function memoryRun(steps: number, preset: PresetName, log: (s: string) => void): Promise<MemoryResult> {
  const t0 = performance.now();
  const cfg: ModelConfig = { ...MODEL_PRESETS[preset], experts: expertNames(8), topK: 4 };
  const tc = { ...TRAIN_PRESETS[preset], steps };
  const p = initParams(cfg, 0);
  const rng = new Rng(5);
  const tokens = Int32Array.from({ length: 200_000 }, () => rng.int(cfg.vocabSize));
  const tr = new Trainer(p, cfg, tc, randomWindows(tokens, tc.batchSize, tc.seqLen, 0), { routingStats: true });
  const every = Math.max(1, Math.round(steps / 20));
  const samples: MemoryResult["samples"] = [];
  await tr.steps(1);
  for (let done = 1; done < steps; ) {
    const n = Math.min(every, steps - done);
    await tr.steps(n);
    done += n;
    const m = tf.memory();
    const mu = process.memoryUsage();
    samples.push({ step: done, tensors: m.numTensors, rssMB: mu.rss / 2 ** 20, tfMB: m.numBytes / 2 ** 20, jsHeapMB: mu.heapUsed / 2 ** 20, externalMB: mu.external / 2 ** 20 });
    const x = samples[samples.length - 1];
    if (samples.length % 5 === 0) log(`${done}/${steps} steps, ${m.numTensors} tensors, RSS ${x.rssMB.toFixed(0)} MB (JS heap ${x.jsHeapMB.toFixed(0)}, external ${x.externalMB.toFixed(0)})`);
  }
  tr.dispose();
  disposeParams(p);
  const tensors = samples.map((x) => x.tensors);
  const first = samples[Math.max(0, Math.floor(samples.length / 10) - 1)];
  const last = samples[samples.length - 1];
  return {
    preset,
    steps,
    samples,
    every,
    tensorRange: Math.max(...tensors) - Math.min(...tensors),
    rssGrowthMB: last.rssMB - first.rssMB,
    rssFirstMB: first.rssMB,
    rssMaxMB: Math.max(...samples.map((x) => x.rssMB)),
    seconds: (performance.now() - t0) / 1000,
  };
}
