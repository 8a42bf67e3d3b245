/**
 * `npm run reproduce` end to end on the tiny recipe (2 seeds, seconds each; the numbers mean
 * nothing), plus hand-worked checks of the statistics and the verdict rules.
 *
 * The end-to-end run checks what the report promises: every table row of both tables in every
 * seed; mean ± sd in the summary equal to an independent recomputation from the seed files; Table 1
 * reusing Table 2's public and dense-expert numbers; Fig. 2 shares summing to k; Fig. 4 provenance
 * (exact without router tuning, approximate after); every figure a standalone SVG; a second run
 * reusing the finished seeds; an interrupted seed writing nothing.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { main } from "../../lib/cli/main";
import { meanSd, poolTables, meanNested, formatMeanSd, relImprovement } from "../../lib/reproduce/stats";
import { combine, hitsOwnHardest, ownExpertTop, verdictOf } from "../../lib/reproduce/claims";
import { RECIPES, recipeKey, checkRecipe, warmupFor } from "../../lib/reproduce/recipe";
import { loadSeed, seedFile } from "../../lib/reproduce/run";
import { ABLATION_ROWS, isFullTable, Interrupted, ownerVariants, rowKeys, runSeed, taskNames, type SeedResult } from "../../lib/reproduce/seed";
import type { Summary } from "../../lib/reproduce/report";
import { sampleBatch } from "../../lib/reproduce/privacy";
import { scorerOf } from "../../lib/reproduce/tasks";
import { Btm, LikelihoodSoup } from "../../lib/flex/baselines/ensembles";
import * as tf from "../../lib/tf";
import { flex } from "../../lib/flex";
import { lrAt } from "../../lib/train/schedule";

// ---------------------------------------------------------------------------------------------
// Statistics (hand-worked)

test("meanSd: hand-worked mean and sample sd", () => {
  // [2, 4, 9]: mean 15/3 = 5; squared deviations 9, 1, 16 → 26; sample variance 26/2 = 13; sd √13.
  const m = meanSd([2, 4, 9]);
  assert.equal(m.mean, 5);
  assert.ok(Math.abs((m.sd as number) - Math.sqrt(13)) < 1e-12);
  assert.equal(m.n, 3);
  assert.deepEqual(m.values, [2, 4, 9]);
  // One value: the mean is the value, the sd is undefined (not 0: one seed says nothing about spread).
  assert.deepEqual(meanSd([7]), { mean: 7, sd: null, n: 1, values: [7] });
  assert.throws(() => meanSd([]), /no values/);
  assert.throws(() => meanSd([1, NaN]), /non-finite/);
  assert.equal(formatMeanSd(m, 2), "5.00 ± 3.61");
  assert.equal(formatMeanSd(meanSd([7]), 1), "7.0");
});

test("poolTables: per-cell mean ± sd over seeds; a missing cell is an error", () => {
  // Cell (a, x): 1, 3 → mean 2, sd √((1 + 1)/1) = √2. Cell (a, y): 10, 10 → mean 10, sd 0.
  const p = poolTables([{ a: { x: 1, y: 10 } }, { a: { x: 3, y: 10 } }]);
  assert.equal(p.a.x.mean, 2);
  assert.ok(Math.abs((p.a.x.sd as number) - Math.SQRT2) < 1e-12);
  assert.equal(p.a.y.sd, 0);
  assert.throws(() => poolTables([{ a: { x: 1 } }, { a: {} }]), /no value for row "a", column "x"/);
});

test("meanNested averages element-wise and refuses different shapes", () => {
  assert.deepEqual(meanNested([[[1, 2], [3, 4]], [[3, 4], [5, 6]]]), [[2, 3], [4, 5]]);
  assert.throws(() => meanNested([[1, 2], [1]]), /differ in shape/);
  assert.equal(relImprovement(10, 8), 0.2); // (10 − 8)/10
});

test("verdicts: all seeds agree → holds/fails; otherwise mixed; tables combine the same way", () => {
  assert.equal(verdictOf([true, true, true]), "holds");
  assert.equal(verdictOf([false, false]), "fails");
  assert.equal(verdictOf([true, false, true]), "mixed");
  assert.equal(combine(["holds", "holds"]), "holds");
  assert.equal(combine(["holds", "fails"]), "mixed");
});

test("selectivity and opt-out counts on hand-worked figures", () => {
  // Experts public, math, code; k = 2, so each cell's shares sum to 2.
  // math layer 0: math .9 > code .2 → own top; layer 1: math .4 < code .6 → not; code layer 0: code .7 > math .3 → own top;
  // layer 1: tie .5/.5 → not (strictly largest); the public domain is not counted.
  const fig = {
    experts: ["public", "math", "code"],
    domains: ["math", "code", "public"],
    layers: [0, 1],
    fractions: [
      [[0.9, 0.9, 0.2], [1.0, 0.4, 0.6]],
      [[1.0, 0.3, 0.7], [1.0, 0.5, 0.5]],
      [[1.0, 0.5, 0.5], [1.0, 0.5, 0.5]],
    ],
  };
  assert.deepEqual(ownExpertTop(fig), { top: 2, cells: 4 });
  // Removing math: math +10 %, code +2 %, public +1 % → own hardest; removing code: code +3 % < math +4 % → not.
  assert.deepEqual(hitsOwnHardest({ removed: ["math", "code"], domains: ["math", "code", "public"], deltaPct: [[10, 2, 1], [4, 3, 0]] }), { hardest: 1, experts: 2 });
});

test("recipes: every shipped recipe is valid; warm-up follows the phase; a bad recipe is refused clearly", () => {
  for (const r of Object.values(RECIPES)) checkRecipe(r);
  assert.equal(warmupFor(150, 0.1), 15);
  assert.equal(warmupFor(3, 0.1), 1); // never 0: the first step would have LR 0
  assert.throws(() => checkRecipe({ ...RECIPES.tiny, table1: ["math", "legal"], table2: ["math"] }), /Table 1 domain "legal" must also be in Table 2/);
  assert.throws(() => checkRecipe({ ...RECIPES.tiny, seeds: [0, 0] }), /distinct/);
  assert.throws(() => checkRecipe({ ...RECIPES.tiny, otherFlexRecipes: ["lab"] }), /otherFlexRecipes: "lab" is not a recipe to run beside the lab's \(choose from: paper\)/);
  // The seed list is not part of the key: adding a seed keeps the finished ones valid.
  assert.equal(recipeKey({ ...RECIPES.quick, seeds: [0, 1, 2] }), recipeKey(RECIPES.quick));
  assert.notEqual(recipeKey({ ...RECIPES.quick, expertSteps: 51 }), recipeKey(RECIPES.quick));
});

test("Table 2's rows: the paper's layout (public, dense experts, BTM, FlexOlmo) or every row; the ablation owners train where they are shown", () => {
  assert.throws(() => checkRecipe({ ...RECIPES.tiny, table2Rows: "some" as never }), /table2Rows must be "paper" or "all"/);
  const paper = { ...RECIPES.study, table2Rows: "paper" as const }, all = { ...RECIPES.study, table2Rows: "all" as const };
  assert.deepEqual([isFullTable(paper, "table1"), isFullTable(paper, "table2"), isFullTable(all, "table2")], [true, false, true]);
  assert.deepEqual(rowKeys(["math", "code"], ["paper"], false, false), ["public", "dense:math", "dense:code", "btm", "flexolmo:paper", "flexolmo-rt:paper", "flexolmo", "flexolmo-rt"]);
  const full = rowKeys(["math"]);
  for (const k of [...ABLATION_ROWS, "soup-uniform", "soup-weighted", "prompt-routing", "btx", "moe-flops", "moe-data"]) assert.ok(full.includes(k), k);
  const v1 = ownerVariants(paper), v2 = ownerVariants(all);
  assert.deepEqual([v1.flexolmo.domains, v1.noBias.domains, v1.randomInit.domains, v1["flexolmo:paper"].domains], [paper.table2, paper.table1, paper.table1, paper.table2]);
  assert.deepEqual([v2.noBias.domains, v2.randomInit.domains], [all.table2, all.table2]);
});

// ---------------------------------------------------------------------------------------------
// End to end on the tiny recipe

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "flex-reproduce-"));
const dirs = { results: path.join(tmp, "results"), report: path.join(tmp, "docs", "results.md"), figures: path.join(tmp, "docs", "figures") };
const ARGS = ["reproduce", "--recipe", "tiny", "--backend", "wasm", "--results-dir", dirs.results, "--report", dirs.report, "--figures-dir", dirs.figures];
let out = "";
let seeds: SeedResult[];
let summary: Summary;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "", stderr = "";
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

before(async () => {
  const r = await cli(ARGS);
  out = r.stdout;
  assert.equal(r.code, 0, `reproduce failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  seeds = RECIPES.tiny.seeds.map((s) => JSON.parse(fs.readFileSync(seedFile(dirs.results, s), "utf-8")) as SeedResult);
  summary = JSON.parse(fs.readFileSync(path.join(dirs.results, "summary.json"), "utf-8")) as Summary;
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("every seed has every row of both tables, with finite numbers in every column and task", () => {
  assert.match(out, /seeds run 0, 1, reused none/);
  for (const s of seeds) {
    assert.equal(s.recipeKey, recipeKey(RECIPES.tiny));
    for (const [key, domains] of [["table1", RECIPES.tiny.table1], ["table2", RECIPES.tiny.table2]] as const) {
      const t = s.tables[key];
      // Table 1 has every row and the FFN-only BTM diagnostic; Table 2 the paper's rows (table2Rows: "paper").
      assert.deepEqual(t.rows.map((r) => r.key), rowKeys(domains, ["paper"], key === "table1", key === "table1"));
      assert.ok(t.rows.some((r) => r.key === "flexolmo:paper" && r.label === "FlexOlmo, paper recipe, no RT"));
      assert.ok(t.rows.some((r) => r.key === "flexolmo-rt:paper" && r.label === "FlexOlmo, paper recipe, with RT"));
      assert.deepEqual(t.columns, [...domains, "public"]);
      assert.deepEqual(t.tasks, taskNames(domains));
      assert.equal(t.k, 2); // the lab recipe's k
      for (const r of t.rows) if (r.key.startsWith("flexolmo") || ["no-bias", "random-init", "no-coordination"].includes(r.key)) assert.equal(r.optOut, r.key.startsWith("flexolmo-rt") ? "approximate" : "exact", r.key);
      for (const r of t.rows) {
        for (const c of t.columns) assert.ok(Number.isFinite(r.ppl[c]) && r.ppl[c] > 1, `${key} ${r.key} ${c}: ${r.ppl[c]}`);
        for (const x of t.tasks) assert.ok(r.tasks[x] >= 0 && r.tasks[x] <= 1, `${key} ${r.key} ${x}: ${r.tasks[x]}`);
        const mean = t.columns.reduce((a, c) => a + r.ppl[c], 0) / t.columns.length;
        assert.ok(Math.abs(r.avgPpl - mean) < 1e-9 * mean);
      }
    }
  }
});

test("Table 1 reuses Table 2's public model and dense experts (identical numbers on shared columns)", () => {
  for (const s of seeds) {
    for (const key of ["public", ...RECIPES.tiny.table1.map((d) => `dense:${d}`)]) {
      const a = s.tables.table1.rows.find((r) => r.key === key)!, b = s.tables.table2.rows.find((r) => r.key === key)!;
      for (const c of s.tables.table1.columns) assert.equal(a.ppl[c], b.ppl[c], `${key} ${c}`);
      for (const t of s.tables.table1.tasks) assert.equal(a.tasks[t], b.tasks[t], `${key} ${t}`);
    }
  }
});

test("summary: mean ± sd of every cell equals a recomputation from the seed files", () => {
  assert.deepEqual(summary.seeds, RECIPES.tiny.seeds);
  for (const key of ["table1", "table2"] as const) {
    for (const row of summary.tables[key].rows) {
      const per = seeds.map((s) => s.tables[key].rows.find((r) => r.key === row.key)!);
      const check = (got: { mean: number; sd: number | null }, xs: number[], what: string) => {
        // Independent two-seed formula: mean (a + b)/2, sample sd |a − b|/√2.
        assert.ok(Math.abs(got.mean - (xs[0] + xs[1]) / 2) <= 1e-9 * Math.max(1, Math.abs(got.mean)), `${what} mean`);
        assert.ok(Math.abs((got.sd as number) - Math.abs(xs[0] - xs[1]) / Math.SQRT2) <= 1e-9 * Math.max(1, Math.abs(got.mean)), `${what} sd`);
      };
      for (const c of summary.tables[key].columns) check(row.ppl[c], per.map((r) => r.ppl[c]), `${key} ${row.key} ${c}`);
      check(row.avgPpl, per.map((r) => r.avgPpl), `${key} ${row.key} avg`);
      for (const t of summary.tables[key].tasks) check(row.tasks[t], per.map((r) => r.tasks[t]), `${key} ${row.key} ${t}`);
      const pubs = seeds.map((s) => s.tables[key].rows.find((r) => r.key === "public")!.avgPpl);
      check(row.vsPublic, per.map((r, i) => (pubs[i] - r.avgPpl) / pubs[i]), `${key} ${row.key} vs public`);
    }
    const pub = summary.tables[key].rows.find((r) => r.key === "public")!;
    assert.equal(pub.vsPublic.mean, 0);
  }
});

test("figures: routing shares sum to k; opt-out provenance exact without RT, approximate with RT; router cosines in [−1, 1]", () => {
  for (const s of seeds) {
    // Table 2: the lab recipe (k = 2) and the paper's (k = ⌈E/2⌉); Table 1: every layer.
    assert.deepEqual(Object.keys(s.figures.routing), ["flexolmo", "rt", "flexolmo:paper"]);
    assert.equal(s.figures.routing.flexolmo.k, 2);
    assert.equal(s.figures.routing["flexolmo:paper"].k, Math.ceil((RECIPES.tiny.table2.length + 1) / 2));
    assert.deepEqual(Object.keys(s.figures.table1.routing), ["flexolmo", "flexolmo:paper"]);
    assert.deepEqual(s.figures.table1.routing.flexolmo.layers, Array.from({ length: 2 }, (_, i) => i)); // the tiny preset's 2 layers
    assert.deepEqual(s.figures.table1.routing.flexolmo.domains, [...RECIPES.tiny.table1, "public"]);
    for (const f of [...Object.values(s.figures.routing), ...Object.values(s.figures.table1.routing)]) {
      assert.equal(f.experts[0], "public");
      for (const dl of f.fractions) for (const shares of dl) assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - f.k) < 1e-9);
    }
    for (const o of Object.values(s.figures.table1.optOut)) {
      assert.equal(o.guarantee, "exact");
      assert.deepEqual(o.removed, RECIPES.tiny.table1);
    }
    assert.equal(s.figures.optOut.flexolmo.guarantee, "exact");
    assert.equal(s.figures.optOut.rt.guarantee, "approximate");
    assert.deepEqual(s.figures.optOut.flexolmo.removed, RECIPES.tiny.table2);
    assert.deepEqual(s.figures.qualityVsK.ks, Array.from({ length: RECIPES.tiny.table2.length + 1 }, (_, i) => i + 1));
    for (const g of [s.figures.geometry.external, s.figures.geometry.random]) {
      assert.deepEqual(g.experts, ["public", ...RECIPES.tiny.table1]); // Table 1's merges: the table with the random-init ablation
      for (const c of g.learned.flat(2)) assert.ok(c === null || (c >= -1 - 1e-6 && c <= 1 + 1e-6));
      for (let i = 0; i < g.experts.length; i++) assert.ok(Math.abs((g.init[i][i] as number) - 1) < 1e-6); // a row with itself
    }
  }
  assert.equal(summary.figures.optOut.flexolmo.guarantee, "exact");
  // The privacy test runs on the first seed only in this recipe, with the four models of the paper.
  assert.ok(seeds[0].privacy && !seeds[1].privacy);
  assert.deepEqual(seeds[0].privacy!.models.map((m) => m.model), ["public model", "dense expert: math", "FlexOlmo (public + math + educational + code)", "over-fitted (sanity)"]);
});

test("report: every row and section, standalone SVG figures, generated claims, no NaN", () => {
  const md = fs.readFileSync(dirs.report, "utf-8");
  for (const section of ["Table 1 analogue", "Table 2 analogue", "Fig. 2 analogue", "Fig. 3 analogue", "Fig. 4 analogue", "Router geometry", "Privacy", "Honesty section", "Wall time per part"]) assert.ok(md.includes(section), section);
  for (const r of summary.tables.table2.rows) assert.ok(md.includes(`| ${r.label} |`) || md.includes(`| **${r.label}** |`), r.label);
  assert.ok(md.includes("npm run reproduce -- --recipe tiny"), "the exact command");
  assert.ok(!/NaN|undefined/.test(md), "no NaN/undefined in the report");
  assert.ok(!md.includes("Likely reasons"), "the tiny recipe has no hand-written reasons");
  const links = [...md.matchAll(/\]\((figures\/[^)]+\.svg)\)/g)].map((m) => m[1]);
  assert.ok(links.length >= 10);
  for (const l of links) {
    const svg = fs.readFileSync(path.join(path.dirname(dirs.report), l), "utf-8");
    assert.ok(svg.startsWith("<svg") && !/<script|https?:\/\/(?!www\.w3\.org)/.test(svg), `${l} is a standalone SVG`);
  }
  const ids = summary.claims.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.length >= 18);
  for (const c of summary.claims) assert.ok(["holds", "fails", "mixed"].includes(c.verdict) && c.ours.length > 0);
});

test("a second run reuses both finished seeds; a seed file of another recipe is not reused", async () => {
  const r = await cli(ARGS);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /seeds run none, reused 0, 1/);
  const again = JSON.parse(fs.readFileSync(path.join(dirs.results, "summary.json"), "utf-8")) as Summary;
  assert.deepEqual(again.tables, summary.tables);
  const logs: string[] = [];
  assert.equal(loadSeed(seedFile(dirs.results, 0), { ...RECIPES.tiny, expertSteps: 3 }, (l) => logs.push(l)), undefined);
  assert.match(logs[0], /different recipe/);
  assert.ok(loadSeed(seedFile(dirs.results, 0), RECIPES.tiny, () => undefined));
});

test("batched extraction sampling draws exactly what FlexModel.generate draws for the same seed", async () => {
  // The reference: one generate() call per (prefix, seed) with the paper's sampling. The batched
  // sampler must give the same tokens (same logits up to float rounding, same Rng stream per row).
  const lab = await flex.lab({ preset: "tiny", seed: 3, backend: "wasm" });
  const pub = await lab.publicModel();
  await pub.train({ steps: 3 });
  const m = pub.model();
  const tok = lab.data.tokenizer;
  const prefixes = ["Solve for x: 3x + 2 = 11.", "The court held that the"].map((t) => tok.encode(t).slice(0, 5));
  const seedsOf = [[11, 12], [21, 22]];
  const got = await sampleBatch(m, prefixes, 6, seedsOf, tok.eosId);
  for (let c = 0; c < prefixes.length; c++) {
    for (let r = 0; r < 2; r++) {
      const ref = await m.generate(tok.decode(prefixes[c]), { maxTokens: 6, seed: seedsOf[c][r], topK: 50, topP: 0.95, temperature: 1 });
      assert.deepEqual(got[c][r], ref.tokens.filter((_t, i, a) => a.indexOf(tok.eosId) < 0 || i < a.indexOf(tok.eosId)), `prefix ${c}, sample ${r}`);
    }
  }
  pub.dispose();
});

test("task scorers: the model's scorer matches a direct log-softmax; BTM of one model and a soup of two copies equal the model", async () => {
  const lab = await flex.lab({ preset: "tiny", seed: 6, backend: "wasm" });
  const pub = await lab.publicModel();
  await pub.train({ steps: 3 });
  const m = pub.model();
  const context = [5, 9, 100, 7], options = [[3, 2], [11], [40, 8]];
  const got = await scorerOf(m)(context, options);
  // Independent: one forward pass per option, log-softmax, sum over the option's tokens.
  for (let r = 0; r < options.length; r++) {
    const ids = [...context, ...options[r]];
    const lp = tf.tidy(() => tf.logSoftmax(m.logits(tf.tensor2d([ids], undefined, "int32")), -1).arraySync() as number[][][]);
    let want = 0;
    options[r].forEach((tok, j) => (want += lp[0][context.length - 1 + j][tok]));
    assert.ok(Math.abs(got[r] - want) < 1e-4, `option ${r}: ${got[r]} vs ${want}`);
  }
  const one = new Btm([m], { topK: 2 });
  const two = new LikelihoodSoup([m, m.named("copy")]);
  try {
    const b = await scorerOf(one)(context, options), w = await scorerOf(two)(context, options);
    for (let r = 0; r < options.length; r++) {
      assert.ok(Math.abs(b[r] - got[r]) < 1e-4, `BTM of one model, option ${r}`);
      assert.ok(Math.abs(w[r] - got[r]) < 1e-4, `soup of two copies, option ${r}`);
    }
  } finally {
    one.dispose();
    two.dispose();
    pub.dispose();
  }
});

test("an interrupted seed throws Interrupted and is not written", async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(runSeed(RECIPES.tiny, 7, { backend: "wasm", log: () => undefined, signal: ac.signal }), Interrupted);
});
