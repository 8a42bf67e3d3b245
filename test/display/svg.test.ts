import { test } from "node:test";
import assert from "node:assert/strict";
import { barChart, escapeXml, figureToSvg, heatmap, lineChart, niceTicks, stackedBarH } from "../../lib/display";
import type { PlotlyFigure } from "../../lib/display";

/** All `<tag .../>` or `<tag ...>` elements' attributes, in document order. */
function elements(svg: string, tag: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of svg.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, "g"))) {
    const attrs: Record<string, string> = {};
    for (const a of m[1].matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]] = a[2];
    out.push(attrs);
  }
  return out;
}

test("niceTicks follows the 1-2-5 rule (hand-worked cases)", () => {
  // [0, 0.93] with ~5 ticks: raw step 0.186 → 0.2 (0.186/0.1 = 1.86 ≥ √2 → 2×0.1). Ticks inside: 0..0.8.
  assert.deepEqual(niceTicks(0, 0.93, 5), [0, 0.2, 0.4, 0.6, 0.8]);
  // [1, 4] with ~6 ticks: raw 0.5 → 0.5 (5 ≥ √10 → 5×0.1).
  assert.deepEqual(niceTicks(1, 4, 6), [1, 1.5, 2, 2.5, 3, 3.5, 4]);
  // [-3, 7] with ~4 ticks: raw 2.5 → 2 (2.5 < √10). Multiples of 2 within: -2..6.
  assert.deepEqual(niceTicks(-3, 7, 4), [-2, 0, 2, 4, 6]);
  assert.deepEqual(niceTicks(5, 5, 4), [5]);
});

test("bars: lengths are proportional to values and stacked bars are contiguous", () => {
  const fig = stackedBarH({
    categories: ["only"],
    series: [
      { name: "a", values: [0.5] },
      { name: "b", values: [0.25] },
      { name: "c", values: [0.25] },
    ],
    width: 600,
    height: 200,
  });
  const svg = figureToSvg(fig);
  const rects = elements(svg, "rect").filter((r) => r.fill !== "#ffffff" && r.width !== "12"); // drop background and legend swatches
  assert.equal(rects.length, 3);
  const w = rects.map((r) => Number(r.width));
  const x = rects.map((r) => Number(r.x));
  // 0.5 : 0.25 : 0.25 → widths 2:1:1 (to the 0.1 px rounding of the renderer).
  assert.ok(Math.abs(w[0] - 2 * w[1]) <= 0.2 && Math.abs(w[1] - w[2]) <= 0.2, `widths ${w}`);
  // Each segment starts where the previous one ends.
  assert.ok(Math.abs(x[1] - (x[0] + w[0])) <= 0.2 && Math.abs(x[2] - (x[1] + w[1])) <= 0.2, `x ${x}, w ${w}`);
  assert.equal(rects.map((r) => r.fill).join(), "#4e79a7,#f28e2b,#e15759");
});

test("grouped bars: one rect per (series, category), negative values grow down from zero", () => {
  const fig = barChart({ categories: ["p", "q"], series: [{ name: "s", values: [2, -1] }, { name: "t", values: [1, 1] }] });
  const svg = figureToSvg(fig);
  const bars = elements(svg, "rect").filter((r) => r.fill === "#4e79a7" || r.fill === "#f28e2b").filter((r) => r.width !== "12");
  assert.equal(bars.length, 4);
  const [s_p, s_q, t_p] = bars;
  // Same zero line: s_p ends where s_q starts; heights 2 : 1 : 1.
  assert.ok(Math.abs(Number(s_p.y) + Number(s_p.height) - Number(s_q.y)) <= 0.2);
  assert.ok(Math.abs(Number(s_p.height) - 2 * Number(s_q.height)) <= 0.2);
  assert.ok(Math.abs(Number(t_p.height) - Number(s_q.height)) <= 0.2);
  assert.match(svg, /<title>s · q: -1<\/title>/);
});

test("line chart: a null splits the path into separate segments; every point of a short series is drawn", () => {
  const fig = lineChart({ series: [{ name: "a", y: [1, 2, null, 3, 4] }] });
  const svg = figureToSvg(fig);
  const path = elements(svg, "path")[0];
  const moves = path.d.match(/M/g)!.length;
  const lines = path.d.match(/L/g)!.length;
  assert.equal(moves, 2); // two segments
  assert.equal(lines, 2); // 1→2 and 3→4
});

test("long series are decimated to ≤ 2 points per pixel column, keeping the extremes", () => {
  const y = Array.from({ length: 20000 }, (_, i) => (i === 12345 ? 100 : Math.sin(i / 50)));
  const svg = figureToSvg(lineChart({ series: [{ name: "a", y }], width: 400, height: 300 }));
  const d = elements(svg, "path")[0].d;
  const points = d.match(/[ML]/g)!.length;
  assert.ok(points <= 2 * 400, `${points} points`);
  // The spike (the global max) must survive: some point sits at the top of the value range.
  const ys = [...d.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
  const top = Math.min(...ys);
  assert.equal(ys.filter((v) => v === top).length, 1);
});

test("heatmap: row 0 on top (autorange reversed), one rect per non-null cell, colour bar present", () => {
  const fig = heatmap({ x: ["a", "b"], y: ["first", "second"], z: [[0, 1], [null, 0.5]], annotate: false });
  const svg = figureToSvg(fig);
  const cells = elements(svg, "rect").filter((r) => r.width !== "14" && r.fill !== "#ffffff");
  assert.equal(cells.length, 3);
  // The first row's cells are above the second row's.
  assert.ok(Number(cells[0].y) < Number(cells[2].y));
  // zmin cell gets the first viridis stop, zmax cell the last.
  assert.equal(cells[0].fill, "#440154");
  assert.equal(cells[1].fill, "#fde725");
  assert.equal(elements(svg, "rect").filter((r) => r.width === "14").length, 32); // colour bar bands
  assert.ok(svg.indexOf(">first<") > 0 && svg.indexOf(">second<") > 0);
});

test("text is escaped: labels cannot inject markup", () => {
  const evil = `<script>alert("x")</script>&`;
  const svg = figureToSvg(barChart({ title: evil, categories: [evil], series: [{ name: evil, values: [1] }] }));
  assert.doesNotMatch(svg, /<script/);
  assert.ok(svg.includes(escapeXml(evil)));
  assert.equal(escapeXml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

test("the SVG is deterministic and its size follows the layout", () => {
  const make = () => lineChart({ series: [{ name: "a", y: [3, 1, 2] }], width: 500, height: 250 });
  const a = figureToSvg(make());
  assert.equal(a, figureToSvg(make()));
  assert.match(a, /^<svg [^>]*width="500" height="250" viewBox="0 0 500 250"/);
});

test("an unusable layout size is refused with a specific message", () => {
  const fig: PlotlyFigure = { data: [], layout: { width: 0, height: 100 } };
  assert.throws(() => figureToSvg(fig), /width\/height must be positive/);
  assert.throws(() => figureToSvg(lineChart({ series: [{ name: "a", y: [1] }], width: 40, height: 40 })), /too small/);
});
