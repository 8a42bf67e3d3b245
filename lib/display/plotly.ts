/**
 * The subset of plotly's figure JSON that our charts use, plus the colour helpers shared by the
 * chart builders (./charts.ts) and the offline SVG renderer (./svg.ts).
 *
 * Why a subset: a figure must look the same in plotly (VS Code, JupyterLab) and in our SVG fallback
 * (nbconvert, nbviewer). So the builders spell out everything plotly would otherwise choose itself
 * (colours, colour-scale ranges, annotation text colours, sizes), and the renderer draws exactly the
 * attributes listed here. Anything else in a figure is ignored by the SVG renderer.
 * Reference: https://plotly.com/javascript/reference/ (attribute names are plotly's).
 */

export type Datum = number | string;

export interface ScatterTrace {
  type: "scatter";
  name?: string;
  x: Datum[];
  /** `null` leaves a gap in the line, as in plotly. */
  y: (number | null)[];
  mode: "lines" | "markers" | "lines+markers";
  line?: { color: string; width?: number; dash?: "solid" | "dash" | "dot" };
  marker?: { color: string; size?: number };
  showlegend?: boolean;
}

export interface BarTrace {
  type: "bar";
  name?: string;
  /** Categories (vertical bars) or values (horizontal bars). */
  x: Datum[];
  /** Values (vertical bars) or categories (horizontal bars). */
  y: Datum[];
  orientation?: "v" | "h";
  marker: { color: string };
  showlegend?: boolean;
}

export interface HeatmapTrace {
  type: "heatmap";
  /** z[row][col]; row i is drawn at y[i], column j at x[j]. `null` cells are left blank. */
  z: (number | null)[][];
  x: Datum[];
  y: Datum[];
  colorscale: ColorStop[];
  zmin: number;
  zmax: number;
  showscale?: boolean;
  colorbar?: { title?: { text: string; side?: "right" | "top" | "bottom" }; thickness?: number };
  /** Spaces between cells in px (plotly attribute names). */
  xgap?: number;
  ygap?: number;
}

export type Trace = ScatterTrace | BarTrace | HeatmapTrace;

export interface Axis {
  title?: { text: string };
  type?: "linear" | "log" | "category";
  /** "reversed" puts the first category at the top (matrices read top-down). */
  autorange?: boolean | "reversed";
  /** Fixed range in data units (log axes: in log10 units, as plotly does). */
  range?: [number, number];
  zeroline?: boolean;
  tickangle?: number;
  /** Let plotly grow the margins to fit the tick labels and the axis title (we set small fixed margins). */
  automargin?: boolean;
  /** Explicit tick positions (e.g. integers only on a layer axis); the SVG renderer honours them too. */
  tickmode?: "array";
  tickvals?: number[];
  /** Appended to every tick label: a space keeps category labels off the bars (plotly draws them flush). */
  ticksuffix?: string;
  /** Tick spacing; on log axes 1 = every decade, "D2" = 1, 2, 5 per decade (plotly's notation). */
  dtick?: number | "D1" | "D2";
}

/** A text label (heatmap cell values, reference-line labels). Arrows are not supported. */
export interface Annotation {
  x: Datum;
  y: Datum;
  /** "paper" means a fraction of the plot area (0 = left/bottom, 1 = right/top); default: data units. */
  xref?: "x" | "paper";
  yref?: "y" | "paper";
  xanchor?: "left" | "center" | "right";
  yanchor?: "top" | "middle" | "bottom";
  text: string;
  showarrow: false;
  font?: { color?: string; size?: number };
}

/** A straight reference line, e.g. the uniform expert share. */
export interface Shape {
  type: "line";
  xref: "x" | "paper";
  yref: "y" | "paper";
  x0: Datum;
  x1: Datum;
  y0: Datum;
  y1: Datum;
  line: { color: string; width?: number; dash?: "solid" | "dash" | "dot" };
}

/** A figure title; long titles are broken into lines with `<br>` (plotly's line break) by the builders. */
export interface Title {
  text: string;
  font?: { size?: number };
  x?: number;
  xanchor?: "left" | "center" | "right";
  y?: number;
  yref?: "container" | "paper";
  yanchor?: "top" | "middle" | "bottom";
}

export interface Layout {
  title?: Title;
  width: number;
  height: number;
  xaxis?: Axis;
  yaxis?: Axis;
  barmode?: "group" | "stack";
  showlegend?: boolean;
  annotations?: Annotation[];
  shapes?: Shape[];
  margin?: { l?: number; r?: number; t?: number; b?: number };
}

export interface PlotlyFigure {
  data: Trace[];
  layout: Layout;
}

export function isPlotlyFigure(x: unknown): x is PlotlyFigure {
  if (typeof x !== "object" || x === null) return false;
  const f = x as Partial<PlotlyFigure>;
  return Array.isArray(f.data) && typeof f.layout === "object" && f.layout !== null;
}

// ---------------------------------------------------------------------------------------------
// Colours

/**
 * Categorical palette: Tableau 10 (distinct for colour-vision deficiencies better than plotly's
 * default), then ten more hues unlike any of the first ten, so that a 12-model comparison (notebook 08)
 * or a 20-expert model never gives two series the same colour. Indexes below 10 are unchanged, so
 * expert colours stay what they were.
 */
