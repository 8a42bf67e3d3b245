/**
 * Snapshot tests of every chart builder in lib/inspect/charts.ts: the plotly JSON and its SVG
 * fallback, on tiny hand-made inputs. `UPDATE_SNAPSHOTS=1` rewrites test/snapshots/inspect/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DISPLAY, figureToSvg, PLOTLY_MIME, type Chart } from "../../lib/display";
import {
  biasSweepChart,
  coactivationChart,
  compareChart,
  DELTA_SCALE,
  domainShareChart,
  expertColor,
  geometryChart,
  layerColor,
  nextTokenChart,
  optOutChart,
  qualityVsKChart,
  similarityChart,
  trainingLossChart,
  trainingRoutingChart,
  vocabularyChart,
} from "../../lib/inspect/charts";
import { matchSnapshot } from "./snapshot";

const CHARTS: Record<string, () => Chart> = {
  "domain-share": () =>
    domainShareChart({
      experts: ["public", "math", "code"],
      included: [true, true, true],
      domains: ["math", "code"],
      layers: [0, 3],
      // [domain][layer][expert], each row sums to k = 2.
      fractions: [
        [[1, 0.7, 0.3], [0.9, 0.9, 0.2]],
        [[1, 0.2, 0.8], [0.8, 0.1, 1.1]],
      ],
      k: 2,
    }),
  "domain-share-masked": () =>
    domainShareChart({ experts: ["public", "math", "code"], included: [true, false, true], domains: ["code"], layers: [1], fractions: [[[0.4, 0, 0.6]]], k: 1 }),
  "quality-vs-k": () => qualityVsKChart({ ks: [1, 2, 3], domains: ["math", "public"], ppl: [[40, 31, 30], [55, 52, 52.5]], currentK: 2 }),
  coactivation: () =>
    coactivationChart({
      experts: ["public", "math", "code"],
      layers: [0],
      conditional: [[[null, 2 / 3, 1 / 3], [2 / 3, null, 1 / 3], [0.5, 0.5, null]]],
      k: 2,
    }),
  vocabulary: () => vocabularyChart({ experts: ["public", "math"], tokens: ['"=" #61', '" the" #262'], fractions: [[0.1, 0.9], [0.95, 0.05]], layer: 3 }),
  geometry: () => geometryChart({ experts: ["public", "math"], layers: [0, 1], cosine: [[[1, 0.6], [0.6, 1]], [[1, -0.2], [-0.2, 1]]] }),
  "bias-sweep": () => biasSweepChart({ betas: [0, -1, -2], domains: ["math", "public"], publicTop1: [[0.4, 0.55, 0.7], [0.6, 0.8, 0.9]], experts: 3 }),
  "opt-out": () => optOutChart({ removed: ["math", "code"], domains: ["math", "code", "public"], deltaPct: [[12.5, 0.4, -0.3], [0.2, 20, 0.1]], guarantee: "exact" }),
  compare: () => compareChart({ domains: ["math", "public"], a: { label: "flexolmo", ppl: [30, 50] }, b: { label: "flexolmo − math", ppl: [45, 50.2] } }),
  "next-token": () => nextTokenChart({ tokens: ['" ="', '" x"', '"."'], a: { label: "a", p: [0.5, 0.2, 0.1] }, b: { label: "b", p: [0.1, 0.3, 0.2] } }),
  "training-loss": () =>
    trainingLossChart({ title: "math owner: loss", steps: [1, 2, 3, 4], loss: [5, 4.5, 4.2, 4.1], evals: [{ domain: "math", steps: [2, 4], loss: [4.6, 4.2] }] }),
  "training-routing": () =>
    trainingRoutingChart({
      title: "math owner: routing",
      steps: [1, 2, 3],
      series: [
        { name: "L0 p(math)", values: [0.3, 0.35, 0.4], expert: 1 },
        { name: "L1 p(math)", values: [0.25, 0.3, 0.45], expert: 1 },
        { name: "L2 p(math)", values: [0.2, 0.3, 0.5], expert: 1, color: layerColor(2, 3) },
      ],
      yTitle: "mean router probability of math",
      ref: { value: 0.5, label: "public = owner" },
    }),
  similarity: () => similarityChart({ bins: ["0.0–0.5", "0.5–1.0"], series: [{ name: "public", counts: [3, 0] }, { name: "flexolmo", counts: [2, 1] }], threshold: 0.9 }),
};

for (const [name, make] of Object.entries(CHARTS)) {
  test(`snapshot: ${name} plotly JSON`, () => matchSnapshot(`${name}.json`, JSON.stringify(make(), null, 2) + "\n"));
  test(`snapshot: ${name} SVG fallback`, () => matchSnapshot(`${name}.svg`, figureToSvg(make()) + "\n"));
}

test("every chart renders as text/plain + plotly + inline SVG, without scripts or URLs", () => {
  for (const [name, make] of Object.entries(CHARTS)) {
    const b = make()[DISPLAY]();
    assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, "text/html", "text/plain"].sort(), name);
    assert.doesNotMatch(b["text/html"]!, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, name);
  }
});

test("domain shares: one bar per included expert, the uniform line at k/E of the view", () => {
  const full = CHARTS["domain-share"]();
  assert.deepEqual(full.data.map((t) => (t.type === "heatmap" ? "heatmap" : t.name)), ["public", "math", "code"]);
  assert.equal(full.layout.shapes![0].y0, Number((2 / 3).toPrecision(6))); // k = 2 of E = 3
  const masked = CHARTS["domain-share-masked"]();
  assert.deepEqual(masked.data.map((t) => (t.type === "heatmap" ? "heatmap" : t.name)), ["public", "code"]); // math is outside the view
  assert.equal(masked.layout.shapes![0].y0, 0.5); // k = 1 of the 2 experts left
  // An expert keeps its full-model colour when others are masked.
  const code = masked.data[1];
  assert.equal(code.type === "bar" && code.marker.color, expertColor(2));
});

test("layer colours run dark to light along viridis, never reaching its pale end", () => {
  assert.equal(layerColor(0, 4), "#440154"); // viridis at 0
  assert.equal(layerColor(0, 1), "#440154");
  assert.notEqual(layerColor(3, 4), "#fde725"); // 0.85 of the way: still readable on white
  assert.notEqual(layerColor(1, 4), layerColor(2, 4));
});

test("the Δ scale is RdBu reversed: red for worse (positive), white in the middle", () => {
  assert.equal(DELTA_SCALE[0][1], "#2166ac");
  assert.equal(DELTA_SCALE[DELTA_SCALE.length - 1][1], "#b2182b");
  assert.equal(DELTA_SCALE[4][1], "#f7f7f7");
  const fig = CHARTS["opt-out"]();
  const h = fig.data[0];
  assert.ok(h.type === "heatmap" && h.zmin === -20 && h.zmax === 20); // symmetric around 0
});

test("the opt-out chart shows improvement % (+ = better): a cost is negative and red", () => {
  const h = CHARTS["opt-out"]().data[0];
  assert.ok(h.type === "heatmap");
  if (h.type !== "heatmap") return;
  assert.equal(h.z[1][1], -20); // Δ +20 % (worse) on code without code
  assert.equal(h.colorscale[0][1], "#b2182b"); // low end red
});
