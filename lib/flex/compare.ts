/**
 * `flex.compare`: many models, one table — the paper's Table 1 as perplexities.
 *
 *   const table = await flex.compare([pub, flexolmo, rt, soup, btm, btx], { domains: ["math", "code", "public"], reference: pub });
 *   table                     // notebook: grouped bars (plotly + offline SVG) and an HTML table
 *   String(table)             // CLI: a text table
 *
 * Every model is evaluated on the same windows (same split, seqLen, window placement), so a row is
 * comparable with every other row. Any model kind works: a FlexModel, anything with `model()`
 * (public model, owner, dense expert, BTX, unrestricted MoE) and anything with `evaluate()` that
 * returns an EvalResult (the ensembles in ./baselines).
 */
import { barChart } from "../display/charts";
import type { PlotlyFigure } from "../display/plotly";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";
import { EvalResult } from "./results";
import type { FlexModel } from "./model";
import { WINDOW_KEYS, type WindowEvalOptions } from "./evaluate";
import { checkOptionKeys } from "../util/options";

/** What compare accepts: something that evaluates, or something that gives a FlexModel. */
export type Comparable = Evaluable | { model(): FlexModel };

/** Options compare passes to every model's evaluate (the reference is applied by compare itself). */
export type CompareEvalOptions = Omit<WindowEvalOptions, "reference">;

/** Anything with a label that evaluates to an EvalResult (a FlexModel, an ensemble baseline). */
export interface Evaluable {
  label: string;
  evaluate(opts: CompareEvalOptions): Promise<EvalResult>;
}

export interface CompareOptions {
  /** Domains (columns). Default: the reference's (else the first model's) default evaluation domains. */
  domains?: readonly string[];
  /** The model improvements are relative to (usually the public model). Added as the first row if not in the list. */
  reference?: Comparable;
  split?: "train" | "valid" | "test";
  /** Windows per domain (default 32, as evaluate). */
  maxWindows?: number;
  seqLen?: number;
  batchSize?: number;
  /** One line per model as it is evaluated. */
  log?: (line: string) => void;
}

export interface ComparisonRow {
  model: string;
  /** Perplexity per domain. */
  ppl: Record<string, number>;
  /** Mean perplexity over the domains (each domain counts once). */
  average: number;
  /** (ref − ppl) / ref per domain; positive = better than the reference. */
  improvement?: Record<string, number>;
  /** (ref avg − avg) / ref avg. */
  averageImprovement?: number;
  /** Evaluation wall-clock seconds. */
  seconds: number;
  reference: boolean;
}

function evaluatorOf(x: Comparable, i: number): Evaluable {
  const o = x as Partial<{ label: unknown; evaluate: unknown; model: unknown }>;
  if (o && typeof o.evaluate === "function" && typeof o.label === "string") return x as Evaluable;
  if (o && typeof o.model === "function") return (x as { model(): FlexModel }).model();
  throw new Error(`compare: item ${i} is not a model (it needs evaluate() and a label, or model()); got ${x === null ? "null" : typeof x}.`);
}

/** Evaluate every model on the same windows and tabulate perplexities and improvements. */
export async function compare(models: readonly Comparable[], opts: CompareOptions = {}): Promise<ComparisonResult> {
  if (!Array.isArray(models) || models.length === 0) throw new Error("compare: pass at least one model, e.g. compare([pub, merged], { reference: pub }).");
  checkOptionKeys(opts, [...WINDOW_KEYS, "reference", "log"], "compare");
  const evs = models.map(evaluatorOf);
  const seen = new Set<string>();
  for (const e of evs) {
    if (seen.has(e.label)) throw new Error(`compare: two models are labelled "${e.label}"; rename one with .named("…") (or the label option) so rows can be told apart.`);
    seen.add(e.label);
  }
  const log = opts.log ?? (() => undefined);
  const base: CompareEvalOptions = { split: opts.split, maxWindows: opts.maxWindows, seqLen: opts.seqLen, batchSize: opts.batchSize, domains: opts.domains };
  const refEv = opts.reference ? evaluatorOf(opts.reference, -1) : undefined;
  const results = new Map<string, EvalResult>();
  const run = async (e: Evaluable): Promise<EvalResult> => {
    const hit = results.get(e.label);
    if (hit) return hit;
    const r = await e.evaluate(base);
    if (!base.domains) base.domains = r.rows.map((x) => x.domain); // the first evaluation fixes the columns
    const first = [...results.values()][0];
    if (first && first.seqLen !== r.seqLen) {
      throw new Error(`compare: "${e.label}" was evaluated with context ${r.seqLen} but "${first.model}" with ${first.seqLen}; pass seqLen no larger than every model's maxSeqLen so all rows score the same tokens.`);
    }
    results.set(e.label, r);
    log(`${e.label}: average perplexity ${r.average.toFixed(3)} (${r.seconds.toFixed(1)} s)`);
    return r;
  };
  const ref = refEv ? await run(refEv) : undefined;
  for (const e of evs) await run(e);
  const order = [...(refEv && !evs.some((e) => e.label === refEv.label) ? [refEv.label] : []), ...evs.map((e) => e.label)];
  const domains = base.domains!;
  const rows: ComparisonRow[] = order.map((label) => {
    const r = results.get(label)!;
    const ppl = Object.fromEntries(domains.map((d) => [d, r.ppl(d)]));
    const row: ComparisonRow = { model: label, ppl, average: r.average, seconds: r.seconds, reference: label === refEv?.label };
    if (ref) {
      row.improvement = Object.fromEntries(domains.map((d) => [d, (ref.ppl(d) - r.ppl(d)) / ref.ppl(d)]));
      row.averageImprovement = (ref.average - r.average) / ref.average;
    }
    return row;
  });
  const first = results.get(order[0])!;
  return new ComparisonResult({ split: first.split, seqLen: first.seqLen, domains: [...domains], reference: refEv?.label, rows, results: order.map((l) => results.get(l)!) });
}

