import { test } from "node:test";
import assert from "node:assert/strict";
import { DISPLAY, paletteColor, table, tableText, tokenColors } from "../../lib/display";

test("table: aligned text (numbers right, text left) and an HTML table with one row per record", () => {
  const t = table({ columns: ["expert", "loss"], rows: [["public", 2.345678], ["math", 1.9], ["code", null]], caption: "Per-expert loss" });
  // Column widths: "expert"/"public" = 6; "loss" vs "2.346" (4 significant digits) = 5.
  assert.equal(tableText(t), ["Per-expert loss", "expert   loss", "------  -----", "public  2.346", "math      1.9", "code        –"].join("\n"));
  const b = t[DISPLAY]();
  assert.deepEqual(Object.keys(b).sort(), ["text/html", "text/plain"]); // no plotly: HTML is the better table
  const html = b["text/html"]!;
  assert.equal(html.match(/<tr>/g)!.length, 4); // header + 3 rows
  assert.match(html, /<caption[^>]*>Per-expert loss<\/caption>/);
  assert.match(html, /title="2\.345678"/); // full precision on hover
  assert.deepEqual(JSON.parse(JSON.stringify(t)).kind, "table");
});

test("table refuses ragged rows", () => {
  assert.throws(() => table({ columns: ["a", "b"], rows: [[1]] }), /row 0 has 1 cells but there are 2 columns \(a, b\)/);
});

test("tokenColors with labels: one span per token, palette colours in legend order, tooltips, escaped text", () => {
  const v = tokenColors({ tokens: ["<b>", " x", "\n", "y"], labels: ["math", "public", "math", "code"], colors: { public: "#000000" } });
  // `colors` fixes public's colour and puts it first in the legend; the rest follow first appearance.
  assert.deepEqual(v.legend, [["public", "#000000"], ["math", paletteColor(1)], ["code", paletteColor(2)]]);
  assert.deepEqual(v.colors, [paletteColor(1), "#000000", paletteColor(1), paletteColor(2)]);
  const html = v[DISPLAY]()["text/html"]!;
  const spans = [...html.matchAll(/<span title="([^"]*)" style="background:([^;]*);/g)];
  assert.equal(spans.length, 4);
  assert.deepEqual(spans.map((m) => m[1]), ["math", "public", "math", "code"]);
  assert.match(html, /&lt;b&gt;/);
  assert.doesNotMatch(html, /<b>/);
  assert.match(html, /↵\n/); // a newline token is visible and still breaks the line
  assert.match(v[DISPLAY]()["text/plain"], /^4 tokens; legend: public, math, code\n"<b>"\[math\] " x"\[public\]/);
});

test("tokenColors with values: colours follow the scale from min to max", () => {
  const v = tokenColors({ tokens: ["a", "b", "c"], values: [0, 0.5, 1], colorscale: [[0, "#000000"], [1, "#ffffff"]] });
  // Midpoint of black→white is 127.5 → #808080.
  assert.deepEqual(v.colors, ["#000000", "#808080", "#ffffff"]);
  assert.deepEqual(v.titles, ["0", "0.5", "1"]);
});

test("tokenColors needs exactly one of labels / values, of the right length", () => {
  assert.throws(() => tokenColors({ tokens: ["a"] }), /exactly one of `labels`/);
  assert.throws(() => tokenColors({ tokens: ["a"], labels: ["x"], values: [1] }), /exactly one of `labels`/);
  assert.throws(() => tokenColors({ tokens: ["a", "b"], labels: ["x"] }), /labels has 1 entries for 2 tokens/);
  assert.throws(() => tokenColors({ tokens: ["a"], values: [Infinity] }), /values\[0\] is Infinity/);
});
