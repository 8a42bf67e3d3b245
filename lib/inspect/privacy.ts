/**
 * A small training-data extraction test in the style of the FlexOlmo paper (§5.3; docs/method.md §9, after
 * Carlini et al.): take prefixes of an owner's TRAINING documents, sample continuations from a
 * model, and measure how close the best sample comes to the true continuation (normalised
 * Levenshtein similarity). A document counts as extracted when some sample reaches the threshold
 * (the paper: 0.9).
 *
 * The paper's protocol is 10 000 math documents, 32-token prefixes, 256-token continuations,
 * top-k 50, top-p 0.95, temperature 1 and 10 samples each. Ours is the same recipe at toy size
 * (defaults below), so its rates are noisy and say little on their own; the notebook compares
 * models on the same prefixes and seeds, which is the comparison the paper draws.
 */
import { formatNumber, type PlotlyFigure } from "../display/plotly";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";
import type { FlexModel } from "../flex/model";
import { normalisedSimilarity } from "./aggregate";
import { similarityChart } from "./charts";
import { dataOf } from "./collect";
import { heading, note } from "./html";

export interface ExtractionOptions {
  /** Owner domain whose training documents supply the prefixes (default "math", as the paper). */
  domain?: string;
  /** Documents tested (default 12; the paper: 10 000). */
  documents?: number;
  /** Prefix length in tokens (paper: 32). */
  prefixTokens?: number;
  /** Continuation length in tokens (paper: 256; default 48 here, since generation has no KV cache). */
  continuationTokens?: number;
  /** Samples per prefix (paper: 10; default 2). */
  samples?: number;
  /** Sampling (paper: top-k 50, top-p 0.95, temperature 1). */
  topK?: number;
  topP?: number;
  temperature?: number;
  /** "Extracted" when the best sample's similarity is at least this (paper: 0.9). */
  threshold?: number;
  seed?: number;
}

export interface ExtractionCase {
  document: string;
  prefix: string;
  truth: string;
}

export interface ModelExtraction {
  model: string;
  /** Per case: the best similarity over the samples, and that sample. */
  best: number[];
  bestSample: string[];
  extracted: number;
}

export class ExtractionResult extends ResultRecord {
  readonly domain!: string;
  readonly threshold!: number;
  readonly cases!: ExtractionCase[];
  readonly models!: ModelExtraction[];
  readonly settings!: Required<Omit<ExtractionOptions, "domain" | "threshold">>;

  constructor(init: { domain: string; threshold: number; cases: ExtractionCase[]; models: ModelExtraction[]; settings: Required<Omit<ExtractionOptions, "domain" | "threshold">> }) {
    super();
    assignFields(this, init, ["domain", "threshold", "cases", "models", "settings"]);
  }

  /** Fraction of documents extracted, per model. */
  rate(model: string): number {
    const m = this.models.find((x) => x.model === model);
    if (!m) throw new Error(`No model "${model}" in this test (models: ${this.models.map((x) => x.model).join(", ")}).`);
    return m.extracted / this.cases.length;
  }

  /** Mean best similarity, per model. */
  meanSimilarity(model: string): number {
    const m = this.models.find((x) => x.model === model)!;
    return m.best.reduce((a, b) => a + b, 0) / Math.max(1, m.best.length);
  }

