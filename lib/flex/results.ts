/**
 * Result records: plain data (JSON-serialisable fields) that render themselves in a notebook as one
 * MIME bundle (text/plain summary + plotly figure + offline SVG/HTML) and print as text tables.
 */
import { barChart, heatmap } from "../display/charts";
import type { PlotlyFigure } from "../display/plotly";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import { escapeXml } from "../display/svg";
import { tableHtml, tableText, type TableSpec } from "../display/views";
import type { DataCard, Provenance, OptOutGuarantee } from "./cards";

/** Text table (numbers to `digits` significant digits); the display layer's, so notebooks and logs agree. */
export function textTable(headers: string[], rows: Array<Array<string | number>>, digits = 6): string {
  return tableText({ columns: headers, rows, digits });
}

/** The same table as self-contained HTML (no scripts, no URLs). */
export function htmlTable(headers: string[], rows: Array<Array<string | number>>, digits = 6): string {
  return tableHtml({ columns: headers, rows, digits });
}

// ---------------------------------------------------------------------------------------------

export interface EvalRow {
  domain: string;
  /** Target tokens scored. */
  tokens: number;
  /** Mean cross-entropy per token (nats). */
  loss: number;
  /** exp(loss). */
  ppl: number;
}

export interface EvalResultInit {
  model: string;
  experts: string[];
  optOut: OptOutGuarantee;
  split: string;
  seqLen: number;
  rows: EvalRow[];
  reference?: EvalResult;
  seconds: number;
}

/** Per-domain perplexity; with a reference, the relative improvement (ref − ppl) / ref per domain. */
export class EvalResult extends ResultRecord {
  // Declaration order is the JSON key order (see ResultRecord.toJSON).
  readonly model!: string;
  readonly experts!: string[];
  readonly optOut!: OptOutGuarantee;
  readonly split!: string;
  readonly seqLen!: number;
  readonly rows!: EvalRow[];
  /** Mean perplexity over the evaluated domains (each domain counts once, as in the paper's averages). */
  readonly average: number;
  readonly reference?: EvalResult;
  readonly seconds!: number;

  constructor(init: EvalResultInit) {
    super();
    assignFields(this, init, ["model", "experts", "optOut", "split", "seqLen", "rows", "reference", "seconds"]);
    this.average = init.rows.reduce((s, r) => s + r.ppl, 0) / Math.max(1, init.rows.length);
  }

  /** Perplexity of one domain. */
  ppl(domain: string): number {
    const r = this.rows.find((x) => x.domain === domain);
    if (!r) throw new Error(`No "${domain}" row in this evaluation (domains: ${this.rows.map((x) => x.domain).join(", ")}).`);
    return r.ppl;
  }

  /** (ref − ppl) / ref per domain, or undefined without a reference. Positive = better than the reference. */
  improvement(domain: string): number | undefined {
    return this.reference ? (this.reference.ppl(domain) - this.ppl(domain)) / this.reference.ppl(domain) : undefined;
  }

  private table(): TableSpec {
    const headers = ["domain", "tokens", "ppl"];
    if (this.reference) headers.push(`ppl (${this.reference.model})`, "improvement % (+ = better)");
    const rows = this.rows.map((r) => {
      const row: Array<string | number> = [r.domain, r.tokens, r.ppl];
      if (this.reference) row.push(this.reference.ppl(r.domain), 100 * this.improvement(r.domain)!);
      return row;
    });
    const avg: Array<string | number> = ["average", this.rows.reduce((s, r) => s + r.tokens, 0), this.average];
    if (this.reference) avg.push(this.reference.average, (100 * (this.reference.average - this.average)) / this.reference.average);
    rows.push(avg);
    // Rounded for reading: token counts whole, perplexities to 2 decimals, % to 1.
    return { columns: headers, rows, digits: 6, decimals: [undefined, 0, 2, 2, 1] };
  }

  toString(): string {
    return textOf(`${this.model} on ${this.split} (experts: ${this.experts.join(", ")}; opt-out ${this.optOut}; T=${this.seqLen}; ${this.seconds.toFixed(1)} s)`, this.table());
  }

  override toJSON(): object {
    // The reference as its own JSON, so that the object (not only its string form) is plain data.
    return { ...super.toJSON(), reference: this.reference?.toJSON() };
  }

  /** Perplexity per domain as bars, next to the reference's when there is one. */
  override chart() {
    const series = [{ name: this.model, values: this.rows.map((r) => r.ppl) }];
    if (this.reference) series.unshift({ name: this.reference.model, values: this.rows.map((r) => this.reference!.ppl(r.domain)) });
    return barChart({ title: `Perplexity on ${this.split} (lower is better)`, categories: this.rows.map((r) => r.domain), series, valueTitle: "perplexity" });
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [fig, this.table()];
  }
}

