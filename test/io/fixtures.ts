/**
 * Shared test fixtures for io / cli / reference tests: seeded random parameters built straight from
 * the config's shapes (independently of `lib/io/checkpoint.ts#expectedTensors` and of the model's
 * `initParams`), with scales chosen so router probabilities are far from ties and every norm weight
 * differs from 1, so a swapped or untransposed tensor changes the numbers.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "../../lib/tf";
import { type ModelConfig, MODEL_PRESETS } from "../../lib/model/config";
import type { ModelParams } from "../../lib/model/params";

/** mulberry32: a tiny seeded PRNG, so fixtures are identical on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a seeded uniform source. */
export function normals(n: number, rand: () => number, std = 1, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    out[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

/** A small config for I/O tests: real structure, tiny sizes. */
export function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    ...MODEL_PRESETS.tiny,
    vocabSize: 61,
    dModel: 16,
    nLayers: 2,
    nHeads: 2,
    nKvHeads: 2,
    dFf: 24,
    maxSeqLen: 32,
    experts: ["public", "news", "code"],
    topK: 2,
    normTopkProb: false,
    ...over,
  };
}

/**
 * Random parameters in our [in, out] layout. Expert bias: entry 0 (public, never used) is +0.3,
 * the others are drawn from [-1, 0.5], so some are positive and must be clamped to 0 by min(β, 0).
 */
export function randomParams(cfg: ModelConfig, seed: number): ModelParams {
  const r = rng(seed);
  const C = cfg.dModel;
  const F = cfg.dFf;
  const E = cfg.experts.length;
  const hd = C / cfg.nHeads;
  const qDim = cfg.nHeads * hd;
  const kvDim = cfg.nKvHeads * hd;
  const m2 = (rows: number, cols: number, std: number) => tf.tensor2d(normals(rows * cols, r, std), [rows, cols]);
  const norm = (n: number) => tf.tensor1d(normals(n, r, 0.2, 1));
  return {
    embed: m2(cfg.vocabSize, C, 1),
    layers: Array.from({ length: cfg.nLayers }, () => ({
      q: m2(C, qDim, 1 / Math.sqrt(C)),
      k: m2(C, kvDim, 1 / Math.sqrt(C)),
      v: m2(C, kvDim, 1 / Math.sqrt(C)),
      o: m2(qDim, C, 1 / Math.sqrt(qDim)),
      qNorm: norm(qDim),
      kNorm: norm(kvDim),
      postAttnNorm: norm(C),
      postFfnNorm: norm(C),
      router: m2(E, C, 2 / Math.sqrt(C)), // logits of order ±2: clear top-k winners
      expertBias: tf.tensor1d(Array.from({ length: E }, (_, e) => (e === 0 ? 0.3 : -1 + 1.5 * r()))),
      experts: Array.from({ length: E }, () => ({
        gate: m2(C, F, 1 / Math.sqrt(C)),
        up: m2(C, F, 1 / Math.sqrt(C)),
        down: m2(F, C, 1 / Math.sqrt(F)),
      })),
    })),
    norm: norm(C),
    lmHead: m2(C, cfg.vocabSize, 1 / Math.sqrt(C)),
  };
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = "flexolmo-io-"): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The raw float32 bit patterns of a tensor (for bit-exact comparisons, NaN-safe). */
export function bits(t: tf.Tensor): Uint32Array {
  const d = t.dataSync() as Float32Array;
  return new Uint32Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
}

/** Hand-assemble a safetensors file: 8-byte LE length, header text, data (independent of our writer). */
export function rawSafetensors(header: string | object, data: Uint8Array = new Uint8Array(0)): Buffer {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const h = Buffer.from(text, "utf-8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.from(data)]);
}
