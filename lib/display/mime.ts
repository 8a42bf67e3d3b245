/**
 * MIME bundles: how a result object shows itself in a notebook.
 *
 * A Jupyter output is a *bundle*: one payload per MIME type, and each front end picks the richest
 * type it can render. Every result in this project renders as ONE bundle with (up to) three types:
 *
 *   - `text/plain`                     a one-line summary; what a terminal and a log show;
 *   - `application/vnd.plotly.v1+json` a plotly figure `{ data, layout }`: interactive in VS Code
 *                                      (built-in renderer) and JupyterLab with jupyterlab-plotly;
 *   - `text/html`                      a self-contained inline SVG (or table / coloured tokens), drawn
 *                                      by our own renderer (./svg.ts): what nbconvert, nbviewer and
 *                                      JupyterLab without the plotly extension show. No CDN, no
 *                                      plotly.js (3.5 MB would blow the 2 MB notebook budget).
 *
 * An object renders itself through a method keyed by `Symbol.for("Jupyter.display")`, the same
 * convention Deno's kernel uses. Our kernel preload (kernel/preload.ts) calls it for a cell's last
 * value; `show(x)` (./live.ts) calls it explicitly.
 */
import { inspect } from "node:util";
import type { PlotlyFigure } from "./plotly";
import { describeFigure, isPlotlyFigure } from "./plotly";
import { figureToHtml } from "./svg";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** The display method's key. `Symbol.for` so that every copy of this module (and Deno-style code) agrees. */
export const DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/** One Jupyter output: MIME type → payload. JSON types carry objects, text types carry strings. */
export interface MimeBundle {
  "text/plain": string;
  "text/html"?: string;
  [PLOTLY_MIME]?: PlotlyFigure;
  [mime: string]: unknown;
}

/** Anything with a display method. */
export interface Renderable {
  [DISPLAY](): MimeBundle;
}

/** What `renderable` needs. Thunks are called at display time, so building a record stays cheap. */
export interface RenderParts {
  /** One-line summary (text/plain). Always required: it is what logs, terminals and `print` show. */
  text: string | (() => string);
  /** A plotly figure; its SVG rendering becomes the text/html fallback unless `html` is given. */
  figure?: PlotlyFigure | (() => PlotlyFigure | undefined);
  /** HTML to show instead of the figure's SVG (e.g. SVG + a table). Must be self-contained (no scripts, no URLs). */
  html?: string | (() => string);
}

function force<T>(v: T | (() => T)): T {
  return typeof v === "function" ? (v as () => T)() : v;
}

/** Build the bundle for `parts` (the work behind every display method). */
export function bundleOf(parts: RenderParts): MimeBundle {
  const bundle: MimeBundle = { "text/plain": force(parts.text) };
  const figure = parts.figure === undefined ? undefined : force(parts.figure);
  if (figure) bundle[PLOTLY_MIME] = figure;
  const html = parts.html === undefined ? (figure ? figureToHtml(figure) : undefined) : force(parts.html);
  if (html !== undefined) bundle["text/html"] = html;
  return bundle;
}

/**
 * Give `obj` a display method that renders `parts` as one bundle, and return it (same object).
 * The method is non-enumerable, so JSON.stringify, spreading and deepEqual ignore it.
 */
export function renderable<T extends object>(obj: T, parts: RenderParts): T & Renderable {
  Object.defineProperty(obj, DISPLAY, { value: () => bundleOf(parts), enumerable: false, configurable: true, writable: true });
  return obj as T & Renderable;
}

export function isRenderable(x: unknown): x is Renderable {
  return typeof x === "object" && x !== null && typeof (x as Partial<Renderable>)[DISPLAY] === "function";
}

/** A ready-made bundle: a plain object whose keys are all MIME types, with a text/plain string. */
export function isMimeBundle(x: unknown): x is MimeBundle {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  const keys = Object.keys(x);
  return typeof (x as { "text/plain"?: unknown })["text/plain"] === "string" && keys.every((k) => /^[a-z]+\/[\w.+-]+$/.test(k));
}

/**
 * The bundle for any value: a bundle as is, its own display method if it has one, a plain plotly figure as a
 * chart, anything else as `util.inspect` text (what tslab would print).
 */
export function toBundle(x: unknown): MimeBundle {
  if (isRenderable(x)) {
    const b = x[DISPLAY]();
    if (typeof b !== "object" || b === null || typeof b["text/plain"] !== "string") {
      throw new Error(
        `A display method returned ${inspect(b, { depth: 0 })}; it must return a MIME bundle object with a "text/plain" string.`,
      );
    }
    return b;
  }
  if (isMimeBundle(x)) return x;
  if (isPlotlyFigure(x)) return bundleOf({ text: describeFigure(x), figure: x });
  return { "text/plain": typeof x === "string" ? x : inspect(x, { depth: 2, colors: false }) };
}
