/**
 * Small HTML pieces shared by the inspection records. Inline styles only, no scripts, no URLs:
 * the same output renders in JupyterLab, VS Code, nbconvert and nbviewer (see lib/display/views.ts).
 */
import { figureToHtml, escapeXml } from "../display/svg";
import type { PlotlyFigure } from "../display/plotly";
import { htmlOf, type HtmlPart } from "../display/record";
import { tableHtml, type Cell } from "../display/views";

const UI_FONT = "system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

export function heading(text: string): string {
  return `<div style="font-family:${UI_FONT};font-weight:600;margin:10px 0 4px">${escapeXml(text)}</div>`;
}

/** A paragraph of prose; `tone` "warn" draws an amber box (degenerate routers, approximate opt-out). */
export function note(text: string, tone: "info" | "warn" = "info"): string {
  const style =
    tone === "warn"
      ? "background:#fff4e0;border-left:4px solid #f28e2b;padding:6px 10px"
      : "color:#444;padding:2px 0";
  return `<div style="font-family:${UI_FONT};font-size:13px;margin:6px 0;${style}">${escapeXml(text)}</div>`;
}

export function figureHtml(fig: PlotlyFigure): string {
  return figureToHtml(fig);
}

export function tableBlock(columns: readonly string[], rows: readonly (readonly Cell[])[], digits = 4, caption?: string): string {
  return tableHtml({ columns, rows, digits, caption });
}

/** Blocks (HTML, figures, tables: see htmlOf) side by side, wrapping on narrow screens. */
export function sideBySide(blocks: readonly Exclude<HtmlPart, false | null | undefined>[]): string {
  return `<div style="display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start">${blocks.map((b) => `<div>${htmlOf(b)}</div>`).join("")}</div>`;
}

export function pre(text: string): string {
  return `<pre style="white-space:pre-wrap;margin:4px 0">${escapeXml(text)}</pre>`;
}

export { escapeXml };
