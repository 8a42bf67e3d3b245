/**
 * One base for the self-rendering result records (evaluations, comparisons, routing and quality views…).
 *
 * Every record shows itself the same way, so the way lives here once:
 *
 *   - text/plain is the record's `toString()`: a summary line, usually over a text table (`textOf`);
 *   - the plotly payload is its `chart()`, when it has one;
 *   - text/html is a list of blocks (`html()`): the chart's offline SVG, tables, notes, composed by
 *     `htmlOf`; without `html()` it is the chart's SVG alone (what `bundleOf` does by default);
 *   - JSON is its data fields, and the Node REPL / `console.log` print the summary instead of a
 *     dump of every array (a routing record holds thousands of numbers).
 *
 * A record that names the same table in its text and its HTML builds it once (a `TableSpec`) and
 * passes it to both, so the two cannot drift apart.
 */
import { inspect } from "node:util";
import { bundleOf, DISPLAY, type MimeBundle } from "./mime";
import { isPlotlyFigure, type PlotlyFigure } from "./plotly";
import { figureToHtml } from "./svg";
import { tableHtml, tableText, type TableSpec } from "./views";

/** A piece of text/plain: lines as they are, or a table drawn as aligned text. `false`/`null`/`undefined` are left out, so parts can be conditional. */
export type TextPart = string | TableSpec | false | null | undefined;

/** A piece of text/html: ready HTML, a figure (as offline SVG) or a table. `false`/`null`/`undefined` are left out. */
export type HtmlPart = string | PlotlyFigure | TableSpec | false | null | undefined;

function skipped(p: TextPart | HtmlPart): p is false | null | undefined {
  // Not a plain falsiness test: an empty string is a real (empty) line of text.
  return p === false || p === null || p === undefined;
}

/** text/plain from parts, one per line (a table spans several). */
export function textOf(...parts: TextPart[]): string {
  return parts
    .filter((p): p is string | TableSpec => !skipped(p))
    .map((p) => (typeof p === "string" ? p : tableText(p)))
    .join("\n");
}

/** text/html from blocks, in order. */
export function htmlOf(...parts: HtmlPart[]): string {
  return parts
    .filter((p): p is string | PlotlyFigure | TableSpec => !skipped(p))
    .map((p) => (typeof p === "string" ? p : isPlotlyFigure(p) ? figureToHtml(p) : tableHtml(p)))
    .join("");
}

/**
 * Base of the result records. A subclass writes `toString()`, and where it has them `chart()` and
 * `html(figure)`; the display method, `toJSON` and the REPL form come from here.
 */
/**
 * Copy `keys` of `init` onto a record under construction: the body of most record constructors.
 * Only the listed keys are copied (an init may carry more), and the JSON key order stays the
 * fields' declaration order, since class fields are defined before the constructor body runs.
 * The fields it fills are declared with `!` (definitely assigned, here).
 */
export function assignFields<I extends object, K extends keyof I>(target: { [P in K]: I[P] }, init: I, keys: readonly K[]): void {
  for (const k of keys) target[k] = init[k];
}

export abstract class ResultRecord {
  /** The one-line summary (and table) every front end can show: text/plain, `String(x)`, logs. */
  abstract toString(): string;

  /** The record's chart, when it has one: the plotly payload of its notebook output. */
  chart?(): PlotlyFigure;

  /**
   * The figure shown in the notebook; the chart by default. A record that is best read as HTML
   * returns undefined here (a plotly payload would take precedence in VS Code / JupyterLab and hide it).
   */
  protected figure(): PlotlyFigure | undefined {
    return this.chart?.();
  }

  /** The HTML blocks around `figure` (which is `figure()`'s result). Undefined: the figure's SVG alone. */
  protected html(figure: PlotlyFigure | undefined): HtmlPart[] | undefined {
    void figure;
    return undefined;
  }

  [DISPLAY](): MimeBundle {
    const figure = this.figure();
    const blocks = this.html(figure);
    return bundleOf({ text: this.toString(), figure, html: blocks && htmlOf(...blocks) });
  }

  /** The data fields (own, enumerable, not functions), in declaration order. Override to add derived values or leave some out. */
  toJSON(): object {
    return Object.fromEntries(Object.entries(this).filter(([, v]) => typeof v !== "function"));
  }

  /** `keys` of this record, in that order: the usual body of an overridden `toJSON`. Getters count. */
  protected pick<K extends keyof this>(...keys: K[]): Pick<this, K> {
    const out = {} as Pick<this, K>;
    for (const k of keys) out[k] = this[k];
    return out;
  }

  /** What the Node REPL and `console.log` print: the summary, not every field. */
  [inspect.custom](): string {
    return this.toString();
  }
}
