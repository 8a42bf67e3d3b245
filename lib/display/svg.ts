/**
 * A small, dependency-free SVG renderer for the plotly figures our chart builders make.
 *
 * Why our own: a notebook's text/html fallback must work offline in nbconvert HTML and nbviewer,
 * where no CDN script runs, and the 3.5 MB plotly.js bundle would break the 2 MB notebook budget.
 * So we draw the same figure as inline SVG: line/scatter (several traces, gaps at null, optional
 * log y), grouped or stacked bars (vertical or horizontal), heatmaps with a colour bar and cell
 * annotations, data-coordinate text annotations and straight reference lines. Hover text is an SVG
 * `<title>` on each mark, which browsers show as a tooltip without any script.
 *
 * Honest limits: text widths are estimated (no font metrics in Node), tick positions follow d3's
 * 1-2-5 rule rather than plotly's exact algorithm, and attributes outside ./plotly.ts are ignored.
 * The output is deterministic (same figure ⇒ same string), which the snapshot tests rely on.
 */
import type { Annotation, Axis, BarTrace, Datum, HeatmapTrace, PlotlyFigure, ScatterTrace, Shape } from "./plotly";
import { colorAt, formatNumber, paletteColor, textWidth, TITLE_CHAR_W, TITLE_SIZE, titleTop, wrapLines } from "./plotly";

const FONT = "system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const TICK_FONT = 11;
const GRID = "#e8e8e8";
const AXIS = "#9e9e9e";
const INK = "#333333";
/** Longer labels are cut with "…"; 40 keeps the report's model names ("BTM over FFN-only dense experts") whole. */
const MAX_LABEL_CHARS = 40;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** Pixel coordinates with 0.1 px precision: plenty for screens, keeps the SVG small and stable. */
function px(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? "0" : String(r);
}

function shorten(label: string): string {
  return label.length > MAX_LABEL_CHARS ? label.slice(0, MAX_LABEL_CHARS - 1) + "…" : label;
}

function dashArray(dash: string | undefined): string {
  return dash === "dash" ? ' stroke-dasharray="6 4"' : dash === "dot" ? ' stroke-dasharray="2 3"' : "";
}

// ---------------------------------------------------------------------------------------------
// Scales

/**
 * "Nice" tick values covering [lo, hi]: the step is 1, 2 or 5 × 10^k, chosen so that about `count`
 * ticks fall inside the range (the rule d3-scale's `ticks` uses). Only ticks inside [lo, hi] are returned.
 */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const err = raw / power;
  const step = (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1) * power;
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const out: number[] = [];
  for (let i = first; i <= last; i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

interface Tick {
  pos: number;
  label: string;
}

interface Scale {
  /** Pixel position of a datum, or undefined when it cannot be placed (null, non-finite, ≤0 on log). */
  map(v: Datum | null): number | undefined;
  ticks: Tick[];
  /** Category band width in px (0 for numeric scales). */
  band: number;
  categories?: string[];
  numeric: boolean;
}

function categoryScale(categories: string[], a: number, b: number, reversed: boolean): Scale {
  const n = Math.max(1, categories.length);
  const band = Math.abs(b - a) / n;
  const index = new Map(categories.map((c, i) => [c, i]));
  const dir = b >= a ? 1 : -1;
  const pos = (i: number) => {
    const k = reversed ? n - 1 - i : i;
    return a + dir * band * (k + 0.5);
  };
  return {
    map: (v) => {
      const i = v === null ? undefined : index.get(String(v));
      return i === undefined ? undefined : pos(i);
    },
    ticks: categories.map((c, i) => ({ pos: pos(i), label: shorten(c) })),
    band,
    categories,
    numeric: false,
  };
}

function linearScale(lo: number, hi: number, a: number, b: number, tickCount: number, log: boolean, reversed: boolean, tickvals?: number[]): Scale {
  const [from, to] = reversed ? [b, a] : [a, b];
  const f = (u: number) => from + ((u - lo) / (hi - lo || 1)) * (to - from);
  let ticks: Tick[];
  if (log) {
    // lo/hi are log10 units here. Ticks at powers of ten; add 2× and 5× when the range is under two decades.
    const values: number[] = [];
    for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      for (const m of hi - lo < 2 ? [1, 2, 5] : [1]) {
        const v = Math.log10(m) + k;
        if (v >= lo - 1e-9 && v <= hi + 1e-9) values.push(v);
      }
    }
    ticks = values.map((v) => ({ pos: f(v), label: formatNumber(Number(Math.pow(10, v).toPrecision(6))) }));
  } else {
    ticks = (tickvals ?? niceTicks(lo, hi, tickCount)).map((v) => ({ pos: f(v), label: formatNumber(v) }));
  }
  return {
    map: (v) => {
      if (v === null || typeof v !== "number" || !Number.isFinite(v)) return undefined;
      if (log) return v > 0 ? f(Math.log10(v)) : undefined;
      return f(v);
    },
    ticks,
    band: 0,
    numeric: true,
  };
}

