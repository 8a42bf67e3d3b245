/**
 * HTML-only views: tables and coloured token spans.
 *
 * These have no plotly form on purpose. A front end with a plotly renderer prefers the plotly MIME
 * type over text/html, so a plotly "table" trace would hide the better HTML table in JupyterLab and
 * VS Code. Both views are plain HTML with inline styles only (no classes that need a stylesheet,
 * no scripts), so they look the same in JupyterLab, VS Code, nbconvert and nbviewer. Tooltips use
 * the `title` attribute, which every browser shows on hover.
 */
import type { Renderable } from "./mime";
import { renderable } from "./mime";
import type { ColorStop } from "./plotly";
import { COLOR_SCALES, colorAt, formatNumber, paletteColor, textColorOn } from "./plotly";
import { escapeXml } from "./svg";

const UI_FONT = "system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const MONO_FONT = "ui-monospace,SFMono-Regular,Menlo,Consolas,monospace";

// ---------------------------------------------------------------------------------------------
// Tables

export type Cell = string | number | boolean | null;

export interface TableSpec {
  columns: readonly string[];
  rows: readonly (readonly Cell[])[];
  caption?: string;
  /** Significant digits for numbers (default 4). */
  digits?: number;
  /**
   * Fixed decimals per column (undefined: `digits` significant digits). Why: a column of perplexities
   * or percentages reads best rounded alike (3.42, 12.5 %), not as 6-digit floats.
   */
  decimals?: readonly (number | undefined)[];
}

export interface TableView extends TableSpec {
  kind: "table";
}

function cellText(c: Cell, digits: number, decimals?: number): string {
  if (c === null) return "–";
  if (typeof c === "number") {
    if (decimals === undefined || !Number.isFinite(c)) return formatNumber(c, digits);
    const s = c.toFixed(decimals);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s; // no "-0.0"
  }
  return String(c);
}

/** A table that renders as an HTML table (text/plain: aligned columns). */
export function table(spec: TableSpec): TableView & Renderable {
  if (!spec.columns.length) throw new Error("table needs at least one column.");
  spec.rows.forEach((r, i) => {
    if (r.length !== spec.columns.length) {
      throw new Error(`table row ${i} has ${r.length} cells but there are ${spec.columns.length} columns (${spec.columns.join(", ")}).`);
    }
  });
  const view: TableView = { kind: "table", columns: [...spec.columns], rows: spec.rows.map((r) => [...r]) };
  if (spec.caption !== undefined) view.caption = spec.caption;
  if (spec.digits !== undefined) view.digits = spec.digits;
  if (spec.decimals !== undefined) view.decimals = [...spec.decimals];
  return renderable(view, { text: () => tableText(view), html: () => tableHtml(view) });
}

/** Aligned plain-text table: numbers right-aligned, text left-aligned. */
export function tableText(t: TableSpec): string {
  const d = t.digits ?? 4;
  const cells = t.rows.map((r) => r.map((c, j) => cellText(c, d, t.decimals?.[j])));
  const widths = t.columns.map((h, j) => Math.max(h.length, ...cells.map((r) => r[j].length)));
  const numeric = t.columns.map((_, j) => t.rows.length > 0 && t.rows.every((r) => typeof r[j] === "number" || r[j] === null));
  const fmt = (s: string, j: number) => (numeric[j] ? s.padStart(widths[j]) : s.padEnd(widths[j]));
  const lines = [t.columns.map(fmt).join("  "), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map((r) => r.map(fmt).join("  "))];
  if (t.caption) lines.unshift(t.caption);
  return lines.map((l) => l.trimEnd()).join("\n");
}

