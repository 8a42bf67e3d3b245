/**
 * Where do tokens go? The canonical MoE routing views (OLMoE analysis scripts, FlexOlmo Fig. 2),
 * as self-rendering records over any FlexModel view:
 *
 *   const r = await inspect.routing(model, { domains: ["math", "code", "public"] });
 *   r.byDomain()          // each expert's fraction of tokens per domain and layer, vs uniform k/E
 *   r.coactivation()      // which experts are chosen together
 *   r.vocabulary()        // which tokens go to which expert
 *   await inspect.routeTokens(model, "Solve 3x + 2 = 11.")   // the text, coloured by top-1 expert
 *
 * `routing()` runs the model once over evaluation windows; every view after that is arithmetic.
 */
import { inspect } from "node:util";
import { bundleOf, DISPLAY, type MimeBundle } from "../display/mime";
import { assignFields, ResultRecord, textOf, type HtmlPart } from "../display/record";
import { tokenColors, tokenColorsHtml, type TableSpec } from "../display/views";
import { formatNumber, type PlotlyFigure } from "../display/plotly";
import type { FlexModel } from "../flex/model";
import { conditionalCoactivation, specialisedTokens, type SpecialisedToken } from "./aggregate";
import { coactivationChart, domainShareChart, expertColors, vocabularyChart } from "./charts";
import { dataOf, pickLayers, sampleRouting, telemetryOf, type RoutingSample, type SampleOptions } from "./collect";
import { note } from "./html";

export type LayerSpec = "all" | "first-middle-last" | readonly number[];

/** Run the model over evaluation windows and keep the routing counts (see ./collect.ts). */
export async function routing(model: FlexModel, opts: SampleOptions = {}): Promise<RoutingReport> {
  const sample = await sampleRouting(model, opts);
  const ctx = await dataOf(model);
  return new RoutingReport(sample, (id) => ctx.tokenizer.decode([id]));
}

/** Shortcut: `(await routing(model, opts)).byDomain(opts)`. */
export async function routingByDomain(model: FlexModel, opts: SampleOptions & { layers?: LayerSpec } = {}): Promise<DomainShares> {
  const { layers, ...windowOpts } = opts;
  return (await routing(model, windowOpts)).byDomain({ layers });
}

export class RoutingReport {
  constructor(
    readonly sample: RoutingSample,
    private readonly decode: (id: number) => string,
  ) {}