/** The numeric extent of `values` (ignoring null/non-finite; log axes also ignore ≤ 0). */
function extent(values: Iterable<number | null>, log: boolean): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || !Number.isFinite(v) || (log && v <= 0)) continue;
    const u = log ? Math.log10(v) : v;
    if (u < lo) lo = u;
    if (u > hi) hi = u;
  }
  return lo <= hi ? [lo, hi] : undefined;
}

function padDomain([lo, hi]: [number, number], frac: number): [number, number] {
  if (hi === lo) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - d, hi + d];
  }
  const d = (hi - lo) * frac;
  return [lo - d, hi + d];
}

function uniqueCategories(lists: Datum[][]): string[] {
  const seen = new Set<string>();
  for (const l of lists) for (const v of l) seen.add(String(v));
  return [...seen];
}

function isCategorical(axis: Axis | undefined, values: Datum[][]): boolean {
  if (axis?.type === "category") return true;
  if (axis?.type === "linear" || axis?.type === "log") return false;
  return values.some((l) => l.some((v) => typeof v === "string"));
}

// ---------------------------------------------------------------------------------------------
// Rendering

interface Frame {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Render a figure as a standalone `<svg>` element. */
export function figureToSvg(fig: PlotlyFigure): string {
  const { layout } = fig;
  const W = layout.width;
  const H = layout.height;
  if (!(W > 0 && H > 0)) throw new Error(`Figure layout.width/height must be positive numbers (got ${W}×${H}).`);
  const out: string[] = [];
  const title = layout.title?.text;
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  // The builders break long titles with <br> (as plotly draws them); wrap again in case a figure came from elsewhere.
  titleLines(fig).forEach((line, i) =>
    out.push(`<text x="${px(W / 2)}" y="${24 + 22 * i}" text-anchor="middle" font-size="${TITLE_SIZE}" font-weight="600" fill="${INK}">${escapeXml(line)}</text>`),
  );
  const heat = fig.data.find((t): t is HeatmapTrace => t.type === "heatmap");
  if (heat) renderHeatmap(fig, heat, out);
  else renderCartesian(fig, out);
  const label = escapeXml(title ? title.replace(/<br\s*\/?>/gi, " ") : "chart");
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `role="img" aria-label="${label}" font-family="${escapeXml(FONT)}" style="max-width:100%;height:auto">` +
    out.join("") +
    `</svg>`
  );
}

function titleLines(fig: PlotlyFigure): string[] {
  const t = fig.layout.title?.text;
  return t ? wrapLines(t, fig.layout.width - 24, TITLE_SIZE, TITLE_CHAR_W) : [];
}

/** The text/html fallback for a figure: the SVG in a div (no scripts, no external resources). */
export function figureToHtml(fig: PlotlyFigure): string {
  return `<div class="flexolmo-figure">${figureToSvg(fig)}</div>`;
}

