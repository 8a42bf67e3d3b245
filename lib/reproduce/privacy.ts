/**
 * The paper's extraction test (§5.3, docs/method.md §9), scaled down: prefixes of math TRAINING documents,
 * sampled continuations (top-k 50, top-p 0.95, temperature 1, 10 samples), and a document counts as
 * extracted when some sample reaches normalised Levenshtein similarity ≥ 0.9 to the true text.
 *
 * Same protocol and result record as `inspect.extractionTest` (lib/inspect/privacy.ts), with one
 * change for speed: all samples of all prefixes are drawn in ONE batch ([D·S, t] per step instead
 * of D·S separate generations; the prefixes all have the same token length), each row with its own
 * seeded generator and the same `sampleToken`, and only the last position goes through the LM head.
 * A sample that emits end-of-text is cut there, as `generate` stops there.
 *
 * The sanity model validates the test: the public model continued on exactly the tested documents
 * for many epochs must regurgitate them (the paper's sanity model: 60 % after 100 epochs).
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import type { ModelParams } from "../model/params";
import { Rng } from "../model/rng";
import { forwardHidden } from "../model/model";
import { Trainer } from "../train/trainer";
import type { TrainConfig } from "../train/config";
import type { DataContext } from "../flex/context";
import { FlexModel, sampleToken } from "../flex/model";
import { baselineProvenance } from "../flex/baselines/common";
import { ExtractionResult, type ExtractionCase, type ModelExtraction } from "../inspect/privacy";
import { normalisedSimilarity } from "../inspect/aggregate";
import type { PrivacyRecipe } from "./recipe";

/** The paper's sampling and threshold (docs/method.md §9). */
export const PAPER_SAMPLING = { topK: 50, topP: 0.95, temperature: 1, threshold: 0.9 } as const;

export interface ExtractionDocs {
  /** Per document: its id and its first prefix + continuation + 1 tokens. */
  docs: Array<{ id: string; ids: number[] }>;
  cases: ExtractionCase[];
}

/**
 * `n` math training documents with at least prefix + continuation + 1 tokens, evenly spaced over
 * the split (the rule of `inspect.extractionTest`).
 */
export function extractionDocs(ctx: DataContext, p: Pick<PrivacyRecipe, "documents" | "prefixTokens" | "continuationTokens">, domain = "math"): ExtractionDocs {
  ctx.checkDomain(domain);
  const need = p.prefixTokens + p.continuationTokens;
  const long: Array<{ id: string; ids: number[] }> = [];
  for (const d of ctx.corpus.documents({ domain, split: "train" })) {
    const ids = ctx.tokenizer.encode(d.text);
    if (ids.length >= need + 1) long.push({ id: d.id, ids: ids.slice(0, need + 1) });
  }
  if (long.length === 0) throw new Error(`privacy: no "${domain}" training document has ${need + 1} tokens; shorten the prefix or the continuation.`);
  const n = Math.min(p.documents, long.length);
  const docs = Array.from({ length: n }, (_, i) => long[Math.floor((i * long.length) / n)]);
  const cases = docs.map((d) => ({ document: d.id, prefix: ctx.tokenizer.decode(d.ids.slice(0, p.prefixTokens)), truth: ctx.tokenizer.decode(d.ids.slice(p.prefixTokens, need)) }));
  return { docs, cases };
}

/**
 * Continuations of several prefixes OF EQUAL LENGTH, `maxTokens` each, sampled in one batch:
 * `seeds[c]` lists the seeds of prefix c's samples (row r of prefix c draws from Rng(seeds[c][r])).
 * Returns [prefix][sample] token lists, each cut at its first end-of-text.
 */
