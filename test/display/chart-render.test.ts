/**
 * Every chart kind the library draws, rendered in headless Chromium in both of its forms — our
 * offline SVG and plotly.js with the same figure JSON — and checked for legibility: no text outside
 * the figure (clipped titles, labels, colour-bar ticks) and no two text boxes overlapping (cell
 * numbers overprinting, colliding tick labels). Also: distinct colours for distinct series.
 *
 * Why a browser: text widths in the SVG are estimates (no font metrics in Node), and plotly lays
 * out its own margins; only a real renderer says whether the result is legible. Skipped when
 * Chromium is missing, unless FLEXOLMO_REQUIRE_CHROMIUM=1 (CI), where that is a failure.
 * CHART_RENDER_SHOTS=DIR also writes one PNG per chart (both forms) for looking at them.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, dumpDom } from "./chromium";
import { CHARTS } from "./fixtures";
import { barChart, figureToSvg, lineChart, type Chart } from "../../lib/display";
import type { PlotlyFigure } from "../../lib/display";
import {
  biasSweepChart,
  coactivationChart,
  compareChart,
  domainShareChart,
  geometryChart,
  nextTokenChart,
  optOutChart,
  qualityVsKChart,
  similarityChart,
  trainingLossChart,
  trainingRoutingChart,
  vocabularyChart,
} from "../../lib/inspect/charts";
import { AttributionResult, EvalResult } from "../../lib/flex/results";

function plotlyPath(): string | undefined {
  try {
    return require.resolve("plotly.js-dist-min/plotly.min.js");
  } catch {
    return undefined;
  }
}

const missing = !fs.existsSync(CHROMIUM) ? `${CHROMIUM} not installed (Debian package "chromium")` : !plotlyPath() ? "plotly.js-dist-min not installed" : "";
if (missing && process.env.FLEXOLMO_REQUIRE_CHROMIUM === "1") {
  test("chart rendering needs Chromium (FLEXOLMO_REQUIRE_CHROMIUM=1)", () => assert.fail(missing));
}
const skip = missing ? `${missing}; set FLEXOLMO_REQUIRE_CHROMIUM=1 to make this a failure` : false;

const rng = (seed: number) => () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const experts = ["public", "math", "code", "news"];
const cos = (L: number) => Array.from({ length: L }, (_, l) => experts.map((_, i) => experts.map((_, j) => (i === j ? 1 : Number((0.9 - 0.2 * Math.abs(i - j) - 0.1 * l).toFixed(3))))));

/** One figure per chart kind, at the sizes and with the labels notebooks and the report use. */
export const KINDS: Record<string, () => PlotlyFigure> = {
  ...CHARTS,
  // Notebook 06 and the report: the paper's Fig. 4, with its long title.
  "opt-out-fig4": () =>
    optOutChart({ removed: ["math", "code", "news"], domains: ["math", "code", "news", "public"], deltaPct: [[41.2, 1.3, 0.4, -0.2], [0.8, 37.5, 0.9, 0.1], [0.3, 1.1, 22.7, 0.6]], guarantee: "exact" }),
  "opt-out-report": () =>
    optOutChart({ removed: ["math", "code"], domains: ["math", "code", "public"], deltaPct: [[12.3, 0.4, -0.1], [0.2, 9.8, 0.3]], guarantee: "approximate", title: "Fig. 4 analogue — FlexOlmo (RT): perplexity improvement % when an expert is removed (− = worse) — approximate (mean of 3 seeds)" }),
  // Notebook 06: `model.attribution(code)`, ~40 tokens × 4 experts.
  attribution: () => {
    const r = rng(7);
    const tokens = "function clamp(number, lower, upper) { return Math.min(Math.max(number, lower), upper); }".match(/\w+|[^\w\s]/g)!.slice(0, 40);
    const shares = tokens.map(() => {
      const v = experts.map(() => r());
      const s = v.reduce((a, b) => a + b, 0);
      return v.map((x) => x / s);
    });
    return new AttributionResult({ model: "FlexOlmo", experts, owners: experts.slice(1), tokens, shares }).chart();
  },
  // Notebook 08: `compare` of 12 models (grouped bars, one colour per model).
  "compare-12-models": () =>
    barChart({
      title: "Perplexity on test (lower is better)",
      categories: ["math", "code", "public", "average"],
      series: ["public", "naive merge", "model soup", "likelihood soup", "BTM (top-2)", "prompt routing", "BTX", "unrestricted MoE", "FlexOlmo", "− no bias", "− random init", "FlexOlmo RT"].map((name, i) => ({
        name,
        values: [3.1 - 0.05 * i, 2.9 - 0.04 * i, 4.2 + 0.01 * i, 3.4 - 0.03 * i],
      })),
      valueTitle: "perplexity",
      width: 1080,
    }),
  "eval-bars": () => {
    const ev = new EvalResult({ model: "FlexOlmo", split: "test", experts, optOut: "exact", seqLen: 128, seconds: 1.5, rows: ["math", "code", "news", "public"].map((domain, i) => ({ domain, loss: 1 + 0.1 * i, ppl: Math.exp(1 + 0.1 * i), tokens: 4096, windows: 32 })) } as never);
    return ev.chart();
  },
  "report-avg-ppl-horizontal": () =>
    barChart({
      title: "Table 1 analogue: average test perplexity (mean of 3 seeds; lower is better)",
      categories: ["public model", "prompt-based routing (Table 1)", "BTM over FFN-only dense experts", "FlexOlmo, lab recipe, with RT", "unrestricted MoE (FLOP-matched)"],
      series: [{ name: "avg perplexity", values: [4.1, 3.7, 3.3, 3.0, 2.9] }],
      valueTitle: "perplexity",
      horizontal: true,
      width: 760,
      height: 60 + 26 * 5,
    }),
  "domain-shares": () =>
    domainShareChart({ experts, included: [true, true, true, true], domains: ["math", "code", "news"], layers: [0, 3], fractions: [0, 1, 2].map((d) => [0, 1].map(() => experts.map((_, e) => (e === d + 1 ? 0.6 : 0.4 / 3)))), k: 2 }),
  "quality-vs-k": () => qualityVsKChart({ ks: [1, 2, 3, 4], domains: ["math", "code", "news"], ppl: [[5, 4, 3.8, 3.7], [6, 5, 4.5, 4.4], [7, 6.5, 6.2, 6.1]], currentK: 2 }),
  coactivation: () => coactivationChart({ experts, layers: [0, 1], conditional: [0, 1].map(() => experts.map((_, i) => experts.map((_, j) => (i === j ? null : 0.25 + 0.1 * j)))), k: 2 }),
  vocabulary: () => vocabularyChart({ experts, tokens: ["def", "return", "=", "theorem", "the", "Σ"], fractions: Array.from({ length: 6 }, (_, t) => experts.map((_, e) => (e === t % 4 ? 0.7 : 0.1))), layer: 3 }),
  "router-geometry": () => geometryChart({ experts, layers: [0, 1, 2, 3], cosine: cos(4) }),
  "geometry-summary-layers": () =>
    lineChart({
      title: "Mean cosine between owner router rows, per layer (mean of 3 seeds)",
      x: [0, 1, 2, 3],
      series: [
        { name: "domain-embedding init: learned", y: [0.2, 0.25, 0.3, 0.28] },
        { name: "random init: learned", y: [0.6, 0.7, 0.75, 0.8] },
      ],
      mode: "lines+markers",
      xTitle: "layer",
      yTitle: "mean cosine",
      integerX: true,
    }),
  "bias-sweep": () => biasSweepChart({ betas: [-4, -2, -1, 0], domains: ["math", "code"], publicTop1: [[0.9, 0.6, 0.4, 0.2], [0.8, 0.5, 0.3, 0.25]], experts: 3 }),
  "compare-views": () => compareChart({ domains: ["math", "code", "public"], a: { label: "FlexOlmo", ppl: [3, 3.2, 4] }, b: { label: "without math", ppl: [4.4, 3.3, 4] } }),
  "next-token": () => nextTokenChart({ tokens: ["' the'", "' a'", "'\\n'", "' x'"], a: { label: "FlexOlmo", p: [0.4, 0.2, 0.1, 0.05] }, b: { label: "without math", p: [0.3, 0.25, 0.1, 0.1] } }),
  "training-loss": () => trainingLossChart({ title: "math owner: loss", steps: [1, 2, 3, 4, 5, 6], loss: [4, 3.5, 3.2, 3, 2.9, 2.85], evals: [{ domain: "math", steps: [3, 6], loss: [3.3, 3] }] }),
  "training-routing": () =>
    trainingRoutingChart({ title: "math owner: routing", steps: [1, 2, 3, 4], series: [0, 1, 2, 3].map((l) => ({ name: `L${l} p(math)`, values: [0.5, 0.4, 0.3, 0.2], expert: 1 })), yTitle: "mean router probability of math", ref: { value: 0.5, label: "public = owner" } }),
  similarity: () =>
    similarityChart({ bins: Array.from({ length: 10 }, (_, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`), series: [{ name: "public", counts: [1, 2, 3, 4, 5, 4, 3, 2, 1, 0] }, { name: "FlexOlmo", counts: [0, 1, 2, 3, 4, 5, 4, 3, 2, 1] }], threshold: 0.9 }),
};

/** Charts whose x axis counts something (layers): plotly ticks must be integers. */
const INTEGER_X = new Set(["geometry-summary-layers"]);

// In the page: measure every non-empty <text> (SVG) / text node (plotly) against its figure's box and its neighbours.
const MEASURE = String.raw`
function measure(root, box) {
  const out = [];
  const items = [...root.querySelectorAll("text")]
    .filter((t) => t.textContent.trim() !== "" && getComputedStyle(t).display !== "none" && getComputedStyle(t).visibility !== "hidden" && +getComputedStyle(t).opacity !== 0)
    .map((t) => ({ t: t.textContent.trim(), r: t.getBoundingClientRect() }))
    .filter((x) => x.r.width > 0 && x.r.height > 0);
  const tol = 1;
  for (const x of items) {
    if (x.r.left < box.left - tol || x.r.right > box.right + tol || x.r.top < box.top - tol || x.r.bottom > box.bottom + tol) {
      out.push("clipped: " + JSON.stringify(x.t) + " at [" + [x.r.left - box.left, x.r.top - box.top, x.r.right - box.left, x.r.bottom - box.top].map(Math.round) + "] in " + Math.round(box.width) + "x" + Math.round(box.height));
    }
  }
  // Glyph boxes include ascent/descent padding, so rows of text may touch: count an overlap only past 2 px in both directions.
  for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
    const a = items[i].r, b = items[j].r;
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w > 2 && h > 3) out.push("overlap: " + JSON.stringify(items[i].t) + " and " + JSON.stringify(items[j].t) + " (" + Math.round(w) + "x" + Math.round(h) + " px)");
  }
  return out;
}`;

function page(figs: Record<string, PlotlyFigure>, plotly: string): string {
  const blocks = Object.entries(figs)
    .map(([name, f]) => `<div class="chart" data-name="${name}"><div class="svg">${figureToSvg(f)}</div><div class="plotly" style="width:${f.layout.width}px;height:${f.layout.height}px"></div></div>`)
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;background:#fff} .chart>div{margin:8px}</style></head><body>
<pre id="report">pending</pre>
${blocks}
<script src="file://${plotly}"></script>
<script>
const figures = ${JSON.stringify(figs)};
${MEASURE}
(async () => {
  const res = {};
  for (const el of document.querySelectorAll(".chart")) {
    const name = el.dataset.name;
    const svg = el.querySelector(".svg svg");
    const r = { svg: measure(svg, svg.getBoundingClientRect()) };
    const div = el.querySelector(".plotly");
    try {
      await Plotly.newPlot(div, figures[name].data, figures[name].layout, { staticPlot: true });
      r.plotly = measure(div, div.querySelector(".main-svg").getBoundingClientRect());
      const xa = div._fullLayout.xaxis;
      r.xticks = (xa && xa._vals || []).map((v) => v.x);
      r.plotSize = [Math.round(div._fullLayout._size.w), Math.round(div._fullLayout._size.h)];
    } catch (e) { r.plotly = ["error: " + e]; }
    res[name] = r;
  }
  document.getElementById("report").textContent = JSON.stringify(res);
})();
</script></body></html>`;
}

test("every chart kind is legible in Chromium: no clipped or overlapping text (SVG and plotly)", { skip, timeout: 180_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-chart-render-"));
  try {
    const figs = Object.fromEntries(Object.entries(KINDS).map(([n, make]) => [n, make()]));
    const file = path.join(tmp, "charts.html");
    fs.writeFileSync(file, page(figs, plotlyPath()!));
    const dom = dumpDom(file, path.join(tmp, "profile"), { flags: ["--allow-file-access-from-files", "--virtual-time-budget=20000", "--window-size=1400,1000"], timeoutMs: 150_000 });
    const m = /<pre id="report">([^<]*)<\/pre>/.exec(dom);
    assert.ok(m && m[1] !== "pending", "the page finished");
    const text = m[1].replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    const res = JSON.parse(text) as Record<string, { svg: string[]; plotly: string[]; xticks: number[]; plotSize: [number, number] }>;
    const problems: string[] = [];
    for (const name of Object.keys(figs)) {
      const r = res[name];
      if (!r) {
        problems.push(`${name}: not rendered`);
        continue;
      }
      for (const p of r.svg) problems.push(`${name} [svg] ${p}`);
      for (const p of r.plotly) problems.push(`${name} [plotly] ${p}`);
      // A plot area squeezed by its margins (long labels, colour bar) is not legible either.
      if (r.plotSize && (r.plotSize[0] < 120 || r.plotSize[1] < 80)) problems.push(`${name} [plotly] plot area only ${r.plotSize.join("x")} px`);
      if (INTEGER_X.has(name) && r.xticks.some((v) => !Number.isInteger(v))) problems.push(`${name} [plotly] fractional x ticks ${r.xticks.join(", ")}`);
    }
    if (process.env.CHART_RENDER_REPORT) fs.writeFileSync(process.env.CHART_RENDER_REPORT, problems.join("\n") + "\n");
    assert.deepEqual(problems, [], `illegible charts:\n${problems.join("\n")}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test("distinct series get distinct colours (12-model comparison)", () => {
  for (const name of ["compare-12-models", "similarity", "bar-grouped"]) {
    const fig = KINDS[name]() as Chart;
    const colors = fig.data.map((t) => (t.type === "bar" ? t.marker.color : t.type === "scatter" ? (t.line?.color ?? t.marker?.color) : ""));
    assert.equal(new Set(colors).size, colors.length, `${name}: colours ${colors.join(", ")}`);
  }
});

test("a layer axis has integer ticks in the SVG too", () => {
  const svg = figureToSvg(KINDS["geometry-summary-layers"]());
  const ticks = [...svg.matchAll(/text-anchor="middle" font-size="11" fill="#555555">([^<]*)</g)].map((x) => Number(x[1]));
  assert.ok(ticks.length >= 2, svg);
  assert.ok(ticks.every(Number.isInteger), `ticks ${ticks.join(", ")}`);
});

/** CHART_RENDER_SHOTS=DIR: one screenshot per chart (SVG above, plotly below), for a human to look at. */
test("screenshots for review (CHART_RENDER_SHOTS)", { skip: skip || (!process.env.CHART_RENDER_SHOTS && "CHART_RENDER_SHOTS not set"), timeout: 600_000 }, () => {
  const dir = process.env.CHART_RENDER_SHOTS!;
  const only = process.env.CHART_RENDER_ONLY?.split(",");
  fs.mkdirSync(dir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-shots-"));
  try {
    for (const [name, make] of Object.entries(KINDS)) {
      if (only && !only.includes(name)) continue;
      const f = make();
      const file = path.join(tmp, `${name}.html`);
      fs.writeFileSync(file, page({ [name]: f }, plotlyPath()!));
      const r = spawnSync(CHROMIUM, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", `--user-data-dir=${path.join(tmp, "profile")}`, "--allow-file-access-from-files", "--virtual-time-budget=10000", `--window-size=${f.layout.width + 40},${2 * f.layout.height + 80}`, `--screenshot=${path.join(dir, `${name}.png`)}`, `file://${file}`], { encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 0, r.stderr);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