/** Tick labels under the x axis (vertical when they would overlap: at 45° long neighbours still collide, as plotly also avoids) and left of the y axis; (x0, y0) is the plot's bottom-left corner. */
function tickLabels(xs: Scale, ys: Scale, x0: number, y0: number, rotate: boolean, out: string[]): void {
  for (const t of xs.ticks) {
    out.push(
      rotate
        ? `<text transform="translate(${px(t.pos)} ${px(y0 + 8)}) rotate(-90)" text-anchor="end" dy="0.35em" font-size="${TICK_FONT}" fill="#555555">${escapeXml(t.label)}</text>`
        : `<text x="${px(t.pos)}" y="${px(y0 + 16)}" text-anchor="middle" font-size="${TICK_FONT}" fill="#555555">${escapeXml(t.label)}</text>`,
    );
  }
  for (const t of ys.ticks) {
    out.push(`<text x="${px(x0 - 6)}" y="${px(t.pos)}" dy="0.35em" text-anchor="end" font-size="${TICK_FONT}" fill="#555555">${escapeXml(t.label)}</text>`);
  }
}

function axisTitles(frame: Frame, W: number, H: number, xTitle: string | undefined, yTitle: string | undefined, out: string[]): void {
  if (xTitle) {
    out.push(
      `<text x="${px((frame.left + W - frame.right) / 2)}" y="${px(H - 8)}" text-anchor="middle" font-size="12" fill="${INK}">${escapeXml(xTitle)}</text>`,
    );
  }
  if (yTitle) {
    const cy = (frame.top + H - frame.bottom) / 2;
    out.push(
      `<text transform="translate(14 ${px(cy)}) rotate(-90)" text-anchor="middle" font-size="12" fill="${INK}">${escapeXml(yTitle)}</text>`,
    );
  }
}

interface LegendEntry {
  name: string;
  color: string;
  kind: "line" | "box";
  dash?: string;
}

function legendEntries(fig: PlotlyFigure): LegendEntry[] {
  const named = fig.data.filter((t) => t.type !== "heatmap" && t.name && t.showlegend !== false) as (ScatterTrace | BarTrace)[];
  const show = fig.layout.showlegend ?? named.length > 1;
  if (!show) return [];
  return named.map((t, i) =>
    t.type === "scatter"
      ? { name: t.name as string, color: traceColor(t, i), kind: t.mode === "markers" ? "box" : "line", dash: t.line?.dash }
      : { name: t.name as string, color: traceColor(t, i), kind: "box" },
  );
}

function traceColor(t: ScatterTrace | BarTrace, i: number): string {
  return t.type === "scatter" ? (t.line?.color ?? t.marker?.color ?? paletteColor(i)) : (t.marker?.color ?? paletteColor(i));
}

function renderLegend(entries: LegendEntry[], x: number, y: number, out: string[]): void {
  entries.forEach((e, i) => {
    const cy = y + 8 + i * 18;
    out.push(
      e.kind === "line"
        ? `<line x1="${px(x)}" y1="${px(cy)}" x2="${px(x + 18)}" y2="${px(cy)}" stroke="${e.color}" stroke-width="2.5"${dashArray(e.dash)}/>`
        : `<rect x="${px(x + 3)}" y="${px(cy - 6)}" width="12" height="12" fill="${e.color}"/>`,
    );
    out.push(`<text x="${px(x + 24)}" y="${px(cy)}" dy="0.35em" font-size="${TICK_FONT}" fill="${INK}">${escapeXml(shorten(e.name))}</text>`);
  });
}