  /** One line: what was sampled, and the views it offers (the sample itself is thousands of counts). */
  toString(): string {
    const s = this.sample;
    const tokens = s.domains.reduce((n, d) => n + d.tokens, 0);
    return `routing of "${s.model}": ${tokens} tokens of ${s.domains.map((d) => d.domain).join(", ")} (${s.split}, T=${s.seqLen}), experts ${this.included.join(", ")}, top-${s.k}, ${s.layers} layers; .byDomain(), .coactivation(), .vocabulary()`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field. */
  [inspect.custom](): string {
    return this.toString();
  }

  get experts(): string[] {
    return this.sample.experts;
  }

  /** Experts in this view (the ones routing can choose). */
  get included(): string[] {
    return this.sample.experts.filter((_, i) => this.sample.include[i]);
  }

  /** Per (domain, layer), each expert's fraction of tokens (FlexOlmo Fig. 2). */
  byDomain(opts: { layers?: LayerSpec } = {}): DomainShares {
    const layers = pickLayers(this.sample.layers, opts.layers ?? "first-middle-last");
    const s = this.sample;
    const fractions = s.domains.map((d) => layers.map((l) => d.selected[l].map((c) => c / d.tokens)));
    const meanProb = s.domains.map((d) => layers.map((l) => d.probSum[l].map((p) => p / d.tokens)));
    return new DomainShares({
      model: s.model,
      experts: s.experts,
      include: s.include,
      k: s.k,
      layers,
      domains: s.domains.map((d) => d.domain),
      tokens: s.domains.map((d) => d.tokens),
      fractions,
      meanProb,
    });
  }

  /** Which experts are chosen together, per layer, over all sampled domains. */
  coactivation(opts: { layers?: LayerSpec } = {}): Coactivation {
    const s = this.sample;
    const layers = pickLayers(s.layers, opts.layers ?? "all");
    const E = s.experts.length;
    const counts = layers.map((l) => {
      const c = Array.from({ length: E }, () => new Array<number>(E).fill(0));
      for (const d of s.domains) for (let i = 0; i < E; i++) for (let j = 0; j < E; j++) c[i][j] += d.coactivation[l][i][j];
      return c;
    });
    return new Coactivation({ model: s.model, experts: s.experts, include: s.include, k: s.k, layers, counts, tokens: s.domains.reduce((a, d) => a + d.tokens, 0) });
  }

  /**
   * Vocabulary specialisation in one layer (default: the last): per expert, the tokens whose top-1
   * goes to it most consistently, among tokens seen at least `minCount` times.
   */
  vocabulary(opts: { layer?: number; top?: number; minCount?: number } = {}): Vocabulary {
    const s = this.sample;
    const layer = pickLayers(s.layers, [opts.layer ?? s.layers - 1])[0];
    const top = opts.top ?? 6;
    const minCount = opts.minCount ?? 5;
    const acc = { total: new Map<number, number>(), top1: new Map<number, number[]>() };
    for (const d of s.domains) {
      for (const [id, n] of d.vocab[layer].total) acc.total.set(id, (acc.total.get(id) ?? 0) + n);
      for (const [id, row] of d.vocab[layer].top1) {
        const dst = acc.top1.get(id) ?? new Array<number>(row.length).fill(0);
        row.forEach((v, j) => (dst[j] += v));
        acc.top1.set(id, dst);
      }
    }
    const lists = specialisedTokens(acc, s.experts.length, top, minCount).map((l, j) => (s.include[j] ? l : []));
    const fractionsOf = (id: number) => acc.top1.get(id)!.map((c) => c / acc.total.get(id)!);
    return new Vocabulary({ model: s.model, experts: s.experts, include: s.include, layer, minCount, lists, decode: this.decode, fractionsOf });
  }
}

// ---------------------------------------------------------------------------------------------

export interface DomainSharesInit {
  model: string;
  experts: string[];
  include: boolean[];
  k: number;
  layers: number[];
  domains: string[];
  tokens: number[];
  /** [domain][layer index][expert] fraction of tokens routed to the expert (sums to k). */
  fractions: number[][][];
  /** [domain][layer index][expert] mean router probability. */
  meanProb: number[][][];
}

/**
 * What the routing records below share: the model, its experts (full numbering) and which of them
 * the view includes. Declared here, these stay the first three keys of each record's JSON.
 */
abstract class ViewRecord extends ResultRecord {
  readonly model!: string;
  readonly experts!: string[];
  readonly include!: boolean[];

  /** Indices (full numbering) of the experts in the view. */
  protected viewIndices(): number[] {
    return this.experts.map((_, i) => i).filter((i) => this.include[i]);
  }
}

/** Per domain and layer: each expert's fraction of tokens, against the uniform k/E. */
export class DomainShares extends ViewRecord {
  readonly k!: number;
  readonly layers!: number[];
  readonly domains!: string[];
  readonly tokens!: number[];
  readonly fractions!: number[][][];
  readonly meanProb!: number[][][];

  constructor(init: DomainSharesInit) {
    super();
    assignFields(this, init, ["model", "experts", "include", "k", "layers", "domains", "tokens", "fractions", "meanProb"]);
  }

  /** Experts in the view. */
  get included(): number {
    return this.include.filter(Boolean).length;
  }

  /** The uniform line: k / E (E = experts in the view). */
  get uniform(): number {
    return this.k / this.included;
  }

