/**
 * Chart builders: pure functions from plain data to a plotly figure `{ data, layout }`.
 *
 * Each figure also carries a (non-enumerable) display method, so a builder call as the last line of
 * a notebook cell shows the chart: plotly in VS Code / JupyterLab, our inline SVG elsewhere.
 * Builders fix every visual choice explicitly (colours, ranges, sizes, text colours on heatmap
 * cells) so that both renderers draw the same picture; see ./plotly.ts.
 *
 * Values are rounded to 6 significant digits: charts do not need more, and it keeps committed
 * notebooks small (a float64 printed in full costs ~19 bytes).
 */
import type { Renderable } from "./mime";
import { renderable } from "./mime";
import type { Annotation, Axis, BarTrace, ColorStop, HeatmapTrace, Layout, PlotlyFigure, ScatterTrace, Shape } from "./plotly";
import { COLOR_SCALES, colorAt, describeFigure, formatNumber, niceIntegerTicks, paletteColor, textColorOn, textWidth, TITLE_CHAR_W, TITLE_SIZE, titleTop, wrapLines } from "./plotly";

export type Chart = PlotlyFigure & Renderable;

/** A horizontal (or, for horizontal bars, vertical) reference line across the plot, e.g. the uniform share 1/E. */
export interface RefLine {
  value: number;
  label?: string;
  color?: string;
}

function round6(v: number | null): number | null {
  return v === null || !Number.isFinite(v) ? null : Number(v.toPrecision(6));
}

function chart(fig: PlotlyFigure): Chart {
  return renderable(fig, { text: () => describeFigure(fig), figure: fig });
}

function checkFinite(what: string, values: readonly (number | null)[], allowNull: boolean): void {
  values.forEach((v, i) => {
    if (v === null ? !allowNull : typeof v !== "number" || !Number.isFinite(v)) {
      throw new Error(`${what}[${i}] is ${String(v)}; expected a finite number${allowNull ? " or null (a gap)" : ""}.`);
    }
  });
}

function checkUnique(what: string, labels: readonly string[]): void {
  const seen = new Set<string>();
  for (const l of labels) {
    if (seen.has(l)) throw new Error(`${what} contains "${l}" twice; labels must be unique (they are plotly categories).`);
    seen.add(l);
  }
}

function refShapes(refs: RefLine[] | undefined, axis: "x" | "y"): { shapes: Shape[]; annotations: Annotation[] } {
  const shapes: Shape[] = [];
  const annotations: Annotation[] = [];
  for (const r of refs ?? []) {
    if (!Number.isFinite(r.value)) throw new Error(`Reference line value ${r.value} is not a finite number.`);
    const color = r.color ?? "#7f7f7f";
    const v = round6(r.value) as number;
    shapes.push(
      axis === "y"
        ? { type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: v, y1: v, line: { color, width: 1.5, dash: "dash" } }
        : { type: "line", xref: "x", yref: "paper", x0: v, x1: v, y0: 0, y1: 1, line: { color, width: 1.5, dash: "dash" } },
    );
    if (r.label) {
      annotations.push(
        axis === "y"
          ? { xref: "paper", yref: "y", x: 1, y: v, xanchor: "right", yanchor: "bottom", text: r.label, showarrow: false, font: { color, size: 11 } }
          : { xref: "x", yref: "paper", x: v, y: 1, xanchor: "left", yanchor: "bottom", text: r.label, showarrow: false, font: { color, size: 11 } },
      );
    }
  }
  return { shapes, annotations };
}

/**
 * Category labels wider than their band are drawn vertically (as the SVG does): plotly's automatic
 * 30°/45° angles still let long neighbours overlap.
 */
function verticalIfCrowded(labels: readonly string[], band: number): Partial<Axis> {
  return Math.max(...labels.map((l) => textWidth(l, 11))) + 6 > band ? { tickangle: -90 } : {};
}

/** An axis; the title is omitted when empty so plotly does not reserve space for it. */
function axis(title: string | undefined, type: Axis["type"], extra: Partial<Axis> = {}): Axis {
  // automargin: our margins are small, and plotly grows them just enough for the labels it draws.
  const a: Axis = { type, automargin: true, ...extra };
  if (title) a.title = { text: title };
  return a;
}