function renderCartesian(fig: PlotlyFigure, out: string[]): void {
  const { layout } = fig;
  const W = layout.width;
  const H = layout.height;
  const traces = fig.data.filter((t): t is ScatterTrace | BarTrace => t.type === "scatter" || t.type === "bar");
  const bars = traces.filter((t): t is BarTrace => t.type === "bar");
  const horizontal = bars.length > 0 && bars.every((b) => b.orientation === "h");
  const stacked = layout.barmode === "stack";
  // "Category axis" and "value axis" for bars; for pure scatter charts x and y are both data axes.
  const xLists = traces.map((t) => t.x);
  const yLists = traces.map((t) => t.y as Datum[]);
  const xCat = isCategorical(layout.xaxis, xLists);
  const yCat = isCategorical(layout.yaxis, yLists);
  const xLog = layout.xaxis?.type === "log";
  const yLog = layout.yaxis?.type === "log";
  const refs = (layout.shapes ?? []).filter((s) => s.type === "line");

  // Numeric extents, including stacked totals and zero for bars, and reference lines.
  const numericExtent = (axisLetter: "x" | "y", log: boolean): [number, number] | undefined => {
    const values: number[] = [];
    for (const t of traces) {
      const vals = (axisLetter === "x" ? t.x : t.y) as (number | null)[];
      for (const v of vals) if (typeof v === "number") values.push(v);
    }
    const valueAxis = horizontal ? "x" : "y";
    if (bars.length > 0 && axisLetter === valueAxis) {
      if (!log) values.push(0);
      if (stacked) {
        const pos = new Map<string, number>();
        const neg = new Map<string, number>();
        for (const b of bars) {
          const cats = horizontal ? b.y : b.x;
          const vals = (horizontal ? b.x : b.y) as number[];
          cats.forEach((c, i) => {
            const m = vals[i] >= 0 ? pos : neg;
            m.set(String(c), (m.get(String(c)) ?? 0) + vals[i]);
          });
        }
        values.push(...pos.values(), ...neg.values());
      }
    }
    for (const s of refs) {
      if ((axisLetter === "y" && s.yref === "y") || (axisLetter === "x" && s.xref === "x")) {
        for (const v of axisLetter === "y" ? [s.y0, s.y1] : [s.x0, s.x1]) if (typeof v === "number") values.push(v);
      }
    }
    return extent(values, log);
  };

  // Pad the x range when markers are drawn (or bars grow along x) so nothing sits on the frame; lines run edge to edge.
  const markersOnX = traces.some((t) => t.type === "scatter" && t.mode !== "lines");
  const xPad = (bars.length > 0 && horizontal) || markersOnX ? 0.04 : 0;
  // Bars start at zero, as in plotly: an all-positive (all-negative) value axis is not padded past 0.
  const anchorZero = (letter: "x" | "y", [lo, hi]: [number, number], [plo, phi]: [number, number]): [number, number] =>
    bars.length > 0 && letter === (horizontal ? "x" : "y") ? [lo >= 0 ? Math.max(plo, 0) : plo, hi <= 0 ? Math.min(phi, 0) : phi] : [plo, phi];
  const range = (letter: "x" | "y", log: boolean, pad: number): [number, number] => {
    const e = numericExtent(letter, log) ?? [0, 1];
    return anchorZero(letter, e, padDomain(e, pad));
  };
  const xRange = xCat ? undefined : (layout.xaxis?.range ?? range("x", xLog, xPad));
  const yRange = yCat ? undefined : (layout.yaxis?.range ?? range("y", yLog, 0.05));
  const xCats = xCat ? uniqueCategories(xLists) : [];
  const yCats = yCat ? uniqueCategories(yLists) : [];

  // Margins: room for tick labels, axis titles and the legend.
  const legend = legendEntries(fig);
  const legendW = legend.length ? Math.max(...legend.map((e) => textWidth(shorten(e.name), TICK_FONT))) + 40 : 0;
  const top = titleTop(titleLines(fig).length);
  const approxPlotH = H - top - 50;
  const yTickCount = Math.max(2, Math.min(10, Math.round(approxPlotH / 45)));
  const yTickLabels = yCat
    ? yCats.map(shorten)
    : linearScale(yRange![0], yRange![1], 0, 1, yTickCount, yLog, false).ticks.map((t) => t.label);
  const yTitle = layout.yaxis?.title?.text;
  const xTitle = layout.xaxis?.title?.text;
  const left = 12 + (yTitle ? 18 : 0) + Math.max(0, ...yTickLabels.map((l) => textWidth(l, TICK_FONT)));
  const right = 16 + legendW;
  const plotW = W - left - right;
  const xLabelW = xCat ? Math.max(0, ...xCats.map((c) => textWidth(shorten(c), TICK_FONT))) : 0;
  const rotate = xCat && xCats.length > 0 && xLabelW + 6 > plotW / xCats.length;
  const bottom = 12 + (xTitle ? 20 : 0) + (rotate ? xLabelW + 12 : 18);
  const frame: Frame = { left, right, top, bottom };
  const x0 = left;
  const x1 = W - right;
  const y0 = H - bottom; // pixel y of the bottom of the plot area
  const y1 = top;
  if (x1 - x0 < 20 || y0 - y1 < 20) throw new Error(`Figure ${W}×${H} px is too small for its labels; make layout.width/height larger.`);

  const xTickCount = Math.max(2, Math.min(10, Math.round((x1 - x0) / 80)));
  const xs = xCat
    ? categoryScale(xCats, x0, x1, layout.xaxis?.autorange === "reversed")
    : linearScale(xRange![0], xRange![1], x0, x1, xTickCount, xLog, layout.xaxis?.autorange === "reversed", layout.xaxis?.tickmode === "array" ? layout.xaxis.tickvals : undefined);
  const ys = yCat
    ? // plotly puts the first y category at the BOTTOM and `autorange: "reversed"` puts it on top. This
      // scale runs from y1 (top) down to y0, so the plotly default is our "reversed" order.
      categoryScale(yCats, y1, y0, layout.yaxis?.autorange !== "reversed")
    : linearScale(yRange![0], yRange![1], y0, y1, yTickCount, yLog, layout.yaxis?.autorange === "reversed");

  // Grid, zero line, axis lines, tick labels.
  for (const t of xs.numeric ? xs.ticks : []) out.push(`<line x1="${px(t.pos)}" y1="${px(y1)}" x2="${px(t.pos)}" y2="${px(y0)}" stroke="${GRID}"/>`);
  for (const t of ys.numeric ? ys.ticks : []) out.push(`<line x1="${px(x0)}" y1="${px(t.pos)}" x2="${px(x1)}" y2="${px(t.pos)}" stroke="${GRID}"/>`);
  const zeroX = xs.numeric && !xLog ? xs.map(0) : undefined;
  const zeroY = ys.numeric && !yLog ? ys.map(0) : undefined;
  if (zeroY !== undefined && zeroY > y1 && zeroY < y0) out.push(`<line x1="${px(x0)}" y1="${px(zeroY)}" x2="${px(x1)}" y2="${px(zeroY)}" stroke="${AXIS}"/>`);
  if (zeroX !== undefined && zeroX > x0 && zeroX < x1) out.push(`<line x1="${px(zeroX)}" y1="${px(y1)}" x2="${px(zeroX)}" y2="${px(y0)}" stroke="${AXIS}"/>`);
  out.push(`<line x1="${px(x0)}" y1="${px(y0)}" x2="${px(x1)}" y2="${px(y0)}" stroke="${AXIS}"/>`);
  out.push(`<line x1="${px(x0)}" y1="${px(y1)}" x2="${px(x0)}" y2="${px(y0)}" stroke="${AXIS}"/>`);
  tickLabels(xs, ys, x0, y0, rotate, out);
  axisTitles(frame, W, H, xTitle, yTitle, out);

  // Bars first (behind lines), then scatter traces.
  if (bars.length > 0) renderBars(bars, horizontal, stacked, horizontal ? ys : xs, horizontal ? xs : ys, out, traces);
  traces.forEach((t, i) => {
    if (t.type === "scatter") renderScatter(t, traceColor(t, i), xs, ys, x1 - x0, out);
  });
  for (const s of refs) renderShape(s, xs, ys, { x0, x1, y0, y1 }, out);
  for (const a of layout.annotations ?? []) renderAnnotation(a, xs, ys, out, { x0, x1, y0, y1 });
  if (legend.length) renderLegend(legend, x1 + 14, y1, out);
}