// ---------------------------------------------------------------------------------------------

export class GenerateResult extends ResultRecord {
  readonly model!: string;
  readonly prompt!: string;
  readonly completion!: string;
  readonly tokens!: number[];
  readonly seed!: number;
  /** true when the call's signal stopped it early: `completion` holds the tokens sampled until then. */
  readonly aborted?: boolean;
  constructor(init: { model: string; prompt: string; completion: string; tokens: number[]; seed: number; aborted?: boolean }) {
    super();
    assignFields(this, init, ["model", "prompt", "completion", "tokens", "seed"]);
    if (init.aborted) this.aborted = true; // absent (not false) otherwise: records of finished runs stay as they were
  }
  get text(): string {
    return this.prompt + this.completion;
  }
  toString(): string {
    return `[${this.model}, seed ${this.seed}${this.aborted ? ", stopped early" : ""}] ${this.prompt}⟨${this.completion}⟩`;
  }
  protected override html(): HtmlPart[] {
    return [`<pre style="white-space:pre-wrap"><span style="color:#777">${escapeXml(this.prompt)}</span><b>${escapeXml(this.completion)}</b></pre>`];
  }
}

// ---------------------------------------------------------------------------------------------

/** Per token, each expert's share of the expert weight (averaged over layers). */
export class AttributionResult extends ResultRecord {
  readonly model!: string;
  readonly experts!: string[];
  readonly owners!: string[];
  readonly tokens!: string[];
  /** [token][expert], rows sum to 1. */
  readonly shares!: number[][];
  /** Context windows the text was routed in (1 unless it is longer than the model's context). */
  readonly windows!: number;
  /** Tokens per window (the model's maxSeqLen); each window is routed without the text before it. */
  readonly windowSize!: number;
  constructor(init: { model: string; experts: string[]; owners: string[]; tokens: string[]; shares: number[][]; windows?: number; windowSize?: number }) {
    super();
    assignFields(this, { ...init, windows: init.windows ?? 1, windowSize: init.windowSize ?? init.tokens.length }, ["model", "experts", "owners", "tokens", "shares", "windows", "windowSize"]);
  }
  /** Each expert's share over the whole text. */
  get totals(): Record<string, number> {
    const out: Record<string, number> = {};
    this.experts.forEach((e, j) => (out[e] = this.shares.reduce((s, r) => s + r[j], 0) / Math.max(1, this.shares.length)));
    return out;
  }
  toString(): string {
    const tot = this.totals;
    const win = this.windows > 1 ? ` in ${this.windows} windows of ≤ ${this.windowSize}` : "";
    return `attribution (${this.model}, ${this.tokens.length} tokens${win}): ${this.experts.map((e) => `${e} ${(100 * tot[e]).toFixed(1)}%`).join(", ")}`;
  }
  /** Expert share per token (rows: experts, columns: tokens). */
  override chart() {
    return heatmap({
      title: "Expert share per token (mean over layers)",
      z: this.experts.map((_, j) => this.shares.map((r) => r[j])),
      x: this.tokens.map((t, i) => `${i}:${t}`),
      y: this.experts,
    });
  }
}

// ---------------------------------------------------------------------------------------------

/** The data in effect under a view. */
export class ManifestResult extends ResultRecord {
  readonly model!: string;
  readonly optOut!: OptOutGuarantee;
  readonly note!: string;
  readonly active!: DataCard[];
  readonly excluded!: string[];
  readonly provenance!: Provenance;
  constructor(init: { model: string; optOut: OptOutGuarantee; note: string; active: DataCard[]; excluded: string[]; provenance: Provenance }) {
    super();
    assignFields(this, init, ["model", "optOut", "note", "active", "excluded", "provenance"]);
  }
  private table(): TableSpec {
    const rows = this.active.map((c) => [c.expert, c.owner, c.domain, c.licenses.join(", "), c.documents, c.tokensSeen]);
    return { columns: ["expert", "owner", "domain", "licences", "documents", "tokens seen"], rows, digits: 9 };
  }
  toString(): string {
    const head = `data in effect for ${this.model} (${this.active.length} experts active${this.excluded.length ? `; opted out: ${this.excluded.join(", ")}` : ""})`;
    return textOf(head, this.table(), this.note);
  }
  protected override html(): HtmlPart[] {
    return [this.table(), `<p>${escapeXml(this.note)}</p>`];
  }
}