/** The comparison table: rows = models, columns = per-domain perplexity, average, improvement over the reference. */
export class ComparisonResult extends ResultRecord {
  readonly split!: string;
  readonly seqLen!: number;
  readonly domains!: string[];
  readonly reference?: string;
  readonly rows!: ComparisonRow[];
  /** The underlying evaluations, in row order. */
  readonly results!: EvalResult[];

  constructor(init: { split: string; seqLen: number; domains: string[]; reference?: string; rows: ComparisonRow[]; results: EvalResult[] }) {
    super();
    assignFields(this, init, ["split", "seqLen", "domains", "reference", "rows", "results"]);
  }

  /** The row of one model. */
  row(model: string): ComparisonRow {
    const r = this.rows.find((x) => x.model === model);
    if (!r) throw new Error(`No row "${model}" in this comparison (rows: ${this.rows.map((x) => x.model).join(", ")}).`);
    return r;
  }

  /** The model with the lowest perplexity on a domain (or on average). */
  best(domain: string | "average" = "average"): ComparisonRow {
    if (domain !== "average" && !this.domains.includes(domain)) throw new Error(`No "${domain}" column (domains: ${this.domains.join(", ")}).`);
    const v = (r: ComparisonRow) => (domain === "average" ? r.average : r.ppl[domain]);
    return this.rows.reduce((b, r) => (v(r) < v(b) ? r : b));
  }

  private table(): TableSpec {
    const headers = ["model", ...this.domains, "average"];
    if (this.reference) headers.push(`improvement vs ${this.reference} % (avg)`);
    headers.push("eval s");
    const rows = this.rows.map((r) => {
      const row: Array<string | number> = [r.model + (r.reference ? " (ref)" : ""), ...this.domains.map((d) => r.ppl[d]), r.average];
      if (this.reference) row.push(100 * (r.averageImprovement ?? 0));
      row.push(r.seconds);
      return row;
    });
    // Rounded for reading: perplexities to 2 decimals, % and seconds to 1.
    const decimals = [undefined, ...this.domains.map(() => 2), 2, ...(this.reference ? [1] : []), 1];
    return { columns: headers, rows, digits: 4, decimals };
  }

  toString(): string {
    return textOf(`Perplexity on ${this.split} (T=${this.seqLen}; lower is better; improvement > 0 = better than the reference)`, this.table());
  }

  override toJSON(): object {
    // Not the underlying evaluations: each row already holds their numbers.
    return this.pick("split", "seqLen", "domains", "reference", "rows");
  }

  /** Grouped bars: per domain (and the average), one bar per model. */
  override chart() {
    return barChart({
      title: `Perplexity on ${this.split} (lower is better)`,
      categories: [...this.domains, "average"],
      series: this.rows.map((r) => ({ name: r.model, values: [...this.domains.map((d) => r.ppl[d]), r.average] })),
      valueTitle: "perplexity",
      width: Math.max(640, 90 * (this.domains.length + 1) * Math.max(1, this.rows.length / 4)),
    });
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [fig, this.table()];
  }
}