function renderBars(bars: BarTrace[], horizontal: boolean, stacked: boolean, cat: Scale, val: Scale, out: string[], all: (ScatterTrace | BarTrace)[]): void {
  const inner = cat.band * 0.8;
  const width = stacked ? inner : inner / bars.length;
  const posBase = new Map<string, number>();
  const negBase = new Map<string, number>();
  bars.forEach((b, k) => {
    const color = traceColor(b, all.indexOf(b));
    const cats = horizontal ? b.y : b.x;
    const vals = (horizontal ? b.x : b.y) as number[];
    cats.forEach((c, i) => {
      const v = vals[i];
      const center = cat.map(c);
      if (center === undefined || typeof v !== "number" || !Number.isFinite(v)) return;
      const key = String(c);
      let from = 0;
      if (stacked) {
        const base = v >= 0 ? posBase : negBase;
        from = base.get(key) ?? 0;
        base.set(key, from + v);
      }
      const a = val.map(from);
      const z = val.map(from + v);
      if (a === undefined || z === undefined) return;
      const offset = stacked ? -width / 2 : -inner / 2 + k * width;
      const lo = Math.min(a, z);
      const len = Math.abs(z - a);
      const tip = `<title>${escapeXml(`${b.name ?? "value"} · ${key}: ${formatNumber(v)}`)}</title>`;
      out.push(
        horizontal
          ? `<rect x="${px(lo)}" y="${px(center + offset)}" width="${px(len)}" height="${px(width)}" fill="${color}">${tip}</rect>`
          : `<rect x="${px(center + offset)}" y="${px(lo)}" width="${px(width)}" height="${px(len)}" fill="${color}">${tip}</rect>`,
      );
    });
  });
}