function baseLayout(title: string | undefined, width: number, height: number): Layout {
  // No `template`: plotly.js wants a template object there (a name like "plotly_white" only works in
  // Python), and its built-in look (white background, light grid) already matches our SVG.
  const layout: Layout = { width, height };
  // plotly's default margins (80 px left/right, 100 top, 80 bottom) squash small charts to a strip and
  // its title is one line however long: so the title is wrapped to the figure's width (the SVG draws
  // the same lines), the top margin fits it, and the other margins grow with the axes (automargin).
  const lines = title ? wrapLines(title, width - 24, TITLE_SIZE, TITLE_CHAR_W) : [];
  layout.margin = { t: titleTop(lines.length), l: 10, r: 10, b: 10 };
  if (title) {
    // plotly centres the title's lines in the top margin when y is left to it ("auto").
    layout.title = { text: lines.join("<br>"), font: { size: TITLE_SIZE }, x: 0.5, xanchor: "center" };
  }
  return layout;
}

// ---------------------------------------------------------------------------------------------
// Line and scatter charts

export interface LineSeries {
  name: string;
  y: readonly (number | null)[];
  /** Per-series x; defaults to the chart's `x`, else 0, 1, 2, … */
  x?: readonly number[];
  color?: string;
  dash?: "solid" | "dash" | "dot";
}

export interface LineChartSpec {
  title?: string;
  series: LineSeries[];
  /** Shared x values (e.g. steps). */
  x?: readonly number[];
  xTitle?: string;
  yTitle?: string;
  mode?: "lines" | "markers" | "lines+markers";
  /** Log-scale y (losses over many steps). Non-positive values become gaps. */
  logY?: boolean;
  refLines?: RefLine[];
  /** x counts something (layers, steps of k): ticks only at integers, never 0.5. */
  integerX?: boolean;
  /** Default 640 × 360 px: fits a notebook column without scrolling. */
  width?: number;
  height?: number;
}

/** Line chart with several traces (training curves, loss vs. step). Plotly `scatter` traces. */
export function lineChart(spec: LineChartSpec): Chart {
  if (!spec.series.length) throw new Error("lineChart needs at least one series ({ name, y }).");
  const traces: ScatterTrace[] = spec.series.map((s, i) => {
    const x = s.x ?? spec.x ?? s.y.map((_, j) => j);
    if (x.length !== s.y.length) {
      throw new Error(`lineChart series "${s.name}" has ${s.y.length} y values but ${x.length} x values; they must match.`);
    }
    checkFinite(`series "${s.name}".y`, s.y, true);
    checkFinite(`series "${s.name}".x`, x, false);
    const color = s.color ?? paletteColor(i);
    const mode = spec.mode ?? "lines";
    const trace: ScatterTrace = { type: "scatter", name: s.name, x: x.map((v) => round6(v) as number), y: s.y.map(round6), mode };
    if (mode !== "markers") trace.line = { color, width: 2, dash: s.dash ?? "solid" };
    if (mode !== "lines") trace.marker = { color, size: 6 };
    return trace;
  });
  const layout = baseLayout(spec.title, spec.width ?? 640, spec.height ?? 360);
  layout.xaxis = axis(spec.xTitle, "linear");
  if (spec.integerX) {
    // Layers and counts are integers: plotly's automatic ticks would put 0.5, 1.5, … between them.
    const xs = traces.flatMap((t) => t.x as number[]);
    layout.xaxis.tickmode = "array";
    layout.xaxis.tickvals = niceIntegerTicks(Math.min(...xs), Math.max(...xs), Math.max(2, Math.round((layout.width - 120) / 80)));
  }
  layout.yaxis = axis(spec.yTitle, spec.logY ? "log" : "linear");
  if (spec.logY) {
    // plotly labels every digit 2…9 on a short log axis, and those labels collide: 1-2-5 under two
    // decades, powers of ten above (as the SVG does).
    const ys = traces.flatMap((t) => t.y).filter((v): v is number => v !== null && v > 0);
    layout.yaxis.dtick = ys.length && Math.log10(Math.max(...ys) / Math.min(...ys)) < 2 ? "D2" : 1;
  }
  layout.showlegend = traces.length > 1;
  const refs = refShapes(spec.refLines, "y");
  if (refs.shapes.length) layout.shapes = refs.shapes;
  if (refs.annotations.length) layout.annotations = refs.annotations;
  return chart({ data: traces, layout });
}

/** Scatter plot: `lineChart` with markers only. */
export function scatterChart(spec: Omit<LineChartSpec, "mode">): Chart {
  return lineChart({ ...spec, mode: "markers" });
}

// ---------------------------------------------------------------------------------------------
// Bar charts

export interface BarSeries {
  name: string;
  values: readonly number[];
  color?: string;
}

