/**
 * flex.compare: one table over models of every kind, each row the same numbers the model's own
 * evaluate gives on the same windows; notebook and text rendering; the CLI study end to end.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { flex, Lab, PublicModel } from "../../lib/flex";
import { compare } from "../../lib/flex/compare";
import { baselines, DenseExpert } from "../../lib/flex/baselines";
import { DISPLAY, PLOTLY_MIME } from "../../lib/display/mime";
import { disposeParams } from "../../lib/model/model";
import { main } from "../../lib/cli/main";

let lab: Lab;
let pub: PublicModel;
let math: DenseExpert;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-compare-"));
const OPTS = { domains: ["math", "public"], maxWindows: 3, batchSize: 3 } as const;

before(async () => {
  lab = await flex.lab({ preset: "tiny", seed: 8, backend: "cpu", train: { batchSize: 4 } });
  pub = await lab.publicModel();
  await pub.train({ steps: 10 });
  math = await baselines.denseExpert(lab, pub, "math", { steps: 4 });
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("rows are the models' own evaluations; improvements are (ref − ppl) / ref; the reference leads", async () => {
  const soup = baselines.soup([pub, math]);
  const btm = baselines.btm([pub, math]);
  const t = await compare([math, soup, btm], { ...OPTS, reference: pub });
  assert.deepEqual(t.rows.map((r) => r.model), ["public", "dense:math", "soup (uniform)", "BTM (top-2)"]);
  assert.deepEqual(t.domains, ["math", "public"]);
  assert.equal(t.reference, "public");
  const direct = { public: await pub.model().evaluate(OPTS), "dense:math": await math.evaluate(OPTS), "soup (uniform)": await soup.evaluate(OPTS), "BTM (top-2)": await btm.evaluate(OPTS) };
  for (const r of t.rows) {
    const d = direct[r.model as keyof typeof direct];
    assert.deepEqual([r.ppl.math, r.ppl.public], [d.ppl("math"), d.ppl("public")]);
    assert.equal(r.average, (d.ppl("math") + d.ppl("public")) / 2);
  }
  const ref = t.row("public");
  assert.equal(ref.reference, true);
  assert.equal(ref.averageImprovement, 0);
  const m = t.row("dense:math");
  assert.equal(m.improvement!.math, (ref.ppl.math - m.ppl.math) / ref.ppl.math);
  assert.equal(m.averageImprovement, (ref.average - m.average) / ref.average);
  assert.equal(t.best("math").model, [...t.rows].sort((a, b) => a.ppl.math - b.ppl.math)[0].model);
  // Same inputs twice ⇒ the same table.
  const again = await compare([math, soup, btm], { ...OPTS, reference: pub });
  assert.deepEqual(again.rows.map((r) => r.ppl), t.rows.map((r) => r.ppl));
  btm.dispose();
  disposeParams(soup.params);
});

test("a reference already in the list is evaluated once; default domains come from the first evaluation", async () => {
  let calls = 0;
  const counting = { label: "counted", evaluate: async (o: object) => (calls++, pub.model().evaluate(o)) };
  const t = await compare([counting, math], { maxWindows: 2, batchSize: 2, reference: counting });
  assert.equal(calls, 1);
  assert.deepEqual(t.rows.map((r) => r.model), ["counted", "dense:math"]);
  assert.deepEqual(t.domains, ["public"]); // the public model's default: its experts ∩ domains, plus public
});

test("renders as grouped bars + HTML table in a notebook and as a text table in a terminal", async () => {
  const t = await compare([pub, math], { ...OPTS, reference: pub });
  const b = t[DISPLAY]();
  const fig = b[PLOTLY_MIME] as { data: Array<{ name: string; x: string[] }>; layout: { barmode: string } };
  assert.equal(fig.layout.barmode, "group");
  assert.deepEqual(fig.data.map((s) => s.name), ["public", "dense:math"]);
  assert.deepEqual(fig.data[0].x, ["math", "public", "average"]);
  assert.match(b["text/html"]!, /<svg[\s\S]*<table/);
  const text = String(t);
  assert.match(text, /model\s+math\s+public\s+average\s+improvement vs public % \(avg\)/);
  assert.match(text, /public \(ref\)/);
  assert.deepEqual(JSON.parse(JSON.stringify(t)).rows.length, 2);
});

test("bad input: clear errors", async () => {
  await assert.rejects(() => compare([]), /at least one model/);
  await assert.rejects(() => compare([pub, pub.model()]), /two models are labelled "public"/);
  await assert.rejects(() => compare([pub], { domains: ["cooking"] }), /Unknown domain "cooking"/);
  await assert.rejects(() => compare([42 as never]), /item 0 is not a model/);
  const t = await compare([pub], { domains: ["public"], maxWindows: 1 });
  assert.throws(() => t.row("nope"), /No row "nope"/);
  assert.throws(() => t.best("math"), /No "math" column/);
});

test("CLI: `flexolmo compare` runs the study at tiny size and writes its table", async () => {
  const out = path.join(tmp, "cli");
  const lines: string[] = [];
  const code = await main(
    ["compare", "--preset", "tiny", "--domains", "math", "--public-steps", "3", "--expert-steps", "2", "--rt-steps", "0", "--btx-steps", "1", "--eval-windows", "2", "--docs", "20", "--no-ablations", "--no-unrestricted", "--out", out, "--backend", "cpu"],
    { stdout: (s) => lines.push(s), stderr: () => undefined },
  );
  assert.equal(code, 0, lines.join(""));
  const res = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf-8"));
  assert.deepEqual(res.table.rows.map((r: { model: string }) => r.model), ["public", "dense:math", "soup (uniform)", "soup (likelihood)", "BTM (top-2)", "prompt routing", "BTX", "FlexOlmo (no RT)", "− no training to coordinate"]);
  assert.match(fs.readFileSync(path.join(out, "summary.md"), "utf-8"), /BTM \(top-2\)/);
  assert.match(lines.join(""), /Perplexity on test/);
  const bad = await main(["compare", "--preset", "tiny", "--expert-steps", "0", "--backend", "cpu"], { stdout: () => undefined, stderr: (s) => lines.push(s) });
  assert.equal(bad, 2);
});