/**
 * Keep at most two points per pixel column (the min and max, in their original order): the drawn line
 * looks the same, and a 10 000-step loss curve does not cost 10 000 path segments.
 */
function decimate(points: [number, number][], columns: number): [number, number][] {
  if (points.length <= 2 * Math.max(1, columns)) return points;
  const out: [number, number][] = [];
  let col = Math.floor(points[0][0]);
  let bucket: [number, number][] = [];
  const flush = () => {
    if (!bucket.length) return;
    let lo = bucket[0];
    let hi = bucket[0];
    for (const p of bucket) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    const keep = lo === hi ? [lo] : bucket.indexOf(lo) < bucket.indexOf(hi) ? [lo, hi] : [hi, lo];
    out.push(...keep);
    bucket = [];
  };
  for (const p of points) {
    const c = Math.floor(p[0]);
    if (c !== col) {
      flush();
      col = c;
    }
    bucket.push(p);
  }
  flush();
  return out;
}

function renderScatter(t: ScatterTrace, color: string, xs: Scale, ys: Scale, plotW: number, out: string[]): void {
  const n = Math.min(t.x.length, t.y.length);
  const segments: [number, number][][] = [];
  let seg: [number, number][] = [];
  const markers: { x: number; y: number; i: number }[] = [];
  for (let i = 0; i < n; i++) {
    const X = xs.map(t.x[i]);
    const Y = ys.map(t.y[i]);
    if (X === undefined || Y === undefined) {
      if (seg.length) segments.push(seg);
      seg = [];
      continue;
    }
    seg.push([X, Y]);
    markers.push({ x: X, y: Y, i });
  }
  if (seg.length) segments.push(seg);
  const name = t.name ?? "trace";
  if (t.mode !== "markers") {
    const width = t.line?.width ?? 2;
    const d = segments
      .map((s) => decimate(s, plotW).map((p, j) => `${j ? "L" : "M"}${px(p[0])} ${px(p[1])}`).join(""))
      .join("");
    const last = markers[markers.length - 1];
    const tip = last ? `${name}: last ${formatNumber(t.y[last.i])} at ${typeof t.x[last.i] === "number" ? formatNumber(t.x[last.i] as number) : t.x[last.i]}` : name;
    if (d) {
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}" stroke-linejoin="round" stroke-linecap="round"${dashArray(t.line?.dash)}><title>${escapeXml(tip)}</title></path>`,
      );
    }
  }
  if (t.mode !== "lines") {
    const r = (t.marker?.size ?? 6) / 2;
    for (const m of markers) {
      const xv = t.x[m.i];
      const label = `${name} (${typeof xv === "number" ? formatNumber(xv) : xv}, ${formatNumber(t.y[m.i])})`;
      out.push(`<circle cx="${px(m.x)}" cy="${px(m.y)}" r="${r}" fill="${t.marker?.color ?? color}"><title>${escapeXml(label)}</title></circle>`);
    }
  }
}

