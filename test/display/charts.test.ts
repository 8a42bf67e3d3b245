import { test } from "node:test";
import assert from "node:assert/strict";
import {
  barChart,
  COLOR_SCALES,
  colorAt,
  DISPLAY,
  figureToSvg,
  heatmap,
  lineChart,
  PLOTLY_MIME,
  textColorOn,
  toBundle,
} from "../../lib/display";
import { CHARTS } from "./fixtures";
import { matchSnapshot } from "./snapshot";

for (const [name, make] of Object.entries(CHARTS)) {
  test(`snapshot: ${name} plotly JSON`, () => {
    matchSnapshot(`${name}.json`, JSON.stringify(make(), null, 2) + "\n");
  });
  test(`snapshot: ${name} SVG fallback`, () => {
    matchSnapshot(`${name}.svg`, figureToSvg(make()) + "\n");
  });
}

test("a chart renders as one bundle: text/plain + plotly JSON + inline-SVG HTML, no scripts or URLs", () => {
  const fig = CHARTS["line-two-series"]();
  const b = fig[DISPLAY]();
  assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, "text/html", "text/plain"].sort());
  assert.equal(b[PLOTLY_MIME], fig);
  assert.match(b["text/plain"], /"Training loss" — train: 5 points; val: 5 points/);
  assert.match(b["text/html"]!, /^<div class="flexolmo-figure"><svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.doesNotMatch(b["text/html"]!, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  // The display method is invisible to JSON: the plotly payload is exactly the figure data.
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(fig))), ["data", "layout"]);
  assert.deepEqual(toBundle(fig), b);
});

test("line chart: x defaults to 0..n-1, values are rounded to 6 significant digits, nulls stay gaps", () => {
  const fig = lineChart({ series: [{ name: "a", y: [1 / 3, null, 2] }] });
  const t = fig.data[0];
  assert.equal(t.type, "scatter");
  if (t.type !== "scatter") return;
  assert.deepEqual(t.x, [0, 1, 2]);
  assert.deepEqual(t.y, [0.333333, null, 2]);
  assert.equal(fig.layout.showlegend, false); // one series: no legend
});

test("builders refuse malformed input with a specific message", () => {
  assert.throws(() => lineChart({ series: [] }), /at least one series/);
  assert.throws(() => lineChart({ x: [1, 2], series: [{ name: "a", y: [1, 2, 3] }] }), /"a" has 3 y values but 2 x values/);
  assert.throws(() => lineChart({ series: [{ name: "a", y: [1, NaN] }] }), /series "a"\.y\[1\] is NaN/);
  assert.throws(() => barChart({ categories: ["a", "a"], series: [{ name: "s", values: [1, 2] }] }), /contains "a" twice/);
  assert.throws(() => barChart({ categories: ["a", "b"], series: [{ name: "s", values: [1] }] }), /1 values for 2 categories/);
  assert.throws(() => heatmap({ x: ["a", "b"], y: ["r"], z: [[1]] }), /row 0 \("r"\) has 1 values but there are 2 x labels/);
  assert.throws(() => heatmap({ x: ["a"], y: ["r", "s"], z: [[1]] }), /1 rows in z but 2 y labels/);
  assert.throws(() => heatmap({ x: ["a"], y: ["r"], z: [[1]], colorscale: "nope" as never }), /Unknown colour scale "nope"/);
});

test("heatmap: one annotation per non-null cell, with the cell's value and a readable text colour", () => {
  const fig = CHARTS["heatmap-rdbu-nulls"]();
  const tr = fig.data[0];
  assert.equal(tr.type, "heatmap");
  if (tr.type !== "heatmap") return;
  // rdbu is symmetric around 0 by default: max |z| = 0.8.
  assert.equal(tr.zmin, -0.8);
  assert.equal(tr.zmax, 0.8);
  const ann = fig.layout.annotations!;
  assert.equal(ann.length, 3); // 4 cells, one null
  assert.deepEqual(
    ann.map((a) => [a.x, a.y, a.text]),
    [
      // Rounded for reading: the same decimals in every cell (2 for a range within ±1), a true minus sign.
      ["math", "without math", "0.80"],
      ["code", "without math", "−0.02"],
      ["code", "without code", "0.60"],
    ],
  );
  // z = 0.8 is the top of the scale: the darkest blue (#2166ac), which needs white text
  // (its WCAG luminance ≈ 0.14 < 0.179). z = -0.02 sits at t = 0.4875, near the white middle: black text.
  assert.equal(colorAt(COLOR_SCALES.rdbu, 1), "#2166ac");
  assert.equal(ann[0].font?.color, "#ffffff");
  assert.equal(ann[1].font?.color, "#000000");
  assert.equal(textColorOn("#ffffff"), "#000000");
  assert.equal(textColorOn("#000000"), "#ffffff");
});

test("colorAt interpolates linearly between stops (hand-worked midpoint)", () => {
  // Halfway between #000000 and #ff0000 is 127.5 → rounds to 128 = 0x80.
  assert.equal(colorAt([[0, "#000000"], [1, "#ff0000"]], 0.5), "#800000");
  assert.equal(colorAt([[0, "#000000"], [1, "#ff0000"]], -3), "#000000"); // clamped
  assert.equal(colorAt([[0, "#000000"], [1, "#ff0000"]], 7), "#ff0000");
});

test("stacked horizontal bars: categories read top-down, series stack", () => {
  const fig = CHARTS["bar-stacked-horizontal"]();
  assert.equal(fig.layout.barmode, "stack");
  assert.equal(fig.layout.yaxis?.autorange, "reversed");
  for (const t of fig.data) assert.equal(t.type === "bar" && t.orientation, "h");
  assert.equal(fig.layout.shapes?.[0].x0, 0.333333);
});