  /** Fraction of domain `d`'s tokens that layer `layer` sends to `expert`. */
  fraction(domain: string, layer: number, expert: string): number {
    const di = this.domains.indexOf(domain), li = this.layers.indexOf(layer), e = this.experts.indexOf(expert);
    if (di < 0 || li < 0 || e < 0) throw new Error(`No such cell: domain "${domain}" (${this.domains.join(", ")}), layer ${layer} (${this.layers.join(", ")}), expert "${expert}" (${this.experts.join(", ")}).`);
    return this.fractions[di][li][e];
  }

  override chart() {
    return domainShareChart({ experts: this.experts, included: this.include, domains: this.domains, layers: this.layers, fractions: this.fractions, k: this.k });
  }

  private table(): TableSpec {
    const inc = this.viewIndices();
    const rows: (string | number)[][] = [];
    this.domains.forEach((d, di) => this.layers.forEach((l, li) => rows.push([d, l, ...inc.map((e) => this.fractions[di][li][e])])));
    return { columns: ["domain", "layer", ...inc.map((i) => this.experts[i])], rows, digits: 3 };
  }

  toString(): string {
    return textOf(`routing of ${this.model}: fraction of tokens per expert (top-${this.k} of ${this.included}; uniform k/E = ${formatNumber(this.uniform)})`, this.table());
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [
      fig,
      note(`Each bar: the fraction of the domain's test tokens that send one of their ${this.k} slots to that expert (a row sums to k = ${this.k}). The dashed line is uniform routing, k/E = ${formatNumber(this.uniform)}.`),
      this.table(),
    ];
  }
}

// ---------------------------------------------------------------------------------------------

/** Which experts are chosen together (OLMoE co-activation), per layer. */
export class Coactivation extends ViewRecord {
  readonly k!: number;
  readonly layers!: number[];
  /** [layer index][i][j] tokens choosing both i and j; [i][i] tokens choosing i. */
  readonly counts!: number[][][];
  readonly tokens!: number;

  constructor(init: { model: string; experts: string[]; include: boolean[]; k: number; layers: number[]; counts: number[][][]; tokens: number }) {
    super();
    assignFields(this, init, ["model", "experts", "include", "k", "layers", "counts", "tokens"]);
  }

  /** [layer index][i][j] = P(j chosen | i chosen); null on the diagonal and for experts never chosen. */
  get conditional(): (number | null)[][][] {
    return this.counts.map(conditionalCoactivation);
  }

  override chart() {
    const inc = this.viewIndices();
    const cond = this.conditional.map((m) => inc.map((i) => inc.map((j) => m[i][j])));
    return coactivationChart({ experts: inc.map((i) => this.experts[i]), layers: this.layers, conditional: cond, k: this.k });
  }

  /** The most frequent pair per layer (ties: lower indices first). */
  topPairs(): { layer: number; pair: [string, string]; tokens: number }[] {
    return this.layers.map((l, li) => {
      let best: [number, number] = [0, 0], n = -1;
      const E = this.experts.length;
      for (let i = 0; i < E; i++) for (let j = i + 1; j < E; j++) if (this.counts[li][i][j] > n) [best, n] = [[i, j], this.counts[li][i][j]];
      return { layer: l, pair: [this.experts[best[0]], this.experts[best[1]]], tokens: Math.max(0, n) };
    });
  }

  toString(): string {
    if (this.k === 1) return `co-activation of ${this.model}: top-1 routing never chooses two experts for one token, so there is nothing to show (use withTopK(2) or more).`;
    const pairs = this.topPairs().map((p) => `L${p.layer}: ${p.pair.join("+")} ${(100 * p.tokens / this.tokens).toFixed(0)}%`);
    return `co-activation of ${this.model} (top-${this.k}, ${this.tokens} tokens); most frequent pair per layer: ${pairs.join("; ")}`;
  }

  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [
      this.k === 1 && note(this.toString(), "warn"),
      fig,
      note("Row i, column j: of the tokens that chose expert i in that layer, the fraction that also chose expert j. The paper reports that the public expert is activated frequently, because every owner learned to complement it; the public column shows how often that holds here, layer by layer."),
    ];
  }
}

// ---------------------------------------------------------------------------------------------

