/**
 * Quality under different views: perplexity against the number of active experts (FlexOlmo Fig. 3)
 * and the opt-out audit matrix (FlexOlmo Fig. 4). Both only evaluate views of one model: no
 * weights change, so each cell is exactly "this model with that mask".
 */
import type { PlotlyFigure } from "../display/plotly";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";
import type { EvaluateOptions, FlexModel } from "../flex/model";
import { OPT_OUT_NOTE, type OptOutGuarantee } from "../flex/cards";
import type { EvalResult } from "../flex/results";
import { optOutChart, qualityVsKChart } from "./charts";
import { note } from "./html";
import { WINDOW_KEYS } from "../flex/evaluate";
import { checkOptionKeys } from "../util/options";

type EvalOpts = Omit<EvaluateOptions, "reference">;

// ---------------------------------------------------------------------------------------------
// Fig. 3: perplexity vs k

export class QualityVsK extends ResultRecord {
  readonly model!: string;
  readonly ks!: number[];
  readonly domains!: string[];
  /** [domain][k index] perplexity. */
  readonly ppl!: number[][];
  readonly currentK!: number;
  readonly experts!: number;

  constructor(init: { model: string; ks: number[]; domains: string[]; ppl: number[][]; currentK: number; experts: number }) {
    super();
    assignFields(this, init, ["model", "ks", "domains", "ppl", "currentK", "experts"]);
  }

  /** Mean perplexity over domains, per k. */
  get average(): number[] {
    return this.ks.map((_, i) => this.ppl.reduce((s, r) => s + r[i], 0) / this.ppl.length);
  }

  /** The k with the lowest average perplexity (the smallest such k on ties). */
  get bestK(): number {
    const avg = this.average;
    let best = 0;
    avg.forEach((v, i) => (v < avg[best] ? (best = i) : 0));
    return this.ks[best];
  }

  override chart() {
    return qualityVsKChart({ ks: this.ks, domains: this.domains, ppl: this.ppl, currentK: this.currentK });
  }

  private table(): TableSpec {
    return { columns: ["k", ...this.domains, "average"], rows: this.ks.map((k, i) => [k, ...this.ppl.map((r) => r[i]), this.average[i]]), digits: 4 };
  }

  toString(): string {
    return textOf(`perplexity vs k for ${this.model} (${this.experts} experts in view; best average at k = ${this.bestK})`, this.table());
  }

  override toJSON(): object {
    return this.pick("model", "ks", "domains", "ppl", "average", "currentK", "bestK");
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [
      fig,
      this.table(),
      note("The paper (Fig. 3) sees MMLU rise up to k = 4 of 8 and then plateau, and uses 4 of 8; the released configs use 5 of 7 (7 of 7 after router tuning) — FlexOlmo issue #33 asks why. Because top-k weights are not renormalised, a larger k only ADDS experts' contributions; it never rescales the ones already chosen."),
    ];
  }
}

/** Evaluate the model with k = 1 … E active experts (E = experts in the view), every domain. */
export async function qualityVsK(model: FlexModel, opts: EvalOpts & { ks?: number[] } = {}): Promise<QualityVsK> {
  checkOptionKeys(opts, [...WINDOW_KEYS, "ks"], "qualityVsK");
  const { ks: given, ...evalOpts } = opts;
  const E = model.experts.length;
  const ks = given ?? Array.from({ length: E }, (_, i) => i + 1);
  if (!Array.isArray(ks) || ks.length === 0) throw new Error(`qualityVsK: ks must be a non-empty list of k values in 1 … ${E} (got ${JSON.stringify(opts.ks)}); omit it for every k.`);
  for (const k of ks) if (!Number.isInteger(k) || k < 1 || k > E) throw new Error(`qualityVsK: k = ${k} is not in 1 … ${E} (the experts in this view).`);
  const evals: EvalResult[] = [];
  for (const k of ks) evals.push(await model.withTopK(k).evaluate(evalOpts));
  const domains = evals[0].rows.map((r) => r.domain);
  return new QualityVsK({ model: model.label, ks, domains, ppl: domains.map((d) => evals.map((e) => e.ppl(d))), currentK: model.view.topK, experts: E });
}