export function tableHtml(t: TableSpec): string {
  const d = t.digits ?? 4;
  const th = `padding:4px 10px;border-bottom:2px solid #999;text-align:left;font-weight:600`;
  const td = (c: Cell) => `padding:3px 10px;border-bottom:1px solid #e3e3e3;text-align:${typeof c === "number" ? "right" : "left"}`;
  const head = t.columns.map((c) => `<th style="${th}">${escapeXml(c)}</th>`).join("");
  const body = t.rows
    .map((r) => `<tr>${r.map((c, j) => `<td style="${td(c)}"${typeof c === "number" ? ` title="${c}"` : ""}>${escapeXml(cellText(c, d, t.decimals?.[j]))}</td>`).join("")}</tr>`)
    .join("");
  const caption = t.caption ? `<caption style="caption-side:top;text-align:left;font-weight:600;padding:4px 0">${escapeXml(t.caption)}</caption>` : "";
  return (
    `<table class="flexolmo-table" style="border-collapse:collapse;font-family:${UI_FONT};font-size:13px;font-variant-numeric:tabular-nums">` +
    `${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
  );
}

// ---------------------------------------------------------------------------------------------
// Coloured tokens (routing views)

export interface TokenColorsSpec {
  /** The token strings, in order (decoded text pieces, spaces included). */
  tokens: readonly string[];
  /** A category per token (e.g. the top-1 expert): colours from the palette, with a legend. */
  labels?: readonly string[];
  /** A number per token (e.g. the weight on one expert): colours from `colorscale`. */
  values?: readonly number[];
  /** Tooltip per token; default: the label and/or value. */
  titles?: readonly string[];
  /** Legend order and fixed colours per label (keeps an expert's colour the same across views). */
  colors?: Readonly<Record<string, string>>;
  colorscale?: keyof typeof COLOR_SCALES | ColorStop[];
  vmin?: number;
  vmax?: number;
  title?: string;
}

export interface TokenColorsView {
  kind: "tokens";
  title?: string;
  tokens: string[];
  /** Background colour per token. */
  colors: string[];
  titles: string[];
  /** Legend entries (label → colour), in display order. */
  legend: [string, string][];
}

/**
 * Text coloured per token, with a tooltip per token: the routing view ("which expert handled which
 * token"). Give `labels` for categorical colours or `values` for a colour scale.
 */
export function tokenColors(spec: TokenColorsSpec): TokenColorsView & Renderable {
  const n = spec.tokens.length;
  if ((spec.labels === undefined) === (spec.values === undefined)) {
    throw new Error("tokenColors needs exactly one of `labels` (a category per token) or `values` (a number per token).");
  }
  for (const [name, arr] of [["labels", spec.labels], ["values", spec.values], ["titles", spec.titles]] as const) {
    if (arr && arr.length !== n) throw new Error(`tokenColors: ${name} has ${arr.length} entries for ${n} tokens; they must match.`);
  }
  let colors: string[];
  let legend: [string, string][];
  let defaultTitles: string[];
  if (spec.labels) {
    const order = [...Object.keys(spec.colors ?? {})];
    for (const l of spec.labels) if (!order.includes(l)) order.push(l);
    const colorOf = new Map(order.map((l, i) => [l, spec.colors?.[l] ?? paletteColor(i)]));
    colors = spec.labels.map((l) => colorOf.get(l) as string);
    legend = order.filter((l) => spec.labels!.includes(l)).map((l) => [l, colorOf.get(l) as string]);
    defaultTitles = [...spec.labels];
  } else {
    const values = spec.values!;
    values.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new Error(`tokenColors: values[${i}] is ${v}; expected a finite number.`);
    });
    const scale = Array.isArray(spec.colorscale) ? spec.colorscale : COLOR_SCALES[spec.colorscale ?? "blues"];
    const lo = spec.vmin ?? Math.min(...values);
    const hi = spec.vmax ?? Math.max(...values);
    const span = hi - lo || 1;
    colors = values.map((v) => colorAt(scale, (v - lo) / span));
    legend = [
      [formatNumber(lo), colorAt(scale, 0)],
      [formatNumber(hi), colorAt(scale, 1)],
    ];
    defaultTitles = values.map((v) => formatNumber(v));
  }
  const view: TokenColorsView = { kind: "tokens", tokens: [...spec.tokens], colors, titles: spec.titles ? [...spec.titles] : defaultTitles, legend };
  if (spec.title !== undefined) view.title = spec.title;
  return renderable(view, { text: () => tokenColorsText(view), html: () => tokenColorsHtml(view) });
}

/** Make invisible characters visible: a newline shows as ↵ (then breaks the line), a tab as →. */
function visibleToken(t: string): string {
  return t.replace(/\n/g, "↵\n").replace(/\t/g, "→\t");
}

export function tokenColorsText(v: TokenColorsView): string {
  const body = v.tokens.map((t, i) => `${JSON.stringify(t)}[${v.titles[i]}]`).join(" ");
  const head = v.title ? `${v.title} — ` : "";
  return `${head}${v.tokens.length} tokens; legend: ${v.legend.map(([l]) => l).join(", ")}\n${body}`;
}

export function tokenColorsHtml(v: TokenColorsView): string {
  const chip = (label: string, color: string) =>
    `<span style="background:${color};color:${textColorOn(color)};padding:1px 6px;margin-right:6px;border-radius:3px">${escapeXml(label)}</span>`;
  const legend = `<div style="font-family:${UI_FONT};font-size:12px;margin-bottom:6px">${v.legend.map(([l, c]) => chip(l, c)).join("")}</div>`;
  const title = v.title ? `<div style="font-family:${UI_FONT};font-weight:600;margin-bottom:4px">${escapeXml(v.title)}</div>` : "";
  const spans = v.tokens
    .map(
      (t, i) =>
        `<span title="${escapeXml(v.titles[i])}" style="background:${v.colors[i]};color:${textColorOn(v.colors[i])};border-radius:2px;box-shadow:inset -1px 0 #ffffff">${escapeXml(visibleToken(t))}</span>`,
    )
    .join("");
  return (
    `<div class="flexolmo-tokens">${title}${legend}` +
    `<div style="font-family:${MONO_FONT};font-size:13px;line-height:1.9;white-space:pre-wrap;word-break:break-word">${spans}</div></div>`
  );
}