/** Which tokens each expert wins most consistently (top-1), in one layer. */
export class Vocabulary extends ViewRecord {
  readonly layer!: number;
  readonly minCount!: number;
  /** Per expert (full numbering), its most specialised tokens (empty for experts outside the view). */
  readonly lists!: SpecialisedToken[][];
  private readonly decode: (id: number) => string;
  private readonly fractionsOf: (id: number) => number[];

  constructor(init: {
    model: string;
    experts: string[];
    include: boolean[];
    layer: number;
    minCount: number;
    lists: SpecialisedToken[][];
    decode: (id: number) => string;
    fractionsOf: (id: number) => number[];
  }) {
    super();
    assignFields(this, init, ["model", "experts", "include", "layer", "minCount", "lists"]);
    this.decode = init.decode;
    this.fractionsOf = init.fractionsOf;
  }

  /** A readable, unique label per token: its text as a JSON string (spaces and newlines visible). */
  private labels(): { id: number; label: string; expert: number }[] {
    const out: { id: number; label: string; expert: number }[] = [];
    const seen = new Set<number>();
    this.lists.forEach((l, j) =>
      l.forEach((t) => {
        if (seen.has(t.id)) return;
        seen.add(t.id);
        out.push({ id: t.id, label: `${JSON.stringify(this.decode(t.id))} #${t.id}`, expert: j });
      }),
    );
    return out;
  }

  override chart() {
    const rows = this.labels();
    const inc = this.viewIndices();
    return vocabularyChart({
      experts: inc.map((i) => this.experts[i]),
      tokens: rows.map((r) => r.label),
      fractions: rows.map((r) => inc.map((i) => this.fractionsOf(r.id)[i])),
      layer: this.layer,
    });
  }

  toString(): string {
    const lines = this.lists
      .map((l, j) => (this.include[j] ? `  ${this.experts[j]}: ${l.map((t) => `${JSON.stringify(this.decode(t.id))} ${(100 * t.fraction).toFixed(0)}%`).join(", ") || "(no token)"}` : ""))
      .filter(Boolean);
    return `vocabulary specialisation of ${this.model}, layer ${this.layer} (tokens seen ≥ ${this.minCount}×; % of their occurrences whose top-1 is the expert)\n${lines.join("\n")}`;
  }

  override toJSON(): object {
    // Each token with its text: ids alone mean nothing without the tokenizer.
    return { model: this.model, experts: this.experts, layer: this.layer, minCount: this.minCount, lists: this.lists.map((l) => l.map((t) => ({ ...t, text: this.decode(t.id) }))) };
  }

  override [DISPLAY](): MimeBundle {
    // An empty heatmap would say nothing; say why there is none instead.
    if (this.labels().length === 0) return bundleOf({ text: this.toString() + "\n(no token was seen often enough; sample more windows or lower minCount)" });
    return super[DISPLAY]();
  }
}

// ---------------------------------------------------------------------------------------------

/** One text, tokenised and routed: per layer, each token's router probabilities and top-k. */
export class TokenRouting extends ViewRecord {
  readonly k!: number;
  readonly tokens!: string[];
  readonly ids!: number[];
  readonly layers!: number[];
  /** [layer index][token][expert] router probability (0 outside the view). */
  readonly probs!: number[][][];
  /** [layer index][token] the k chosen experts, best first. */
  readonly topk!: number[][][];
  /** [layer index][token] ‖h‖ of the router input. */
  readonly hNorm!: number[][];

  constructor(init: { model: string; experts: string[]; include: boolean[]; k: number; tokens: string[]; ids: number[]; layers: number[]; probs: number[][][]; topk: number[][][]; hNorm: number[][] }) {
    super();
    assignFields(this, init, ["model", "experts", "include", "k", "tokens", "ids", "layers", "probs", "topk", "hNorm"]);
  }

  /** Name of the top-1 expert of every token in layer `layer`. */
  top1(layer: number): string[] {
    const li = this.layers.indexOf(layer);
    if (li < 0) throw new Error(`Layer ${layer} was not routed here (layers: ${this.layers.join(", ")}).`);
    return this.topk[li].map((s) => this.experts[s[0]]);
  }

