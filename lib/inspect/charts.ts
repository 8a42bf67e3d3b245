/**
 * Chart builders of the inspection views: pure functions from plain numbers to a figure built by the
 * display layer (plotly JSON + offline SVG). Each is snapshot-tested on hand-made inputs
 * (test/inspect/charts.test.ts), so a figure changes only when someone meant it to.
 *
 * Expert colours are fixed by position in the FULL model (public = palette 0, first owner = 1, …),
 * so an expert keeps its colour across views, masks and notebooks.
 */
import { barChart, heatmap, lineChart, type Chart } from "../display/charts";
import { COLOR_SCALES, colorAt, paletteColor, type ColorStop } from "../display/plotly";

/** The colour of expert `index` of the full model, in every chart and token view. */
export function expertColor(index: number): string {
  return paletteColor(index);
}

/** A colour per layer, dark (first) to light (last) on viridis, stopping short of its pale yellow end. */
export function layerColor(layer: number, nLayers: number): string {
  return colorAt(COLOR_SCALES.viridis, nLayers <= 1 ? 0 : (0.85 * layer) / (nLayers - 1));
}

/** Colour map name → colour for a model's experts (full-model numbering). */
export function expertColors(experts: readonly string[]): Record<string, string> {
  return Object.fromEntries(experts.map((e, i) => [e, expertColor(i)]));
}

/**
 * Red for "worse", blue for "better", white for "no change": RdBu reversed, so that a positive Δ
 * perplexity (removing an expert hurt) reads red, as a warning should.
 */
export const DELTA_SCALE: ColorStop[] = COLOR_SCALES.rdbu.map(([t], i, all) => [t, all[all.length - 1 - i][1]] as ColorStop);

// ---------------------------------------------------------------------------------------------

export interface DomainShareChartSpec {
  /** Experts of the full model (colours by index); only `included` ones get bars. */
  experts: readonly string[];
  included: readonly boolean[];
  domains: readonly string[];
  layers: readonly number[];
  /** fractions[d][li][e]: fraction of domain d's tokens routed to expert e in layer layers[li]. */
  fractions: readonly (readonly (readonly number[])[])[];
  k: number;
  title?: string;
}

/**
 * FlexOlmo Fig. 2 / OLMoE routing analysis: per (domain, layer), each expert's fraction of tokens,
 * against the uniform line k/E (E = experts in the view).
 */
export function domainShareChart(s: DomainShareChartSpec): Chart {
  const inc = s.experts.map((_, i) => i).filter((i) => s.included[i]);
  const categories: string[] = [];
  s.domains.forEach((d) => s.layers.forEach((l) => categories.push(`${d} · L${l}`)));
  const series = inc.map((e) => ({
    name: s.experts[e],
    color: expertColor(e),
    values: s.domains.flatMap((_, di) => s.layers.map((_, li) => s.fractions[di][li][e])),
  }));
  const uniform = s.k / inc.length;
  return barChart({
    title: s.title ?? `Fraction of tokens routed to each expert (top-${s.k} of ${inc.length})`,
    categories,
    series,
    categoryTitle: "evaluation domain · layer",
    valueTitle: "fraction of tokens",
    refLines: [{ value: uniform, label: `uniform k/E = ${s.k}/${inc.length}` }],
    width: Math.min(900, Math.max(640, 60 * categories.length)),
  });
}

export interface QualityVsKChartSpec {
  ks: readonly number[];
  domains: readonly string[];
  /** ppl[d][i]: perplexity of domain d with ks[i] active experts. */
  ppl: readonly (readonly number[])[];
  /** The model's own k (marked in the title). */
  currentK?: number;
  title?: string;
}

/** FlexOlmo Fig. 3 at toy scale: perplexity per domain against the number of active experts. */
export function qualityVsKChart(s: QualityVsKChartSpec): Chart {
  const avg = s.ks.map((_, i) => s.ppl.reduce((acc, row) => acc + row[i], 0) / s.ppl.length);
  const fig = lineChart({
    title: s.title ?? `Perplexity vs active experts k${s.currentK ? ` (model default k = ${s.currentK})` : ""}`,
    x: [...s.ks],
    series: [
      ...s.domains.map((d, i) => ({ name: d, y: [...s.ppl[i]] })),
      { name: "average", y: avg, color: "#333333", dash: "dash" as const },
    ],
    mode: "lines+markers",
    xTitle: "active experts per token (k)",
    yTitle: "perplexity (lower is better)",
  });
  // k is a count: a category axis puts one tick per k (a numeric axis would add 1.5, 2.5, …).
  for (const t of fig.data) if (t.type === "scatter") t.x = t.x.map(String);
  fig.layout.xaxis = { ...fig.layout.xaxis, type: "category" };
  return fig;
}

export interface CoactivationChartSpec {
  experts: readonly string[];
  layers: readonly number[];
  /** cond[li][i][j] = P(j selected | i selected); null on the diagonal / for unused experts. */
  conditional: readonly (readonly (readonly (number | null)[])[])[];
  k: number;
  title?: string;
}