export interface BarChartSpec {
  title?: string;
  /** One label per bar group (e.g. domains, layers, experts). */
  categories: readonly string[];
  series: BarSeries[];
  /** Bars grow to the right; categories read top-down. */
  horizontal?: boolean;
  /** Stack the series (shares that sum to 1) instead of grouping them side by side. */
  stacked?: boolean;
  categoryTitle?: string;
  valueTitle?: string;
  refLines?: RefLine[];
  width?: number;
  height?: number;
}

/** Grouped (default) or stacked bar chart, vertical (default) or horizontal. */
export function barChart(spec: BarChartSpec): Chart {
  if (!spec.series.length) throw new Error("barChart needs at least one series ({ name, values }).");
  if (!spec.categories.length) throw new Error("barChart needs at least one category.");
  checkUnique("barChart categories", spec.categories);
  const horizontal = spec.horizontal ?? false;
  const cats = [...spec.categories];
  const traces: BarTrace[] = spec.series.map((s, i) => {
    if (s.values.length !== cats.length) {
      throw new Error(`barChart series "${s.name}" has ${s.values.length} values for ${cats.length} categories; they must match.`);
    }
    checkFinite(`series "${s.name}".values`, s.values, false);
    const vals = s.values.map((v) => round6(v) as number);
    const marker = { color: s.color ?? paletteColor(i) };
    return horizontal
      ? { type: "bar", name: s.name, x: vals, y: cats, orientation: "h", marker }
      : { type: "bar", name: s.name, x: cats, y: vals, orientation: "v", marker };
  });
  // Horizontal bars get ~28 px per category so labels never collide.
  const height = spec.height ?? (horizontal ? Math.max(200, 110 + 28 * cats.length) : 360);
  const layout = baseLayout(spec.title, spec.width ?? 640, height);
  layout.barmode = spec.stacked ? "stack" : "group";
  if (horizontal) {
    layout.yaxis = axis(spec.categoryTitle, "category", { autorange: "reversed", ticksuffix: " " }); // first category on top: reading order
    layout.xaxis = axis(spec.valueTitle, "linear");
  } else {
    const band = (layout.width - 160) / cats.length;
    layout.xaxis = axis(spec.categoryTitle, "category", verticalIfCrowded(cats, band));
    layout.yaxis = axis(spec.valueTitle, "linear");
  }
  layout.showlegend = traces.length > 1;
  const refs = refShapes(spec.refLines, horizontal ? "x" : "y");
  if (refs.shapes.length) layout.shapes = refs.shapes;
  if (refs.annotations.length) layout.annotations = refs.annotations;
  return chart({ data: traces, layout });
}

/** Horizontal stacked bars, e.g. each layer's share of tokens per expert (OLMoE-style routing charts). */
export function stackedBarH(spec: Omit<BarChartSpec, "horizontal" | "stacked">): Chart {
  return barChart({ ...spec, horizontal: true, stacked: true });
}

// ---------------------------------------------------------------------------------------------
// Heatmaps

export interface HeatmapSpec {
  title?: string;
  /** z[row][col]; null = missing. */
  z: readonly (readonly (number | null)[])[];
  /** Column labels. */
  x: readonly string[];
  /** Row labels; row 0 is drawn at the top (matrix order). */
  y: readonly string[];
  xTitle?: string;
  yTitle?: string;
  /** Named scale or explicit stops. Default "viridis"; "rdbu" for signed values. */
  colorscale?: keyof typeof COLOR_SCALES | ColorStop[];
  /** Colour range; default: the data's min and max (symmetric around 0 for "rdbu"). */
  zmin?: number;
  zmax?: number;
  /** Write each value in its cell. Default: on when there are at most 400 cells (beyond that text is unreadable). */
  annotate?: boolean;
  /** Significant digits of the cell text (default: the decimals the colour range needs, see cellNumber). */
  digits?: number;
  /** Fixed decimals of the cell text (e.g. 1 for percentages); overrides `digits`. */
  decimals?: number;
  colorbarTitle?: string;
  width?: number;
  height?: number;
}

/**
 * A cell's number rounded for reading: as many decimals as the colour range needs to tell cells
 * apart (shares and cosines: 2, percentages in the tens: 1), never an exponent.
 */
function cellNumber(v: number, zmin: number, zmax: number, fixed?: number): string {
  const m = Math.max(Math.abs(zmin), Math.abs(zmax));
  const decimals = fixed ?? (m >= 100 ? 0 : m >= 10 ? 1 : m >= 0.1 ? 2 : 3);
  const s = v.toFixed(decimals);
  return /^-?0(\.0*)?$/.test(s) ? s.replace("-", "") : s.replace("-", "−");
}