function renderShape(s: Shape, xs: Scale, ys: Scale, box: { x0: number; x1: number; y0: number; y1: number }, out: string[]): void {
  const X = (v: Datum) => (s.xref === "paper" ? box.x0 + Number(v) * (box.x1 - box.x0) : xs.map(v));
  const Y = (v: Datum) => (s.yref === "paper" ? box.y0 - Number(v) * (box.y0 - box.y1) : ys.map(v));
  const a = X(s.x0);
  const b = Y(s.y0);
  const c = X(s.x1);
  const d = Y(s.y1);
  if (a === undefined || b === undefined || c === undefined || d === undefined) return;
  out.push(`<line x1="${px(a)}" y1="${px(b)}" x2="${px(c)}" y2="${px(d)}" stroke="${s.line.color}" stroke-width="${s.line.width ?? 1.5}"${dashArray(s.line.dash)}/>`);
}

function renderAnnotation(a: Annotation, xs: Scale, ys: Scale, out: string[], paperBox?: { x0: number; x1: number; y0: number; y1: number }): void {
  const X = a.xref === "paper" && paperBox ? paperBox.x0 + Number(a.x) * (paperBox.x1 - paperBox.x0) : xs.map(a.x);
  const Y = a.yref === "paper" && paperBox ? paperBox.y0 - Number(a.y) * (paperBox.y0 - paperBox.y1) : ys.map(a.y);
  if (X === undefined || Y === undefined) return;
  const anchor = a.xanchor === "left" ? "start" : a.xanchor === "right" ? "end" : "middle";
  const dy = a.yanchor === "bottom" ? "-0.3em" : a.yanchor === "top" ? "1em" : "0.35em";
  out.push(
    `<text x="${px(X)}" y="${px(Y)}" dy="${dy}" text-anchor="${anchor}" font-size="${a.font?.size ?? TICK_FONT}" fill="${a.font?.color ?? INK}">${escapeXml(a.text)}</text>`,
  );
}

