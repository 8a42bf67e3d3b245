/**
 * Live masking: one call puts a model and a view of it side by side.
 *
 *   await inspect.compareViews(model, model.without("math"), { prompt: "Solve 3x + 2 = 11.", domains: ["math", "public"] })
 *
 * shows per-domain perplexity and its change, both next-token distributions on the prompt, a
 * generation from each with the same seed, and which data each one runs on (the active data
 * manifest). Views share weights, so this costs two evaluations and no memory.
 */
import * as tf from "../tf";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";
import type { FlexModel } from "../flex/model";
import type { EvalResult, GenerateResult, ManifestResult } from "../flex/results";
import { compareChart, nextTokenChart } from "./charts";
import { dataOf } from "./collect";
import { heading, note, sideBySide } from "./html";
import { checkOptionKeys } from "../util/options";

export interface CompareOptions {
  /** Text for the next-token distribution and the generations (default: none, skip both). */
  prompt?: string;
  /** Evaluation domains (default: those with experts in either model, plus public). */
  domains?: readonly string[];
  /** Windows per domain for the perplexities (default 16). */
  maxWindows?: number;
  /** Most likely next tokens listed per model (default 8). */
  top?: number;
  /** Generated tokens per model (default 32); 0 = no generation. */
  maxTokens?: number;
  /** Sampling temperature (default 0.8) and seed (default 0), the same for both models. */
  temperature?: number;
  seed?: number;
}

export interface NextToken {
  id: number;
  text: string;
  pa: number;
  pb: number;
}

export class ViewComparison extends ResultRecord {
  readonly a!: string;
  readonly b!: string;
  readonly domains!: string[];
  readonly evalA!: EvalResult;
  readonly evalB!: EvalResult;
  readonly prompt?: string;
  /** The union of both models' top tokens, ranked by the larger of the two probabilities. */
  readonly nextTokens!: NextToken[];
  readonly generations!: [GenerateResult, GenerateResult] | null;
  readonly manifests!: [ManifestResult, ManifestResult];

  constructor(init: {
    a: string;
    b: string;
    domains: string[];
    evalA: EvalResult;
    evalB: EvalResult;
    prompt?: string;
    nextTokens: NextToken[];
    generations: [GenerateResult, GenerateResult] | null;
    manifests: [ManifestResult, ManifestResult];
  }) {
    super();
    assignFields(this, init, ["a", "b", "domains", "evalA", "evalB", "prompt", "nextTokens", "generations", "manifests"]);
  }

  /** Relative perplexity change from a to b on `domain`, in % (positive: b is worse). Kept for the JSON; tables show `improvementPct`. */
  deltaPct(domain: string): number {
    const pa = this.evalA.ppl(domain), pb = this.evalB.ppl(domain);
    return (100 * (pb - pa)) / pa;
  }

  /** Improvement of b over a on `domain`, in % ((a − b) / a, positive: b is better), the lab's one sign convention for display. */
  improvementPct(domain: string): number {
    return -this.deltaPct(domain);
  }

  override chart() {
    return compareChart({ domains: this.domains, a: { label: this.a, ppl: this.domains.map((d) => this.evalA.ppl(d)) }, b: { label: this.b, ppl: this.domains.map((d) => this.evalB.ppl(d)) } });
  }

  nextTokenChart() {
    const labels = uniqueLabels(this.nextTokens.map((t) => t.text));
    return nextTokenChart({ tokens: labels, a: { label: this.a, p: this.nextTokens.map((t) => t.pa) }, b: { label: this.b, p: this.nextTokens.map((t) => t.pb) } });
  }

  private pplTable(): TableSpec {
    return {
      columns: ["domain", `ppl ${this.a}`, `ppl ${this.b}`, `improvement % (+ = ${this.b} better)`],
      rows: this.domains.map((d) => [d, this.evalA.ppl(d), this.evalB.ppl(d), this.improvementPct(d)]),
      digits: 4,
      decimals: [undefined, 2, 2, 1],
    };
  }

  private tokenTable(): TableSpec {
    return { columns: ["token", this.a, this.b], rows: this.nextTokens.map((t) => [JSON.stringify(t.text), t.pa, t.pb]), digits: 3 };
  }

  private manifestTable(): TableSpec {
    const [ma, mb] = this.manifests;
    const all = [...new Set([...ma.active.map((c) => c.expert), ...ma.excluded, ...mb.active.map((c) => c.expert), ...mb.excluded])];
    return { columns: ["expert", this.a, this.b], rows: all.map((e) => [e, ma.active.some((c) => c.expert === e) ? "✓" : "–", mb.active.some((c) => c.expert === e) ? "✓" : "–"]) };
  }

  toString(): string {
    const g = this.generations;
    const hasPrompt = this.prompt !== undefined;
    return textOf(
      `${this.a}  vs  ${this.b}`,
      this.pplTable(),
      hasPrompt && `next token after ${JSON.stringify(this.prompt)}:`,
      hasPrompt && this.tokenTable(),
      g && `generation (seed ${g[0].seed}):\n  ${this.a}: ${JSON.stringify(g[0].completion)}\n  ${this.b}: ${JSON.stringify(g[1].completion)}`,
      `data in effect:`,
      this.manifestTable(),
      `opt-out: ${this.manifests[1].optOut} — ${this.manifests[1].note}`,
    );
  }