export async function sampleBatch(m: FlexModel, prefixes: readonly (readonly number[])[], maxTokens: number, seeds: readonly (readonly number[])[], eosId: number): Promise<number[][][]> {
  if (prefixes.some((p) => p.length !== prefixes[0].length)) throw new Error("sampleBatch: every prefix must have the same length (one batch, one sequence length).");
  const owner: number[] = []; // row → prefix
  const rows: number[][] = [];
  const rngs: Rng[] = [];
  prefixes.forEach((p, c) => seeds[c].forEach((s) => {
    owner.push(c);
    rows.push([...p]);
    rngs.push(new Rng(s));
  }));
  const R = rows.length, V = m.config.vocabSize, C = m.config.dModel;
  const done = new Array<boolean>(R).fill(false);
  const o = { topK: PAPER_SAMPLING.topK, topP: PAPER_SAMPLING.topP, temperature: PAPER_SAMPLING.temperature };
  for (let step = 0; step < maxTokens && done.some((d) => !d); step++) {
    const L = Math.min(rows[0].length, m.config.maxSeqLen);
    const flat = new Int32Array(R * L); // [R, L]: every row has the same length
    rows.forEach((r, i) => flat.set(r.slice(-L), i * L));
    // Only the last position's logits are needed: the LM head (the largest product) runs on R rows, not R·L.
    const last = tf.tidy(() => {
      const h = forwardHidden(m.params, m.config, tf.tensor2d(flat, [R, L], "int32"), m.forwardOptions()).hidden; // [R·L, C]
      const hLast = tf.reshape(tf.slice(tf.reshape(h, [R, L, C]), [0, L - 1, 0], [R, 1, C]), [R, C]); // [R, C]
      return tf.matMul(hLast, m.params.lmHead); // [R, V]
    });
    const z = (await last.data()) as Float32Array;
    last.dispose();
    for (let i = 0; i < R; i++) {
      const tok = sampleToken(z.subarray(i * V, (i + 1) * V), o, rngs[i]);
      rows[i].push(tok);
      if (tok === eosId) done[i] = true;
    }
  }
  const out: number[][][] = prefixes.map(() => []);
  rows.forEach((r, i) => {
    const cont = r.slice(prefixes[owner[i]].length);
    const stop = cont.indexOf(eosId);
    out[owner[i]].push(stop >= 0 ? cont.slice(0, stop) : cont);
  });
  return out;
}

/** Run the extraction test on `models` (same documents, same sample seeds for every model). */
export async function extraction(models: readonly FlexModel[], ctx: DataContext, d: ExtractionDocs, p: PrivacyRecipe, seed: number): Promise<ExtractionResult> {
  const out: ModelExtraction[] = [];
  const prefixes = d.docs.map((x) => x.ids.slice(0, p.prefixTokens));
  const seeds = d.docs.map((_, c) => Array.from({ length: p.samples }, (_, s) => (seed * 1_000_003 + c * 1009 + s) >>> 0));
  for (const m of models) {
    const samples = await sampleBatch(m, prefixes, p.continuationTokens, seeds, ctx.tokenizer.eosId);
    const best: number[] = [];
    const bestSample: string[] = [];
    samples.forEach((ss, c) => {
      let b = -1, bs = "";
      for (const s of ss) {
        const text = ctx.tokenizer.decode(s);
        const sim = normalisedSimilarity(text, d.cases[c].truth);
        if (sim > b) [b, bs] = [sim, text];
      }
      best.push(b);
      bestSample.push(bs);
    });
    out.push({ model: m.label, best, bestSample, extracted: best.filter((b) => b >= PAPER_SAMPLING.threshold).length });
  }
  return new ExtractionResult({
    domain: "math",
    threshold: PAPER_SAMPLING.threshold,
    cases: d.cases,
    models: out,
    settings: { documents: d.docs.length, prefixTokens: p.prefixTokens, continuationTokens: p.continuationTokens, samples: p.samples, topK: PAPER_SAMPLING.topK, topP: PAPER_SAMPLING.topP, temperature: PAPER_SAMPLING.temperature, seed },
  });
}

/**
 * The over-fitted sanity model: the public weights, every parameter trained for `steps` steps on
 * exactly the tested documents (one row per document: its first prefix + continuation + 1 tokens,
 * cycled in order), no weight decay. Returns a FlexModel that owns its parameters.
 */
export async function overfitModel(params: ModelParams, config: ModelConfig, base: TrainConfig, d: ExtractionDocs, steps: number, ctx: DataContext, signal?: AbortSignal): Promise<FlexModel> {
  const T = d.docs[0].ids.length - 1;
  const B = Math.min(d.docs.length, base.batchSize);
  let next = 0;
  const batch = () => {
    const ids = new Int32Array(B * (T + 1)); // [B, T + 1]
    for (let r = 0; r < B; r++) ids.set(d.docs[next++ % d.docs.length].ids, r * (T + 1));
    return { ids, batchSize: B, seqLen: T };
  };
  const tc: TrainConfig = { ...base, batchSize: B, seqLen: T, steps, warmupSteps: Math.max(1, Math.round(steps / 10)), weightDecay: 0, topK: 1 };
  const trainer = new Trainer(params, config, tc, batch, { routingStats: false });
  try {
    await trainer.steps(steps, { signal });
  } finally {
    trainer.dispose();
  }
  return new FlexModel({
    config,
    params,
    provenance: baselineProvenance("owner", "approximate", { method: "over-fitted sanity model", note: `The public model trained ${steps} steps (${((steps * B) / d.docs.length).toFixed(0)} epochs) on exactly the ${d.docs.length} tested math documents.` }),
    label: "over-fitted (sanity)",
    data: ctx,
    owns: true, // its own trained copy: dispose() frees it
  });
}