function renderHeatmap(fig: PlotlyFigure, t: HeatmapTrace, out: string[]): void {
  const { layout } = fig;
  const W = layout.width;
  const H = layout.height;
  const xCats = t.x.map(String);
  const yCats = t.y.map(String);
  const showScale = t.showscale !== false;
  const cbTitle = t.colorbar?.title?.text;
  const scaleTicks = niceTicks(t.zmin, t.zmax, 5);
  const cbLabelW = Math.max(0, ...scaleTicks.map((v) => textWidth(formatNumber(v), TICK_FONT)));
  const right = showScale ? 16 + 14 + 6 + cbLabelW + (cbTitle ? 22 : 8) : 16;
  const top = titleTop(titleLines(fig).length);
  const yTitle = layout.yaxis?.title?.text;
  const xTitle = layout.xaxis?.title?.text;
  const left = 12 + (yTitle ? 18 : 0) + Math.max(0, ...yCats.map((c) => textWidth(shorten(c), TICK_FONT)));
  const plotW = W - left - right;
  const xLabelW = Math.max(0, ...xCats.map((c) => textWidth(shorten(c), TICK_FONT)));
  const rotate = xCats.length > 0 && xLabelW + 6 > plotW / xCats.length;
  const bottom = 12 + (xTitle ? 20 : 0) + (rotate ? xLabelW + 12 : 18);
  const x0 = left;
  const x1 = W - right;
  const y0 = H - bottom;
  const y1 = top;
  if (x1 - x0 < 20 || y0 - y1 < 20) throw new Error(`Heatmap ${W}×${H} px is too small for its labels; make layout.width/height larger.`);
  const xs = categoryScale(xCats, x0, x1, layout.xaxis?.autorange === "reversed");
  // plotly draws row 0 at the bottom; autorange "reversed" puts it on top (how matrices are read).
  const ys = categoryScale(yCats, y1, y0, layout.yaxis?.autorange !== "reversed");
  const cw = xs.band;
  const ch = ys.band;
  const gx = t.xgap ?? 0;
  const gy = t.ygap ?? 0;
  const span = t.zmax - t.zmin || 1;
  t.z.forEach((row, i) => {
    const cy = ys.map(yCats[i]);
    row.forEach((v, j) => {
      const cx = xs.map(xCats[j]);
      if (v === null || !Number.isFinite(v) || cx === undefined || cy === undefined) return;
      const fill = colorAt(t.colorscale, (v - t.zmin) / span);
      const tip = `${yCats[i]} · ${xCats[j]}: ${formatNumber(v)}`;
      out.push(
        `<rect x="${px(cx - cw / 2 + gx / 2)}" y="${px(cy - ch / 2 + gy / 2)}" width="${px(cw - gx)}" height="${px(ch - gy)}" fill="${fill}"><title>${escapeXml(tip)}</title></rect>`,
      );
    });
  });
  tickLabels(xs, ys, x0, y0, rotate, out);
  axisTitles({ left, right, top, bottom }, W, H, xTitle, yTitle, out);
  for (const a of layout.annotations ?? []) renderAnnotation(a, xs, ys, out, { x0, x1, y0, y1 });

  if (showScale) {
    // Colour bar: 32 stacked bands (no gradient defs, so no id clashes when several SVGs share a page).
    const bx = x1 + 16;
    const steps = 32;
    const h = (y0 - y1) / steps;
    for (let k = 0; k < steps; k++) {
      out.push(`<rect x="${px(bx)}" y="${px(y0 - (k + 1) * h)}" width="14" height="${px(h + 0.5)}" fill="${colorAt(t.colorscale, (k + 0.5) / steps)}"/>`);
    }
    for (const v of scaleTicks) {
      const y = y0 - ((v - t.zmin) / span) * (y0 - y1);
      out.push(`<line x1="${px(bx + 14)}" y1="${px(y)}" x2="${px(bx + 18)}" y2="${px(y)}" stroke="${AXIS}"/>`);
      out.push(`<text x="${px(bx + 20)}" y="${px(y)}" dy="0.35em" font-size="${TICK_FONT}" fill="#555555">${escapeXml(formatNumber(v))}</text>`);
    }
    if (cbTitle) {
      out.push(
        // Rotated -90 with its baseline 8 px from the edge: the glyphs extend inwards, so nothing is cut off.
        `<text transform="translate(${px(W - 8)} ${px((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="${INK}">${escapeXml(cbTitle)}</text>`,
      );
    }
  }
}