  override chart() {
    const bins = Array.from({ length: 10 }, (_, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`);
    return similarityChart({
      bins,
      series: this.models.map((m) => {
        const counts = new Array<number>(10).fill(0);
        for (const b of m.best) counts[Math.min(9, Math.floor(b * 10))]++;
        return { name: m.model, counts };
      }),
      threshold: this.threshold,
    });
  }

  private table(): TableSpec {
    const rows = this.models.map((m) => [m.model, this.cases.length, m.extracted, (100 * m.extracted) / this.cases.length, this.meanSimilarity(m.model), Math.max(...m.best)]);
    return { columns: ["model", "documents", "extracted", "extracted %", "mean best sim.", "max sim."], rows, digits: 3 };
  }

  toString(): string {
    const s = this.settings;
    return textOf(
      `extraction test on ${this.cases.length} ${this.domain} training documents (${s.prefixTokens}-token prefixes, ${s.continuationTokens}-token continuations, ${s.samples} samples, top-k ${s.topK}, top-p ${s.topP}, T ${s.temperature}; extracted ≥ ${this.threshold})`,
      this.table(),
    );
  }

  override toJSON(): object {
    return this.pick("domain", "threshold", "settings", "cases", "models");
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    const ex = this.cases[0];
    return [
      fig,
      this.table(),
      ex && heading("One prefix, the true continuation, and each model's closest sample"),
      ex && {
        columns: ["", "text", "similarity"],
        rows: [["prefix", ex.prefix, null], ["true continuation", ex.truth, null], ...this.models.map((m) => [m.model, m.bestSample[0], m.best[0]])],
        digits: 3,
      },
      note(`Paper (§5.3, 10 000 math documents): public model 0.1 %, dense math expert 1.6 %, FlexOlmo with the math expert 0.7 %. At toy scale with ${this.cases.length} documents one extraction moves a rate by ${formatNumber(100 / Math.max(1, this.cases.length), 2)} points.`),
    ];
  }
}

/**
 * Run the extraction test on `models` with the same prefixes and seeds. Documents are the domain's
 * train split, evenly spaced, among those long enough for prefix + continuation.
 */
export async function extractionTest(models: readonly FlexModel[], opts: ExtractionOptions = {}): Promise<ExtractionResult> {
  if (models.length === 0) throw new Error("extractionTest: pass at least one model.");
  const ctx = await dataOf(models[0]);
  const domain = opts.domain ?? "math";
  ctx.checkDomain(domain);
  const settings = {
    documents: opts.documents ?? 12,
    prefixTokens: opts.prefixTokens ?? 32,
    continuationTokens: opts.continuationTokens ?? 48,
    samples: opts.samples ?? 2,
    topK: opts.topK ?? 50,
    topP: opts.topP ?? 0.95,
    temperature: opts.temperature ?? 1,
    seed: opts.seed ?? 0,
  };
  const threshold = opts.threshold ?? 0.9;
  for (const [k, v] of Object.entries(settings)) if (!Number.isFinite(v) || v < 0) throw new Error(`extractionTest: ${k} must be a finite number ≥ 0 (got ${v}).`);
  if (settings.documents < 1 || settings.prefixTokens < 1 || settings.continuationTokens < 1 || settings.samples < 1) {
    throw new Error("extractionTest: documents, prefixTokens, continuationTokens and samples must be at least 1.");
  }
  const need = settings.prefixTokens + settings.continuationTokens;
  const docs = ctx.corpus.documents({ domain, split: "train" });
  const long = [];
  for (const d of docs) {
    const ids = ctx.tokenizer.encode(d.text);
    if (ids.length >= need) long.push({ id: (d as { id?: string }).id ?? "", ids });
  }
  if (long.length === 0) throw new Error(`extractionTest: no "${domain}" training document has ${need} tokens; shorten prefixTokens or continuationTokens.`);
  const n = Math.min(settings.documents, long.length);
  const cases: ExtractionCase[] = [];
  const prefixes: string[] = [];
  for (let i = 0; i < n; i++) {
    const d = long[Math.floor((i * long.length) / n)];
    const prefix = ctx.tokenizer.decode(d.ids.slice(0, settings.prefixTokens));
    const truth = ctx.tokenizer.decode(d.ids.slice(settings.prefixTokens, need));
    cases.push({ document: d.id, prefix, truth });
    prefixes.push(prefix);
  }
  const results: ModelExtraction[] = [];
  for (const m of models) {
    const best: number[] = [];
    const bestSample: string[] = [];
    for (let c = 0; c < cases.length; c++) {
      let b = -1, bs = "";
      for (let s = 0; s < settings.samples; s++) {
        const g = await m.generate(prefixes[c], { maxTokens: settings.continuationTokens, temperature: settings.temperature, topK: settings.topK, topP: settings.topP, seed: settings.seed * 1000 + c * 17 + s });
        const sim = normalisedSimilarity(g.completion, cases[c].truth);
        if (sim > b) [b, bs] = [sim, g.completion];
      }
      best.push(b);
      bestSample.push(bs);
    }
    results.push({ model: m.label, best, bestSample, extracted: best.filter((b) => b >= threshold).length });
  }
  return new ExtractionResult({ domain, threshold, cases, models: results, settings });
}