// ---------------------------------------------------------------------------------------------
// Fig. 4: the opt-out audit matrix

export class OptOutMatrix extends ResultRecord {
  readonly model!: string;
  /** Experts removed, one row each. */
  readonly removed!: string[];
  readonly domains!: string[];
  /** Perplexity of the full view per domain. */
  readonly base!: number[];
  /** [removed][domain] perplexity without that expert. */
  readonly ppl!: number[][];
  readonly guarantee!: OptOutGuarantee;
  readonly note: string;

  constructor(init: { model: string; removed: string[]; domains: string[]; base: number[]; ppl: number[][]; guarantee: OptOutGuarantee }) {
    super();
    assignFields(this, init, ["model", "removed", "domains", "base", "ppl", "guarantee"]);
    this.note = OPT_OUT_NOTE[init.guarantee];
  }

  /** [removed][domain] relative change of perplexity in % (positive = worse without the expert). */
  get deltaPct(): number[][] {
    return this.ppl.map((r) => r.map((p, d) => (100 * (p - this.base[d])) / this.base[d]));
  }

  /** Δ% on `domain` when `expert` is removed. */
  delta(expert: string, domain: string): number {
    const r = this.removed.indexOf(expert), d = this.domains.indexOf(domain);
    if (r < 0 || d < 0) throw new Error(`No cell for expert "${expert}" (rows: ${this.removed.join(", ")}) and domain "${domain}" (${this.domains.join(", ")}).`);
    return this.deltaPct[r][d];
  }

  override chart() {
    return optOutChart({ removed: this.removed, domains: this.domains, deltaPct: this.deltaPct, guarantee: this.guarantee });
  }

  private table(): TableSpec {
    // The display uses the lab's one sign convention, improvement (+ = better): removing an expert
    // usually costs, so these are mostly negative. `deltaPct` (+ = worse) stays as it is in the JSON.
    const ppl = [["(none removed): ppl", ...this.base]];
    const change = this.removed.map((e, r) => [`without ${e}: improvement %`, ...this.deltaPct[r].map((v) => -v)]);
    return { columns: ["", ...this.domains], rows: [...ppl, ...change], digits: 3, decimals: [undefined, ...this.domains.map(() => 2)] };
  }

  toString(): string {
    return textOf(`opt-out audit of ${this.model} (${this.guarantee})`, this.table(), this.note);
  }

  override toJSON(): object {
    return this.pick("model", "removed", "domains", "base", "ppl", "deltaPct", "guarantee", "note");
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [fig, this.table(), note(this.note, this.guarantee === "exact" ? "info" : "warn")];
  }
}

/**
 * For each owner expert in the view (or `experts`), evaluate the model without it, on every domain.
 * Red cells: that domain got worse. The provenance says whether removal is exact (no router tuning)
 * or only approximate (after it).
 */
export async function optOutMatrix(model: FlexModel, opts: EvalOpts & { experts?: string[] } = {}): Promise<OptOutMatrix> {
  checkOptionKeys(opts, [...WINDOW_KEYS, "experts"], "optOutMatrix");
  const { experts, ...evalOpts } = opts;
  const removed = experts ?? model.experts.filter((e) => e !== "public");
  if (removed.length === 0) throw new Error("optOutMatrix: this view has no owner expert to remove.");
  for (const e of removed) if (!model.experts.includes(e)) throw new Error(`optOutMatrix: "${e}" is not in this view (experts: ${model.experts.join(", ")}).`);
  const base = await model.evaluate(evalOpts);
  const domains = base.rows.map((r) => r.domain);
  const ppl: number[][] = [];
  for (const e of removed) {
    const r = await model.without(e).evaluate({ ...evalOpts, domains });
    ppl.push(domains.map((d) => r.ppl(d)));
  }
  return new OptOutMatrix({ model: model.label, removed, domains, base: domains.map((d) => base.ppl(d)), ppl, guarantee: model.optOut });
}