/** Heatmap with a colour bar and (optionally) the value written in each cell. */
export function heatmap(spec: HeatmapSpec): Chart {
  const rows = spec.z.length;
  const cols = spec.x.length;
  if (rows === 0 || cols === 0) throw new Error("heatmap needs a non-empty z with at least one row and one column.");
  if (spec.y.length !== rows) throw new Error(`heatmap has ${rows} rows in z but ${spec.y.length} y labels; they must match.`);
  spec.z.forEach((r, i) => {
    if (r.length !== cols) throw new Error(`heatmap row ${i} ("${spec.y[i]}") has ${r.length} values but there are ${cols} x labels.`);
    checkFinite(`z[${i}]`, r, true);
  });
  checkUnique("heatmap x labels", spec.x);
  checkUnique("heatmap y labels", spec.y);
  const scaleName = typeof spec.colorscale === "string" ? spec.colorscale : undefined;
  const scale = Array.isArray(spec.colorscale) ? spec.colorscale : COLOR_SCALES[scaleName ?? "viridis"];
  if (!scale) throw new Error(`Unknown colour scale "${String(spec.colorscale)}"; use one of ${Object.keys(COLOR_SCALES).join(", ")} or explicit stops.`);
  const z = spec.z.map((r) => r.map(round6));
  const finite = z.flat().filter((v): v is number => v !== null);
  let zmin = spec.zmin ?? (finite.length ? Math.min(...finite) : 0);
  let zmax = spec.zmax ?? (finite.length ? Math.max(...finite) : 1);
  if (scaleName === "rdbu" && spec.zmin === undefined && spec.zmax === undefined) {
    const m = Math.max(Math.abs(zmin), Math.abs(zmax));
    [zmin, zmax] = [-m, m];
  }
  if (zmax === zmin) zmax = zmin + 1; // a constant matrix: any non-empty range draws it in the low colour
  if (!(zmax > zmin)) throw new Error(`heatmap zmin (${zmin}) must be below zmax (${zmax}).`);
  const trace: HeatmapTrace = {
    type: "heatmap",
    z,
    x: [...spec.x],
    y: [...spec.y],
    colorscale: scale,
    zmin,
    zmax,
    showscale: true,
    xgap: 1,
    ygap: 1,
  };
  // A thin bar with its title beside it (plotly's default is 30 px wide with the title on top, which
  // takes a third of a small heatmap's width and collides with the tick labels).
  trace.colorbar = { thickness: 14, ...(spec.colorbarTitle ? { title: { text: spec.colorbarTitle, side: "right" as const } } : {}) };
  // ~44 px per column and ~30 px per row keep 3-digit cell text legible; clamped to a notebook column.
  const width = spec.width ?? Math.min(900, Math.max(360, 220 + 44 * cols));
  const height = spec.height ?? Math.min(720, Math.max(240, 130 + 30 * rows));
  const texts = z.map((r) => r.map((v) => (v === null ? "" : spec.digits !== undefined && spec.decimals === undefined ? formatNumber(v, spec.digits) : cellNumber(v, zmin, zmax, spec.decimals))));
  // Cell numbers only where they fit their cells (estimated from the plot area left after labels and
  // colour bar): numbers wider than a cell overprint their neighbours. Hover (plotly) and the SVG's
  // tooltips still give every value.
  const labelW = Math.max(...spec.y.map((l) => textWidth(l, 11)));
  const cellW = (width - labelW - 110) / cols;
  const cellH = (height - titleTop(1) - 60) / rows;
  const widest = Math.max(0, ...texts.flat().map((t) => textWidth(t, 11)));
  const fits = widest + 4 <= cellW && cellH >= 14;
  const annotate = spec.annotate ?? (rows * cols <= 400 && fits);
  const annotations: Annotation[] = [];
  if (annotate) {
    z.forEach((r, i) =>
      r.forEach((v, j) => {
        if (v === null) return;
        const bg = colorAt(scale, (v - zmin) / (zmax - zmin));
        annotations.push({ x: spec.x[j], y: spec.y[i], text: texts[i][j], showarrow: false, font: { color: textColorOn(bg), size: 11 } });
      }),
    );
  }
  const layout = baseLayout(spec.title, width, height);
  layout.xaxis = axis(spec.xTitle, "category", verticalIfCrowded(spec.x, cellW));
  layout.yaxis = axis(spec.yTitle, "category", { autorange: "reversed" }); // row 0 on top: matrix order
  if (annotations.length) layout.annotations = annotations;
  return chart({ data: [trace], layout });
}