/**
 * Per-layer expert × expert matrices stacked into one heatmap: a block of rows per layer, each row
 * labelled "L<layer> · <expert>" (co-activation and router geometry share this layout).
 */
function layerBlocks(experts: readonly string[], layers: readonly number[], m: readonly (readonly (readonly (number | null)[])[])[]): { y: string[]; z: (number | null)[][] } {
  const y: string[] = [];
  const z: (number | null)[][] = [];
  layers.forEach((l, li) =>
    experts.forEach((e, i) => {
      y.push(`L${l} · ${e}`);
      z.push([...m[li][i]]);
    }),
  );
  return { y, z };
}

/** Which experts are chosen together: one block of rows per layer (rows = the expert conditioned on). */
export function coactivationChart(s: CoactivationChartSpec): Chart {
  return heatmap({
    title: s.title ?? `Co-activation, top-${s.k}: P(column | row)`,
    x: [...s.experts],
    ...layerBlocks(s.experts, s.layers, s.conditional),
    zmin: 0,
    zmax: 1,
    xTitle: "also chosen",
    yTitle: "layer · chosen expert",
    colorbarTitle: "P",
    width: Math.max(520, 240 + 56 * s.experts.length),
  });
}

export interface VocabularyChartSpec {
  experts: readonly string[];
  /** Row labels (tokens, unique) and, per row, the fraction of its occurrences whose top-1 is each expert. */
  tokens: readonly string[];
  fractions: readonly (readonly number[])[];
  layer: number;
  title?: string;
}

/** Vocabulary specialisation (OLMoE): for the most specialised tokens, where their top-1 goes. */
export function vocabularyChart(s: VocabularyChartSpec): Chart {
  return heatmap({
    title: s.title ?? `Layer ${s.layer}: top-1 expert per token`,
    x: [...s.experts],
    y: [...s.tokens],
    z: s.fractions.map((r) => [...r]),
    zmin: 0,
    zmax: 1,
    colorscale: "blues",
    xTitle: "top-1 expert",
    yTitle: "token",
    colorbarTitle: "fraction",
    width: Math.max(520, 300 + 56 * s.experts.length),
  });
}

export interface GeometryChartSpec {
  experts: readonly string[];
  layers: readonly number[];
  /** cos[li][i][j] between router rows i and j of layer layers[li]. */
  cosine: readonly (readonly (readonly (number | null)[])[])[];
  title?: string;
}

/** Router-row cosine similarity, one block of rows per layer; 1 = parallel rows (the same routing direction). */
export function geometryChart(s: GeometryChartSpec): Chart {
  return heatmap({
    title: s.title ?? "Router rows: cosine similarity",
    x: [...s.experts],
    ...layerBlocks(s.experts, s.layers, s.cosine),
    zmin: -1,
    zmax: 1,
    colorscale: "rdbu",
    xTitle: "router row",
    yTitle: "layer · router row",
    colorbarTitle: "cos",
    width: Math.max(520, 240 + 56 * s.experts.length),
  });
}

export interface BiasSweepChartSpec {
  /** β values applied to every owner (b = min(β, 0)). */
  betas: readonly number[];
  domains: readonly string[];
  /** share[d][i]: fraction of domain d's tokens whose top-1 expert is the public one at betas[i], mean over layers. */
  publicTop1: readonly (readonly number[])[];
  /** Experts in the view (for the uniform line 1/E). */
  experts: number;
  title?: string;
}

/** How a negative bias on every owner logit hands tokens back to the public expert. */
export function biasSweepChart(s: BiasSweepChartSpec): Chart {
  return lineChart({
    title: s.title ?? "Tokens whose top-1 is the public expert, vs owner bias β",
    x: [...s.betas],
    series: s.domains.map((d, i) => ({ name: d, y: [...s.publicTop1[i]] })),
    mode: "lines+markers",
    xTitle: "owner bias β (b = min(β, 0), same for every owner and layer)",
    yTitle: "fraction of tokens (mean over layers)",
    refLines: [{ value: 1 / s.experts, label: `uniform 1/E = 1/${s.experts}` }],
  });
}

export interface OptOutChartSpec {
  /** Experts removed (rows) and evaluation domains (columns). */
  removed: readonly string[];
  domains: readonly string[];
  /** delta[r][d]: relative change of perplexity (%) on domain d when expert removed[r] is opted out. */
  deltaPct: readonly (readonly number[])[];
  guarantee: "exact" | "approximate";
  title?: string;
}

/**
 * FlexOlmo Fig. 4: what opting out of each expert costs on each evaluation domain. Drawn in the lab's
 * one sign convention for changes, improvement % = −Δ (+ = better), so a cost is negative and red
 * (RdBu: low = red); the input stays Δ (+ = worse), as stored in results files.
 */