  private title(li: number, t: number): string {
    const p = this.probs[li][t];
    const ranked = p.map((v, j) => ({ v, j })).filter(({ j }) => this.include[j]).sort((a, b) => b.v - a.v || a.j - b.j);
    const chosen = this.topk[li][t].map((j) => this.experts[j]).join("+");
    // Compact on purpose: one title per token and layer adds up (notebook outputs stay small).
    return `L${this.layers[li]}: ${ranked.map(({ v, j }) => `${this.experts[j]} ${v.toFixed(2)}`).join(", ")}; top-${this.k} ${chosen}; ‖h‖ ${this.hNorm[li][t].toFixed(0)}`;
  }

  views() {
    const colors = expertColors(this.experts);
    return this.layers.map((l, li) =>
      tokenColors({
        tokens: this.tokens,
        labels: this.top1(l),
        titles: this.tokens.map((_, t) => this.title(li, t)),
        colors: Object.fromEntries(Object.entries(colors).filter(([e]) => this.include[this.experts.indexOf(e)])),
        title: `layer ${l}: top-1 expert per token`,
      }),
    );
  }

  toString(): string {
    const lines = this.layers.map((l) => {
      const t1 = this.top1(l);
      const counts = this.experts.filter((_, j) => this.include[j]).map((e) => `${e} ${t1.filter((x) => x === e).length}`);
      return `  layer ${l}: top-1 counts ${counts.join(", ")}`;
    });
    return `routing of ${this.tokens.length} tokens through ${this.model} (top-${this.k})\n${lines.join("\n")}`;
  }

  override toJSON(): object {
    return this.pick("model", "experts", "k", "tokens", "ids", "layers", "probs", "topk", "hNorm");
  }

  // HTML only, on purpose (no chart): a plotly payload would take precedence in VS Code / JupyterLab
  // and hide the coloured text (lib/display/views.ts explains the same choice for tables).
  protected override html(): HtmlPart[] {
    return [
      ...this.views().map((v) => tokenColorsHtml(v)),
      note("Hover a token for its router probabilities in that layer, the experts it was sent to, and ‖h‖ (the router reads the raw residual stream, so logits grow with ‖h‖). Other layers: routeTokens(model, text, { layers: \"all\" })."),
    ];
  }
}

/**
 * Tokenise `text`, route it, and colour each token by its top-1 expert in each layer (default: the
 * first, middle and last layer, as the paper's Fig. 2; `layers: "all"` for every layer).
 */
export async function routeTokens(model: FlexModel, text: string, opts: { layers?: LayerSpec } = {}): Promise<TokenRouting> {
  const ctx = await dataOf(model);
  const ids = ctx.tokenizer.encode(text);
  if (ids.length === 0) throw new Error("routeTokens: the text is empty after tokenisation; pass some text.");
  if (ids.length > model.config.maxSeqLen) throw new Error(`routeTokens: the text has ${ids.length} tokens but the model's context is ${model.config.maxSeqLen}; pass a shorter text.`);
  const layers = pickLayers(model.config.nLayers, opts.layers ?? "first-middle-last");
  const tel = await telemetryOf(model, ids);
  const { n, e, k } = tel;
  return new TokenRouting({
    model: model.label,
    experts: model.allExperts,
    include: [...model.view.include],
    k,
    tokens: ids.map((id) => ctx.tokenizer.decode([id])),
    ids: [...ids],
    layers,
    probs: layers.map((l) => Array.from({ length: n }, (_, t) => Array.from(tel.layers[l].probs.subarray(t * e, (t + 1) * e)))),
    topk: layers.map((l) => Array.from({ length: n }, (_, t) => Array.from(tel.layers[l].topkIdx.subarray(t * k, (t + 1) * k)))),
    hNorm: layers.map((l) => Array.from(tel.layers[l].hNorm)),
  });
}