  override toJSON(): object {
    return {
      a: this.a,
      b: this.b,
      domains: this.domains,
      ppl: Object.fromEntries(this.domains.map((d) => [d, { a: this.evalA.ppl(d), b: this.evalB.ppl(d), deltaPct: this.deltaPct(d) }])),
      prompt: this.prompt,
      nextTokens: this.nextTokens,
      generations: this.generations?.map((g) => ({ model: g.model, completion: g.completion, seed: g.seed })) ?? null,
      manifests: this.manifests.map((m) => ({ model: m.model, active: m.active.map((c) => c.expert), excluded: m.excluded, optOut: m.optOut })),
    };
  }

  /**
   * None: the notebook output is HTML only. The comparison is tables, text and two small charts, and a
   * plotly payload would make VS Code / JupyterLab show just one chart. `chart()` / `nextTokenChart()`
   * give the plotly figures.
   */
  protected override figure(): undefined {
    return undefined;
  }

  protected override html(): HtmlPart[] {
    const g = this.generations;
    const hasPrompt = this.prompt !== undefined;
    const optOut = this.manifests[1].optOut;
    return [
      heading(`${this.a}  vs  ${this.b}`),
      sideBySide([this.chart(), this.pplTable()]),
      hasPrompt && heading(`Next token after ${JSON.stringify(this.prompt)}`),
      hasPrompt && sideBySide([this.nextTokenChart(), this.tokenTable()]),
      g && heading(`Generations (same seed ${g[0].seed})`),
      g && { columns: ["model", "prompt ⟨completion⟩"], rows: [[this.a, `${g[0].prompt}⟨${g[0].completion}⟩`], [this.b, `${g[1].prompt}⟨${g[1].completion}⟩`]] },
      heading("Data in effect (active data manifest)"),
      this.manifestTable(),
      note(`opt-out ${optOut}: ${this.manifests[1].note}`, optOut === "exact" ? "info" : "warn"),
    ];
  }
}

function uniqueLabels(texts: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return texts.map((t) => {
    const base = JSON.stringify(t);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base} (${n + 1})`;
  });
}

/** Probabilities of the next token after `prompt` (softmax of the last position's logits). */
export async function nextTokenProbs(model: FlexModel, prompt: string): Promise<Float32Array> {
  const ctx = await dataOf(model);
  const ids = ctx.tokenizer.encode(prompt).slice(-model.config.maxSeqLen);
  if (ids.length === 0) throw new Error("nextTokenProbs: the prompt is empty after tokenisation; pass some text.");
  const V = model.config.vocabSize;
  const p = tf.tidy(() => {
    const x = tf.tensor2d(Int32Array.from(ids), [1, ids.length], "int32"); // [1, T]
    const logits = model.logits(x); // [1, T, V]
    return tf.softmax(tf.reshape(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, V]), [V])); // [V]
  });
  const out = (await p.data()) as Float32Array;
  p.dispose();
  return out;
}

function topIds(p: Float32Array, n: number): number[] {
  return Array.from(p.keys())
    .sort((i, j) => p[j] - p[i] || i - j)
    .slice(0, n);
}

/**
 * Compare a model with a view of it (or any two models on the same tokenizer): perplexity per
 * domain, next-token distributions, same-seed generations and active data manifests.
 */
export async function compareViews(a: FlexModel, b: FlexModel, opts: CompareOptions = {}): Promise<ViewComparison> {
  checkOptionKeys(opts, ["prompt", "domains", "maxWindows", "top", "maxTokens", "temperature", "seed"], "compareViews");
  const ctx = await dataOf(a);
  if (a.config.vocabSize !== b.config.vocabSize) throw new Error(`compareViews: the models have different vocabularies (${a.config.vocabSize} vs ${b.config.vocabSize}); compare views of one model.`);
  const domains = [...(opts.domains ?? defaultCompareDomains(a, b, ctx.domains))];
  const evalOpts = { domains, maxWindows: opts.maxWindows ?? 16 };
  const evalA = await a.evaluate(evalOpts);
  const evalB = await b.evaluate(evalOpts);
  let nextTokens: NextToken[] = [];
  let generations: [GenerateResult, GenerateResult] | null = null;
  if (opts.prompt !== undefined) {
    const pa = await nextTokenProbs(a, opts.prompt);
    const pb = await nextTokenProbs(b, opts.prompt);
    const top = opts.top ?? 8;
    const ids = [...new Set([...topIds(pa, top), ...topIds(pb, top)])].sort((i, j) => Math.max(pb[j], pa[j]) - Math.max(pb[i], pa[i]) || i - j);
    nextTokens = ids.map((id) => ({ id, text: ctx.tokenizer.decode([id]), pa: pa[id], pb: pb[id] }));
    const maxTokens = opts.maxTokens ?? 32;
    if (maxTokens > 0) {
      const g = { maxTokens, temperature: opts.temperature ?? 0.8, seed: opts.seed ?? 0 };
      generations = [await a.generate(opts.prompt, g), await b.generate(opts.prompt, g)];
    }
  }
  return new ViewComparison({ a: a.label, b: b.label, domains, evalA, evalB, prompt: opts.prompt, nextTokens, generations, manifests: [a.manifest(), b.manifest()] });
}

function defaultCompareDomains(a: FlexModel, b: FlexModel, have: readonly string[]): string[] {
  const ds = [...new Set([...a.allExperts, ...b.allExperts])].filter((e) => have.includes(e));
  if (!ds.includes("public") && have.includes("public")) ds.push("public");
  return ds;
}