export function optOutChart(s: OptOutChartSpec): Chart {
  const improvement = s.deltaPct.map((r) => r.map((v) => (v === 0 ? 0 : -v)));
  return heatmap({
    title: s.title ?? `Opt-out audit: perplexity improvement (%) when an expert is removed (− = worse) — ${s.guarantee}`,
    x: [...s.domains],
    y: s.removed.map((r) => `without ${r}`),
    z: improvement,
    colorscale: "rdbu",
    ...symmetric(improvement.flat()),
    xTitle: "evaluation domain",
    yTitle: "expert removed",
    colorbarTitle: "improvement %",
    decimals: 1, // percentages: one decimal reads best
  });
}

function symmetric(values: readonly number[]): { zmin: number; zmax: number } {
  const m = Math.max(1e-9, ...values.filter(Number.isFinite).map(Math.abs));
  return { zmin: -m, zmax: m };
}

export interface CompareChartSpec {
  domains: readonly string[];
  a: { label: string; ppl: readonly number[] };
  b: { label: string; ppl: readonly number[] };
  title?: string;
}

/** Two models side by side: perplexity per domain. */
export function compareChart(s: CompareChartSpec): Chart {
  return barChart({
    title: s.title ?? "Perplexity per domain (lower is better)",
    categories: [...s.domains],
    series: [
      { name: s.a.label, values: [...s.a.ppl], color: "#4e79a7" },
      { name: s.b.label, values: [...s.b.ppl], color: "#f28e2b" },
    ],
    categoryTitle: "evaluation domain",
    valueTitle: "perplexity",
  });
}

export interface NextTokenChartSpec {
  /** Token labels (unique), most likely first. */
  tokens: readonly string[];
  a: { label: string; p: readonly number[] };
  b: { label: string; p: readonly number[] };
  title?: string;
}

/** The next-token distributions of two models on one prompt (the union of their top tokens). */
export function nextTokenChart(s: NextTokenChartSpec): Chart {
  return barChart({
    title: s.title ?? "Next-token probabilities",
    categories: [...s.tokens],
    series: [
      { name: s.a.label, values: [...s.a.p], color: "#4e79a7" },
      { name: s.b.label, values: [...s.b.p], color: "#f28e2b" },
    ],
    horizontal: true,
    categoryTitle: "next token",
    valueTitle: "probability",
  });
}

export interface TrainingLossChartSpec {
  title: string;
  steps: readonly number[];
  loss: readonly number[];
  /** Optional evaluation points: per domain, the steps and losses measured. */
  evals?: ReadonlyArray<{ domain: string; steps: readonly number[]; loss: readonly number[] }>;
}

/** Training loss per step, with per-domain evaluation losses as markers when given. */
export function trainingLossChart(s: TrainingLossChartSpec): Chart {
  return lineChart({
    title: s.title,
    series: [
      { name: "train loss", x: [...s.steps], y: [...s.loss], color: "#333333" },
      ...(s.evals ?? []).map((e, i) => ({ name: `${e.domain} (eval)`, x: [...e.steps], y: [...e.loss], color: paletteColor(i + 1), dash: "dot" as const })),
    ],
    mode: "lines",
    xTitle: "step",
    yTitle: "loss (nats/token)",
    width: 560,
    height: 300,
  });
}

export interface TrainingRoutingChartSpec {
  title: string;
  steps: readonly number[];
  /** One line per (layer, expert) pair chosen by the caller; `color` overrides the expert's colour. */
  series: ReadonlyArray<{ name: string; values: readonly number[]; expert: number; color?: string }>;
  yTitle: string;
  /** Reference line (e.g. 0.5 = the public and the owner weigh the same). */
  ref?: { value: number; label: string };
}

/** Routing over training steps (router saturation, watched live). */
export function trainingRoutingChart(s: TrainingRoutingChartSpec): Chart {
  const dashes = ["solid", "dash", "dot"] as const;
  const perExpert = new Map<number, number>();
  return lineChart({
    title: s.title,
    series: s.series.map((x) => {
      const n = perExpert.get(x.expert) ?? 0;
      perExpert.set(x.expert, n + 1);
      return { name: x.name, x: [...s.steps], y: [...x.values], color: x.color ?? expertColor(x.expert), dash: x.color ? "solid" : dashes[n % dashes.length] };
    }),
    xTitle: "step",
    yTitle: s.yTitle,
    refLines: s.ref ? [s.ref] : undefined,
    width: 560,
    height: 300,
  });
}

export interface SimilarityChartSpec {
  /** Histogram bin labels, e.g. "0.0–0.1". */
  bins: readonly string[];
  /** Per model: how many prefixes' best continuation falls in each bin. */
  series: ReadonlyArray<{ name: string; counts: readonly number[] }>;
  threshold: number;
  title?: string;
}

/** Privacy demo: distribution of the best normalised Levenshtein similarity per prefix. */
export function similarityChart(s: SimilarityChartSpec): Chart {
  return barChart({
    title: s.title ?? `Best similarity of sampled continuations to the true text (extracted ≥ ${s.threshold})`,
    categories: [...s.bins],
    series: s.series.map((x, i) => ({ name: x.name, values: [...x.counts], color: paletteColor(i) })),
    categoryTitle: "normalised Levenshtein similarity",
    valueTitle: "prefixes",
  });
}