export const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  "#1b3a6b", "#8cd17d", "#a8325e", "#17becf", "#6a3d9a",
  "#bcbd22", "#5c3a1e", "#000000", "#d4a6c8", "#2ca02c",
] as const;

export function paletteColor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export type ColorStop = [number, string];

/** Named colour scales, as explicit stops so plotly and the SVG renderer interpolate the same points. */
export const COLOR_SCALES: Record<"viridis" | "blues" | "rdbu", ColorStop[]> = {
  // matplotlib viridis sampled at i/9 (perceptually uniform; good default for shares and losses).
  viridis: evenStops(["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"]),
  // ColorBrewer Blues (9 classes), light → dark.
  blues: evenStops(["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]),
  // ColorBrewer RdBu (9 classes): low = red, middle = white, high = blue. For signed values (e.g. Δloss
  // when an expert is removed) with a range symmetric around 0, so white means "no change".
  rdbu: evenStops(["#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac"]),
};

function evenStops(colors: string[]): ColorStop[] {
  return colors.map((c, i) => [Number((i / (colors.length - 1)).toFixed(4)), c]);
}

function parseHex(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (!m) throw new Error(`Colour "${c}" is not a #rrggbb hex colour; colour scales and palettes must use that form.`);
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function toHex(rgb: [number, number, number]): string {
  return "#" + rgb.map((v) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, "0")).join("");
}

/** The colour at t ∈ [0, 1] on a scale, linear in sRGB between stops (as plotly does). */
export function colorAt(scale: ColorStop[], t: number): string {
  if (!Number.isFinite(t)) t = 0;
  const u = Math.min(1, Math.max(0, t));
  for (let i = 1; i < scale.length; i++) {
    const [t1, c1] = scale[i];
    if (u <= t1) {
      const [t0, c0] = scale[i - 1];
      const f = t1 === t0 ? 0 : (u - t0) / (t1 - t0);
      const a = parseHex(c0);
      const b = parseHex(c1);
      return toHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
    }
  }
  return scale[scale.length - 1][1];
}

/**
 * Black or white, whichever reads better on `background`: WCAG relative luminance, with the
 * crossover at 0.179 where the contrast ratios against black and white are equal.
 */
export function textColorOn(background: string): "#000000" | "#ffffff" {
  const lin = parseHex(background).map((v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const L = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return L > 0.179 ? "#000000" : "#ffffff";
}

// ---------------------------------------------------------------------------------------------
// Text

/** Title font size and its (bold) average advance, shared by the builders' wrapping and the SVG. */
export const TITLE_SIZE = 15;
export const TITLE_CHAR_W = 0.62;

/** Top margin for a title of `lines` lines (0: no title), the same in plotly and the SVG (plotly's line height is ≈ 1.45 em). */
export function titleTop(lines: number): number {
  return lines === 0 ? 14 : 40 + 22 * (lines - 1);
}

/** Integer ticks covering [lo, hi]: the 1-2-5 rule with a step of at least 1 (layers, counts). */
export function niceIntegerTicks(lo: number, hi: number, count: number): number[] {
  const span = Math.max(1, hi - lo);
  const raw = Math.max(1, span / Math.max(1, count));
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const err = raw / power;
  const step = Math.max(1, (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1) * power);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

/** Average glyph advance / font size for a sans-serif UI font (≈0.55–0.6 for digits and lowercase; bold titles ≈0.62). */
export const CHAR_W = 0.58;

/** Estimated width in px of `s` at `size` px (no font metrics in Node: an average advance per character). */
export function textWidth(s: string, size: number, charW = CHAR_W): number {
  return [...s].length * size * charW;
}

/**
 * Break `text` at spaces into lines no wider than `maxWidth` (estimated); a single word longer than
 * that stays whole. Why: a title wider than the figure is cut off on both sides, in plotly and SVG alike.
 */
export function wrapLines(text: string, maxWidth: number, size: number, charW = CHAR_W): string[] {
  const lines: string[] = [];
  for (const para of text.split(/<br\s*\/?>/i)) {
    let line = "";
    for (const word of para.split(" ")) {
      const next = line ? `${line} ${word}` : word;
      if (line && textWidth(next, size, charW) > maxWidth) {
        lines.push(line);
        line = word;
      } else line = next;
    }
    lines.push(line);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Numbers and summaries

/** Compact number text: 4 significant digits, no trailing zeros, exponent only when needed. */
export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(Math.max(0, digits - 1)).replace(/\.?0+e/, "e");
  const s = v.toPrecision(digits);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** One-line description of a figure, used as its text/plain when nothing better is given. */
export function describeFigure(fig: PlotlyFigure): string {
  const title = fig.layout.title?.text ? `"${fig.layout.title.text.replace(/<br\s*\/?>/gi, " ")}"` : "(untitled)";
  const kinds = [...new Set(fig.data.map((t) => t.type))].join("+") || "empty";
  const parts = fig.data.map((t) => {
    if (t.type === "heatmap") return `${t.z.length}×${t.x.length} heatmap`;
    const n = t.type === "scatter" ? t.y.length : t.x.length;
    return `${t.name ?? t.type}: ${n} points`;
  });
  return `${kinds} chart ${title} — ${parts.join("; ")}`;
}
