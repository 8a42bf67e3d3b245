/**
 * The plotly half of each bundle, checked by plotly.js itself: every fixture figure passes
 * `Plotly.validate` (no unknown or invalid attributes) and `Plotly.newPlot` draws all its traces.
 * This is what VS Code and JupyterLab (with jupyterlab-plotly) do with our JSON.
 *
 * Runs in headless Chromium with plotly.js-dist-min (a dev dependency, loaded from node_modules,
 * never shipped in notebooks). Skipped when /usr/bin/chromium (or $CHROMIUM) is not installed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CHROMIUM, dumpDom } from "./chromium";
import { CHARTS } from "./fixtures";


function plotlyPath(): string | undefined {
  try {
    return require.resolve("plotly.js-dist-min/plotly.min.js");
  } catch {
    return undefined;
  }
}

const skip = !fs.existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : !plotlyPath() ? "plotly.js-dist-min not installed (npm install)" : false;

test("plotly.js validates and draws every chart builder's figure", { skip, timeout: 120_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-plotly-"));
  try {
    const figures = Object.fromEntries(Object.entries(CHARTS).map(([name, make]) => [name, make()]));
    // Results go into a <pre> that --dump-dom prints; --virtual-time-budget lets newPlot's promises settle first.
    const page = `<!doctype html><html><body><pre id="out">pending</pre>
<script src="file://${plotlyPath()}"></script>
<script>
const figures = ${JSON.stringify(figures)};
const results = {};
Promise.all(Object.entries(figures).map(async ([name, fig]) => {
  const div = document.createElement("div");
  document.body.appendChild(div);
  const invalid = Plotly.validate(fig.data, fig.layout) || [];
  try {
    await Plotly.newPlot(div, fig.data, fig.layout, { staticPlot: true });
    results[name] = {
      invalid: invalid.map((e) => e.msg),
      traces: div._fullData.length,
      visibleTraces: div._fullData.filter((t) => t.visible === true).length,
      annotations: div.querySelectorAll(".annotation").length,
      shapes: (div._fullLayout.shapes || []).length,
      barmode: div._fullLayout.barmode,
      // plotly.js 4 resolves autorange "reversed" into a descending range.
      yreversed: div._fullLayout.yaxis.range[0] > div._fullLayout.yaxis.range[1],
    };
  } catch (e) {
    results[name] = { error: String(e), invalid: invalid.map((x) => x.msg) };
  }
})).then(() => { document.getElementById("out").textContent = JSON.stringify(results); });
</script></body></html>`;
    const file = path.join(tmp, "plotly.html");
    fs.writeFileSync(file, page);
    const dom = dumpDom(file, path.join(tmp, "profile"), { flags: ["--allow-file-access-from-files", "--virtual-time-budget=10000"], timeoutMs: 90_000 });
    const m = /<pre id="out">([^<]*)<\/pre>/.exec(dom);
    assert.ok(m && m[1] !== "pending", "the page finished");
    const results = JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, "&")) as Record<string, Record<string, unknown>>;
    for (const [name, fig] of Object.entries(figures)) {
      const res = results[name];
      assert.ok(res, `${name}: no result`);
      assert.equal(res.error, undefined, `${name}: ${res.error}`);
      assert.deepEqual(res.invalid, [], `${name}: Plotly.validate`);
      assert.equal(res.visibleTraces, fig.data.length, `${name}: traces drawn`);
      assert.equal(res.annotations, fig.layout.annotations?.length ?? 0, `${name}: annotations drawn`);
      assert.equal(res.shapes, fig.layout.shapes?.length ?? 0, `${name}: shapes`);
      if (fig.layout.barmode) assert.equal(res.barmode, fig.layout.barmode, `${name}: barmode`);
      assert.equal(res.yreversed, fig.layout.yaxis?.autorange === "reversed", `${name}: y orientation`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
