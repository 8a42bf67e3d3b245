/**
 * From per-seed results to the report: pooled tables (mean ± sd), mean figures (SVG, no scripts,
 * no external resources), the honesty section, and the timing table. Pure functions of the seed
 * files and the run's metadata, so the report can be rebuilt from `results/` without training.
 */
import { barChart, lineChart } from "../display/charts";
import { figureToSvg } from "../display/svg";
import { domainShareChart, geometryChart, optOutChart, qualityVsKChart, similarityChart } from "../inspect/charts";
import type { Recipe } from "./recipe";
import { MODEL_PRESETS } from "../model/config";
import type { OptOutFigure, RoutingFigure, RowResult, SeedResult, TableResult } from "./seed";
import { FLEX_RECIPES } from "../flex/recipes";
import { buildClaims, type Claim } from "./claims";
import { formatMeanSd, meanNested, meanSd, relImprovement, type MeanSd, type Nested } from "./stats";
import { LIKELY_REASONS } from "./reasons";

export interface RunMeta {
  /** The exact command line. */
  command: string;
  node: string;
  tfjs: string;
  packageVersion: string;
  /** git HEAD of the working tree, when known. */
  commit?: string;
  backend: string;
  /** ISO date of the report. */
  date: string;
  /** Wall-clock seconds of this invocation (training of the seeds run now, plus reporting). */
  wallSeconds: number;
  /** Seeds reused from earlier runs (their seed files matched the recipe). */
  reusedSeeds: number[];
}

export interface PooledRow {
  key: string;
  label: string;
  ppl: Record<string, MeanSd>;
  avgPpl: MeanSd;
  /** Relative improvement of the average perplexity over the public model, per seed then pooled. */
  vsPublic: MeanSd;
  tasks: Record<string, MeanSd>;
  avgTask: MeanSd;
  optOut: string;
}

export interface PooledTable {
  domains: string[];
  columns: string[];
  tasks: string[];
  k: number;
  rows: PooledRow[];
  budgets: TableResult["budgets"];
}

export interface PooledRouting {
  experts: string[];
  k: number;
  layers: number[];
  domains: string[];
  /** [domain][layer][expert] share of top-k slots, mean over seeds. */
  fractions: Nested;
}

export interface PooledOptOut {
  removed: string[];
  domains: string[];
  deltaPct: Nested;
  guarantee: string;
}

const poolRouting = (rs: readonly RoutingFigure[]): PooledRouting => ({ experts: rs[0].experts, k: rs[0].k, layers: rs[0].layers, domains: rs[0].domains, fractions: meanNested(rs.map((r) => r.fractions)) });
const poolOptOut = (os: readonly OptOutFigure[]): PooledOptOut => ({ removed: os[0].removed, domains: os[0].domains, deltaPct: meanNested(os.map((o) => o.deltaPct)), guarantee: os[0].guarantee });
const poolEach = <F, P>(figs: ReadonlyArray<Record<string, F>>, pool: (xs: F[]) => P): Record<string, P> => Object.fromEntries(Object.keys(figs[0]).map((k) => [k, pool(figs.map((f) => f[k]))]));

export interface Summary {
  recipe: Recipe;
  seeds: number[];
  /** Per seed, the backend it ran on (timings depend on it). */
  engines: string[];
  meta: RunMeta;
  /** Seconds per seed, and per part (mean over seeds). */
  seedSeconds: Record<string, number>;
  parts: Record<string, MeanSd>;
  tables: { table1: PooledTable; table2: PooledTable };
  figures: {
    /** Table 2's models: "flexolmo" (lab recipe), "rt" (lab recipe, RT), "flexolmo:<recipe>" (each other recipe). */
    routing: Record<string, PooledRouting>;
    qualityVsK: { ks: number[]; domains: string[]; ppl: Nested };
    optOut: Record<"flexolmo" | "rt", PooledOptOut>;
    /** Table 1's merged models without RT ("flexolmo", "flexolmo:<recipe>"), every layer. */
    table1: { routing: Record<string, PooledRouting>; optOut: Record<string, PooledOptOut> };
    geometry: Record<"external" | "random", { experts: string[]; learned: Nested; init: Nested; meanOwnerCos: MeanSd; meanOwnerCosInit: number }>;
  };
  /** Per Table 1 domain and training variant: perplexity on the domain and on public, and the share of the dense expert's log-perplexity gain. */
  gainLocation: Record<string, Record<string, { domain: MeanSd; public: MeanSd; shareOfDenseGain: MeanSd }>>;
  privacy?: { seeds: number[]; documents: number; models: Array<{ model: string; rate: MeanSd; meanBest: MeanSd }>; example: NonNullable<SeedResult["privacy"]>["example"] };
  claims: Claim[];
}

/** Pool one table over seeds. Every seed must have the same rows, columns and tasks. */
export function poolTable(ts: readonly TableResult[]): PooledTable {
  const t0 = ts[0];
  for (const t of ts) {
    if (t.rows.map((r) => r.key).join() !== t0.rows.map((r) => r.key).join() || t.columns.join() !== t0.columns.join() || t.tasks.join() !== t0.tasks.join()) {
      throw new Error("poolTable: the seeds' tables differ in rows, columns or tasks; they come from different recipes (delete the stale seed files or pass --fresh).");
    }
  }
  const get = (key: string) => ts.map((t) => t.rows.find((r) => r.key === key)!);
  const rows: PooledRow[] = t0.rows.map((r0) => {
    const rs = get(r0.key);
    const pubs = get("public");
    return {
      key: r0.key,
      label: r0.label,
      ppl: Object.fromEntries(t0.columns.map((c) => [c, meanSd(rs.map((r) => r.ppl[c]))])),
      avgPpl: meanSd(rs.map((r) => r.avgPpl)),
      vsPublic: meanSd(rs.map((r, i) => relImprovement(pubs[i].avgPpl, r.avgPpl))),
      tasks: Object.fromEntries(t0.tasks.map((t) => [t, meanSd(rs.map((r) => r.tasks[t]))])),
      avgTask: meanSd(rs.map((r) => r.avgTask)),
      optOut: r0.optOut,
    };
  });
  return { domains: t0.domains, columns: t0.columns, tasks: t0.tasks, k: t0.k, rows, budgets: t0.budgets };
}

function meanOwnerCos(experts: string[], cos: Nested): number {
  const v: number[] = [];
  const layers = (Array.isArray((cos as Nested[])[0]) && Array.isArray(((cos as Nested[])[0] as Nested[])[0]) ? cos : [cos]) as (number | null)[][][];
  for (const c of layers) experts.forEach((a, i) => experts.forEach((b, j) => {
    const x = c[i][j];
    if (i < j && a !== "public" && b !== "public" && typeof x === "number" && Number.isFinite(x)) v.push(x);
  }));
  return v.reduce((s, x) => s + x, 0) / Math.max(1, v.length);
}

export function summarise(recipe: Recipe, seeds: readonly SeedResult[], meta: RunMeta): Summary {
  if (seeds.length === 0) throw new Error("summarise: no finished seed to report.");
  const partNames = [...new Set(seeds.flatMap((s) => Object.keys(s.parts)))];
  const parts = Object.fromEntries(partNames.map((p) => [p, meanSd(seeds.map((s) => s.parts[p] ?? 0))]));
  const f0 = seeds[0].figures;
  const nullToNaN = (x: unknown): Nested => (Array.isArray(x) ? x.map(nullToNaN) : typeof x === "number" ? x : NaN);
  const geo = (which: "external" | "random") => {
    const g0 = f0.geometry[which];
    const learned = meanNested(seeds.map((s) => nullToNaN(s.figures.geometry[which].learned)));
    return {
      experts: g0.experts,
      learned,
      init: nullToNaN(g0.init),
      meanOwnerCos: meanSd(seeds.map((s) => meanOwnerCos(g0.experts, nullToNaN(s.figures.geometry[which].learned)))),
      meanOwnerCosInit: meanOwnerCos(g0.experts, nullToNaN(g0.init)),
    };
  };
  const ps = seeds.filter((s) => s.privacy);
  const privacy: Summary["privacy"] = ps.length
    ? {
        seeds: ps.map((s) => s.seed),
        documents: ps[0].privacy!.documents,
        models: ps[0].privacy!.models.map((m, i) => ({ model: m.model, rate: meanSd(ps.map((s) => s.privacy!.models[i].rate)), meanBest: meanSd(ps.map((s) => s.privacy!.models[i].meanBest)) })),
        example: ps[0].privacy!.example,
      }
    : undefined;
  const gainLocation: Summary["gainLocation"] = {};
  for (const d of Object.keys(seeds[0].gainLocation)) {
    gainLocation[d] = {};
    for (const v of Object.keys(seeds[0].gainLocation[d]) as Array<keyof SeedResult["gainLocation"][string]>) {
      const g = seeds.map((s) => s.gainLocation[d]);
      gainLocation[d][v] = {
        domain: meanSd(g.map((x) => x[v].domain)),
        public: meanSd(g.map((x) => x[v].public)),
        // (ln ppl_public − ln ppl_variant) / (ln ppl_public − ln ppl_dense) on the domain: 1 = all of the dense expert's gain.
        shareOfDenseGain: meanSd(g.map((x) => (Math.log(x.public.domain) - Math.log(x[v].domain)) / (Math.log(x.public.domain) - Math.log(x.dense.domain)))),
      };
    }
  }
  return {
    recipe,
    seeds: seeds.map((s) => s.seed),
    engines: seeds.map((s) => s.engine ?? s.backend),
    gainLocation,
    meta,
    seedSeconds: Object.fromEntries(seeds.map((s) => [String(s.seed), s.seconds])),
    parts,
    tables: { table1: poolTable(seeds.map((s) => s.tables.table1)), table2: poolTable(seeds.map((s) => s.tables.table2)) },
    figures: {
      routing: poolEach(seeds.map((s) => s.figures.routing), poolRouting),
      qualityVsK: { ks: f0.qualityVsK.ks, domains: f0.qualityVsK.domains, ppl: meanNested(seeds.map((s) => s.figures.qualityVsK.ppl)) },
      optOut: poolEach(seeds.map((s) => s.figures.optOut), poolOptOut) as Summary["figures"]["optOut"],
      table1: { routing: poolEach(seeds.map((s) => s.figures.table1.routing), poolRouting), optOut: poolEach(seeds.map((s) => s.figures.table1.optOut), poolOptOut) },
      geometry: { external: geo("external"), random: geo("random") },
    },
    privacy,
    claims: buildClaims(seeds),
  };
}

// ---------------------------------------------------------------------------------------------
// Figures

/** The model behind a routing figure's key, in words. */
function routingModelName(key: string): string {
  if (key === "rt") return "FlexOlmo, lab recipe, with RT";
  if (key === "flexolmo") return "FlexOlmo, lab recipe, no RT";
  return `FlexOlmo, ${key.replace(/^flexolmo:/, "")} recipe, no RT`;
}

const fig2File = (key: string, layer: number) => `fig2-routing-${key.replace(/[^a-z0-9-]/gi, "-")}-layer${layer}.svg`;

/** SVG files of the report, by file name. */
export function renderFigures(s: Summary, seeds: readonly SeedResult[]): Record<string, string> {
  const out: Record<string, string> = {};
  const n = s.seeds.length;
  const over = n > 1 ? `mean of ${n} seeds` : `seed ${s.seeds[0]}`;
  for (const key of ["table1", "table2"] as const) {
    const t = s.tables[key];
    out[`${key}-avg-ppl.svg`] = figureToSvg(
      barChart({
        title: `${key === "table1" ? "Table 1" : "Table 2"} analogue: average test perplexity (${over}; lower is better)`,
        categories: t.rows.map((r) => r.label),
        series: [{ name: "avg perplexity", values: t.rows.map((r) => r.avgPpl.mean) }],
        valueTitle: "perplexity",
        horizontal: true,
        width: 760,
        height: 60 + 26 * t.rows.length,
      }),
    );
  }
  for (const which of Object.keys(s.figures.routing)) {
    const r = s.figures.routing[which];
    const fr = r.fractions as number[][][];
    r.layers.forEach((l, li) => {
      out[fig2File(which, l)] = figureToSvg(
        domainShareChart({
          experts: r.experts,
          included: r.experts.map(() => true),
          domains: r.domains,
          layers: [l],
          fractions: fr.map((dl) => [dl[li]]),
          k: r.k,
          title: `Fig. 2 analogue — ${routingModelName(which)}, layer ${l}: share of top-${r.k} slots per expert (${over})`,
        }),
      );
    });
  }
  const q = s.figures.qualityVsK;
  out["fig3-quality-vs-k.svg"] = figureToSvg(qualityVsKChart({ ks: q.ks, domains: q.domains, ppl: q.ppl as number[][], currentK: s.tables.table2.k, title: `Fig. 3 analogue — Table 2 FlexOlmo (no RT): perplexity vs k (${over})` }));
  for (const which of ["flexolmo", "rt"] as const) {
    const o = s.figures.optOut[which];
    out[`fig4-optout-${which}.svg`] = figureToSvg(optOutChart({ removed: o.removed, domains: o.domains, deltaPct: o.deltaPct as number[][], guarantee: o.guarantee as "exact" | "approximate", title: `Fig. 4 analogue — FlexOlmo${which === "rt" ? " (RT)" : ", no RT"}: perplexity improvement % when an expert is removed (− = worse) — ${o.guarantee} (${over})` }));
  }
  for (const which of ["external", "random"] as const) {
    const g = s.figures.geometry[which];
    const L = (g.learned as number[][][]).length;
    out[`geometry-${which}.svg`] = figureToSvg(
      geometryChart({ experts: g.experts, layers: Array.from({ length: L }, (_, i) => i), cosine: (g.learned as number[][][]).map((c) => c.map((r) => r.map((x) => (Number.isNaN(x) ? null : x)))), title: `Learned router rows, ${which === "external" ? "domain-embedding" : "random"} init: cosine (${over})` }),
    );
  }
  {
    const ge = s.figures.geometry;
    const perLayer = (which: "external" | "random") => (ge[which].learned as number[][][]).map((c) => meanOwnerCos(ge[which].experts, [c] as unknown as Nested));
    const L = (ge.external.learned as number[][][]).length;
    out["geometry-summary.svg"] = figureToSvg(
      lineChart({
        title: `Mean cosine between owner router rows, per layer (${over})`,
        x: Array.from({ length: L }, (_, i) => i),
        series: [
          { name: "domain-embedding init: learned", y: perLayer("external") },
          { name: "domain-embedding init: at start", y: new Array(L).fill(ge.external.meanOwnerCosInit), dash: "dash" },
          { name: "random init: learned", y: perLayer("random") },
          { name: "random init: at start", y: new Array(L).fill(ge.random.meanOwnerCosInit), dash: "dash" },
        ],
        mode: "lines+markers",
        xTitle: "layer",
        yTitle: "mean cosine",
        integerX: true, // layers are integers: no 0.5 ticks
      }),
    );
  }
  const ps = seeds.filter((x) => x.privacy);
  if (ps.length) {
    const models = ps[0].privacy!.models.map((m) => m.model);
    out["privacy-similarity.svg"] = figureToSvg(
      similarityChart({
        bins: Array.from({ length: 10 }, (_, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`),
        series: models.map((name, i) => {
          const counts = new Array<number>(10).fill(0);
          for (const x of ps) for (const b of x.privacy!.models[i].best) counts[Math.min(9, Math.max(0, Math.floor(b * 10)))]++;
          return { name, counts };
        }),
        threshold: 0.9,
        title: `Extraction test: best similarity per document (${ps.length} seed${ps.length > 1 ? "s" : ""} pooled)`,
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Markdown

const fmtPpl = (m: MeanSd) => formatMeanSd(m, m.mean >= 100 ? 1 : 2);
const fmtPct = (m: MeanSd) => formatMeanSd({ ...m, mean: 100 * m.mean, sd: m.sd === null ? null : 100 * m.sd }, 1);

function mdTable(headers: string[], rows: string[][]): string {
  return [`| ${headers.join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function tableSection(title: string, t: PooledTable, s: Summary, figDir: string, key: string): string {
  const bold = (r: PooledRow, x: string) => (r.key === "flexolmo" || r.key === "flexolmo-rt" ? `**${x}**` : x);
  const ppl = mdTable(
    ["model", ...t.columns, "avg", "improvement vs public (avg)", "opt-out"],
    t.rows.map((r) => [bold(r, r.label), ...t.columns.map((c) => fmtPpl(r.ppl[c])), bold(r, fmtPpl(r.avgPpl)), fmtPct(r.vsPublic) + " %", r.key === "public" || r.key.startsWith("dense:") ? "n/a" : r.optOut]),
  );
  const tasks = mdTable(
    ["model", ...t.tasks, "avg"],
    t.rows.map((r) => [bold(r, r.label), ...t.tasks.map((x) => fmtPct(r.tasks[x])), bold(r, fmtPct(r.avgTask))]),
  );
  const b = t.budgets;
  return [
    `## ${title}`,
    "",
    `Closed domains: ${t.domains.join(", ")} (+ public). ${t.rows.some((x) => x.key === "btx") ? "" : "The paper's Table 2 rows: the public model, the dense experts, BTM and FlexOlmo (the other baselines and the ablations are in Table 1). "}FlexOlmo with the lab recipe${t.rows.some((x) => x.key === "no-bias") ? " and its ablations" : ""} uses k = ${t.k} of ${t.domains.length + 1} experts${s.recipe.otherFlexRecipes.map((o) => `; the ${o} recipe's rows k = ${FLEX_RECIPES[o].k(t.domains.length)}`).join("")}${t.rows.some((x) => x.key === "btx") ? `; BTX k = ${Math.ceil((t.domains.length + 1) / 2)}` : ""}. Test perplexity (lower is better), ${s.recipe.evalWindows} windows of ${s.recipe.train.seqLen ?? "?"} tokens per column, the same windows for every row; mean ± sd over ${s.seeds.length} seed${s.seeds.length > 1 ? "s" : ""}. "improvement vs public (avg)" = (public − model) / public of the average perplexity, per seed (+ = better). "opt-out": whether removing one owner's contribution afterwards is exact (no remaining weight saw its data) or approximate (n/a: a single model).`,
    "",
    ppl,
    "",
    `Toy downstream tasks (accuracy %, 4 choices, chance 25 %, ${s.recipe.taskItems} items each; scored by likelihood, ensembles included — see lib/reproduce/tasks.ts):`,
    "",
    tasks,
    "",
    ...(b.flops && b.data
      ? [`Unrestricted MoE budgets: FLOP-matched ${b.flops.steps} steps (${b.flops.flopsRatio.toFixed(2)}× the owners' FLOPs, ${b.flops.dataRatio.toFixed(2)}× their closed data); data-matched ${b.data.steps} steps (${b.data.flopsRatio.toFixed(2)}× FLOPs, ${b.data.dataRatio.toFixed(2)}× data). Paper: 1× FLOPs / 0.5× data and 2× FLOPs / 1× data.`, ""]
      : []),
    `![${title}: average perplexity](${figDir}/${key}-avg-ppl.svg)`,
    "",
  ].join("\n");
}

export function renderMarkdown(s: Summary, figDir: string, opts: { reasons: boolean }): string {
  const r = s.recipe;
  const m = s.meta;
  const mc = { ...r.model };
  const partRows = Object.entries(s.parts).sort((a, b) => b[1].mean - a[1].mean);
  const perSeedTotal = meanSd(Object.values(s.seedSeconds));
  const top = partRows[0];
  const claimRows = s.claims.map((c) => [c.claim, c.paper, c.ours, c.verdict === "holds" ? "✅ holds" : c.verdict === "fails" ? "❌ fails" : "➖ mixed"]);
  const failing = s.claims.filter((c) => c.verdict !== "holds");
  const fig2 = (which: string) => s.figures.routing[which].layers.map((l) => `![Fig. 2, ${routingModelName(which)}, layer ${l}](${figDir}/${fig2File(which, l)})`).join("\n");
  const others = r.otherFlexRecipes;
  const ge = s.figures.geometry;
  const lines = [
    `# FlexOlmo at laptop scale: reproduction report (recipe "${r.name}")`,
    "",
    `Generated by \`${m.command}\` on ${m.date} — do not edit by hand; rerun to regenerate (finished seeds in \`results/\` are reused).`,
    "",
    "## Setup",
    "",
    `- **Command:** \`${m.command}\``,
    `- **Seeds:** ${s.seeds.join(", ")}${m.reusedSeeds.length ? ` (reused from earlier runs: ${m.reusedSeeds.join(", ")})` : ""}`,
    `- **Versions:** flexolmo-lab ${m.packageVersion}${m.commit ? ` (git ${m.commit.slice(0, 12)}${m.commit.includes(" + ") ? " + uncommitted changes" : ""})` : ""}, Node ${m.node}, TF.js ${m.tfjs}; backend ${[...new Set(s.engines)].join(" / ")}`,
    `- **Model:** preset "${r.preset}" with ${JSON.stringify(mc)}; batch ${r.train.batchSize ?? "preset"}, context ${r.train.seqLen ?? "preset"}, peak LR ${r.train.lr ?? "preset"}`,
    `- **Steps:** public ${r.publicSteps}; each dense expert and each FlexOlmo owner ${r.expertSteps}; router tuning ${r.rtSteps}; BTX router ${r.btxSteps}; each phase has its own cosine schedule with ${Math.round(100 * r.warmupFraction)} % warm-up`,
    `- **Evaluation:** ${r.evalWindows} test windows per domain (figures: ${r.figureWindows}); ${r.taskItems} items per toy task; domain embeddings from ${r.embedDocs} documents`,
    `- **Wall time:** ${(m.wallSeconds / 60).toFixed(1)} min for this invocation${m.reusedSeeds.length ? " (reused seeds cost nothing)" : ""}; per seed ${formatMeanSd({ ...perSeedTotal, mean: perSeedTotal.mean / 60, sd: perSeedTotal.sd === null ? null : perSeedTotal.sd / 60 }, 1)} min, so ${((perSeedTotal.mean * s.seeds.length) / 60).toFixed(1)} min for ${s.seeds.length > 1 ? `all ${s.seeds.length} seeds` : "its one seed"} (the issue's budget: ≤ 60 min for the default study on 2 cores, ≤ 10 min for --quick). The largest part: ${top ? `${top[0]} (${fmtSeconds(top[1])} per seed)` : "–"}.`,
    "",
    "What is shared: every seed trains ONE public model, one dense expert per domain and one FlexOlmo owner per domain and variant; Table 1 reuses the Table 2 models of its three domains. BTX, router tuning and the unrestricted MoEs are trained per table.",
    "",
    ...recipeSection(s),
    tableSection("Table 1 analogue (public + math + educational + code)", s.tables.table1, s, figDir, "table1"),
    tableSection("Table 2 analogue (all eight closed domains)", s.tables.table2, s, figDir, "table2"),
    "## Fig. 2 analogue: routing by domain",
    "",
    `Share of each expert in the top-k slots of each evaluation domain's test tokens, in the first, middle and last layer (dashed: uniform routing k/E). Table 2 models: the lab recipe without and with router tuning (k = ${s.figures.routing.flexolmo.k})${others.map((o) => `, then the ${o} recipe (k = ${s.figures.routing[`flexolmo:${o}`].k})`).join("")}.`,
    "",
    ...Object.keys(s.figures.routing).flatMap((w) => [`**${routingModelName(w)}**`, "", fig2(w), ""]),
    ...table1FigureSection(s),
    "## Fig. 3 analogue: quality vs number of active experts",
    "",
    `![Fig. 3](${figDir}/fig3-quality-vs-k.svg)`,
    "",
    mdTable(["k", ...s.figures.qualityVsK.domains, "avg"], s.figures.qualityVsK.ks.map((k, i) => {
      const p = (s.figures.qualityVsK.ppl as number[][]).map((row) => row[i]);
      return [String(k), ...p.map((x) => x.toFixed(2)), (p.reduce((a, b) => a + b, 0) / p.length).toFixed(2)];
    })),
    "",
    "## Fig. 4 analogue: the opt-out matrix",
    "",
    `Perplexity improvement (%; + = better, − = worse) on each evaluation domain when one expert is removed (rows), Table 2 models. Provenance: without router tuning the opt-out is **${s.figures.optOut.flexolmo.guarantee}** (every remaining parameter was trained without the removed data); after router tuning it is **${s.figures.optOut.rt.guarantee}** (RT updated every router row on proxies each owner's classifier chose).`,
    "",
    `![Fig. 4, no RT](${figDir}/fig4-optout-flexolmo.svg)`,
    "",
    `![Fig. 4, RT](${figDir}/fig4-optout-rt.svg)`,
    "",
    "## Router geometry: domain-embedding vs random init",
    "",
    `Mean cosine between the OWNER router rows (public row excluded), over all layers, after owner training (Table 1's merges, which have the random-init ablation): domain-embedding init ${formatMeanSd(ge.external.meanOwnerCos, 3)} (at start ${ge.external.meanOwnerCosInit.toFixed(3)}); random init ${formatMeanSd(ge.random.meanOwnerCos, 3)} (at start ${ge.random.meanOwnerCosInit.toFixed(3)}).`,
    "",
    `![geometry summary](${figDir}/geometry-summary.svg)`,
    "",
    `![geometry, domain-embedding init](${figDir}/geometry-external.svg) ![geometry, random init](${figDir}/geometry-random.svg)`,
    "",
    ...gainSection(s),
    ...privacySection(s, figDir),
    "## Honesty section: does the toy reproduce the paper's claims?",
    "",
    "Generated from the per-seed numbers (lib/reproduce/claims.ts): **holds** = every seed (and both tables, where both apply) agrees with the paper; **fails** = every seed disagrees; **mixed** = they disagree among themselves. Nothing in the setup was tuned to make a claim hold.",
    "",
    mdTable(["claim (paper)", "paper", "this run", "verdict"], claimRows),
    "",
    ...(opts.reasons && failing.length
      ? ["### Likely reasons where the toy disagrees", "", ...failing.flatMap((c) => [`- **${c.claim}** (${c.verdict}) — ${LIKELY_REASONS[c.id] ?? "no explanation written yet for this claim; see the numbers above."}`]), ""]
      : []),
    "## Wall time per part",
    "",
    `Mean seconds per seed (${s.seeds.length} seed${s.seeds.length > 1 ? "s" : ""}; per seed: ${Object.entries(s.seedSeconds).map(([k, v]) => `seed ${k} ${fmtSeconds(meanSd([v]))}`).join(", ")}).`,
    "",
    mdTable(["part", "seconds per seed", "share"], partRows.map(([p, v]) => [p, formatMeanSd(v, 1), `${((100 * v.mean) / Math.max(1e-9, perSeedTotal.mean)).toFixed(1)} %`])),
    "",
  ];
  return lines.join("\n");
}

/** What the FlexOlmo rows are: the lab recipe (main rows, ablations, RT, figures) and each other recipe beside it. */
function recipeSection(s: Summary): string[] {
  const lab = FLEX_RECIPES.lab;
  const t1 = s.tables.table1.domains.length, t2 = s.tables.table2.domains.length;
  return [
    "## FlexOlmo recipes in this report",
    "",
    `The rows "FlexOlmo, lab recipe", their router tuning, the ablations ("− no bias", "− random router init", "− no coordinated training") and the figures use the lab's recipe (lib/flex/recipes.ts; measurements in docs/recipes.md), which departs from the paper in ${lab.departures.length} settings: ${lab.departures.join("; ")}. The ablations keep the calibration on, so each removes one thing; ${s.recipe.table2Rows === "all" ? "they are in both tables" : "as in the paper, they are in Table 1 only (their owners are trained on Table 1's domains alone)"}.`,
    ...s.recipe.otherFlexRecipes.map((o) => `- Beside it, "FlexOlmo, ${o} recipe" (no RT and with RT): ${FLEX_RECIPES[o].summary.replace(/^the paper: /, "")}; k = ${FLEX_RECIPES[o].k(t1)} of ${t1 + 1} in Table 1 and ${FLEX_RECIPES[o].k(t2)} of ${t2 + 1} in Table 2.`),
    "",
  ];
}

/** Table 1's selectivity (every layer) and opt-out, lab recipe beside each other recipe: mean over seeds. */
function table1FigureSection(s: Summary): string[] {
  const f = s.figures.table1;
  const out: string[] = [
    "### Table 1's merged models: selectivity and opt-out",
    "",
    `Cells: share of the domain's test tokens that send a top-k slot to the domain's OWN expert / to the public expert, per layer (mean of ${s.seeds.length} seed${s.seeds.length > 1 ? "s" : ""}). A selective merge sends each closed domain's tokens to its own owner and public tokens to the public expert.`,
    "",
  ];
  for (const key of Object.keys(f.routing)) {
    const r = f.routing[key];
    const fr = r.fractions as number[][][];
    const pub = r.experts.indexOf("public");
    out.push(`**${routingModelName(key)}** (k = ${r.k})`, "", mdTable(["domain", ...r.layers.map((l) => `layer ${l}`)], r.domains.map((d, di) => {
      const own = r.experts.indexOf(d);
      return [d, ...r.layers.map((_, li) => `${own >= 0 && d !== "public" ? fr[di][li][own].toFixed(2) : "–"} / ${fr[di][li][pub].toFixed(2)}`)];
    })), "");
  }
  out.push("Perplexity improvement (%; + = better, − = worse) on each column when one expert is removed (rows; exact opt-out, no RT):", "");
  for (const key of Object.keys(f.optOut)) {
    const o = f.optOut[key];
    // Shown in the improvement convention (+ = better): −Δ, where the results keep Δ (+ = worse).
    const d = (o.deltaPct as number[][]).map((r) => r.map((v) => (v === 0 ? 0 : -v)));
    out.push(`**${routingModelName(key)}**`, "", mdTable(["removed", ...o.domains], o.removed.map((e, i) => [e, ...o.domains.map((_, j) => `${d[i][j] >= 0 ? "+" : ""}${d[i][j].toFixed(1)}`)])), "");
  }
  return out;
}

function fmtSeconds(m: MeanSd): string {
  return m.mean >= 120 ? `${(m.mean / 60).toFixed(1)} min` : `${m.mean.toFixed(1)} s`;
}

const GAIN_LABELS: Record<string, string> = {
  public: "public model (no training on the domain)",
  dense: "dense expert (all parameters)",
  owner: "FlexOlmo owner (its FFN, router row and bias)",
  ffnOnly: "dense, FFNs only",
  embedHeadOnly: "dense, embeddings + LM head only",
};

function gainSection(s: Summary): string[] {
  const g = s.gainLocation;
  const domains = Object.keys(g);
  if (domains.length === 0) return [];
  const variants = Object.keys(g[domains[0]]);
  return [
    "## Diagnostic: where does the domain gain live at this scale?",
    "",
    `The public model continued on each Table 1 domain for ${s.recipe.expertSteps} steps on the dense expert's batches, with different parts trainable. Cells: test perplexity on the domain / on public; in brackets the share of the dense expert's log-perplexity gain on the domain. FlexOlmo owners may train only their FFN (plus router row and bias), so this bounds what coordinated training can capture here. (In OLMo-2 7B the FFNs hold ~60 % of the parameters; in this toy model ${ffnShare(s)}.)`,
    "",
    mdTable(["trainable", ...domains], variants.map((v) => [GAIN_LABELS[v] ?? v, ...domains.map((d) => `${fmtPpl(g[d][v].domain)} / ${fmtPpl(g[d][v].public)} (${fmtPct(g[d][v].shareOfDenseGain)} %)`)])),
    "",
    ...ffnBtmLine(s),
  ];
}

/**
 * How much of the gap between FlexOlmo (RT) and BTM is the dense experts' embedding and LM-head
 * training: BTM over the FFN-only experts of the table above, beside BTM and FlexOlmo (Table 1).
 */
function ffnBtmLine(s: Summary): string[] {
  const rows = s.tables.table1.rows;
  const get = (k: string) => rows.find((r) => r.key === k);
  const [bf, b, rt, flex] = [get("btm-ffn"), get("btm"), get("flexolmo-rt"), get("flexolmo")];
  if (!bf || !b || !rt || !flex) return [];
  const gap = rt.avgPpl.mean - b.avgPpl.mean; // > 0: BTM better
  const closed = gap > 0 ? (100 * (bf.avgPpl.mean - b.avgPpl.mean)) / gap : NaN;
  return [
    `BTM over these FFN-only experts (Table 1, "BTM over FFN-only dense experts"): average perplexity ${fmtPpl(bf.avgPpl)}, against ${fmtPpl(b.avgPpl)} for BTM over full dense experts and ${fmtPpl(rt.avgPpl)} / ${fmtPpl(flex.avgPpl)} for FlexOlmo (lab recipe) with / without RT.${Number.isFinite(closed) ? ` Restricting BTM's experts to their FFNs, as FlexOlmo's owners are, takes away ${closed.toFixed(0)} % of BTM's lead over FlexOlmo (RT) (means over seeds).` : " FlexOlmo (RT) is not behind BTM here, so there is no gap to attribute."}`,
    "",
  ];
}

/** The FFNs' share of a dense model's parameters under the recipe (the rest: attention, norms, embeddings, LM head). */
function ffnShare(s: Summary): string {
  const c = { ...MODEL_PRESETS[s.recipe.preset], ...s.recipe.model };
  const ffn = c.nLayers * 3 * c.dModel * c.dFf;
  const hd = c.dModel / c.nHeads;
  const attn = c.nLayers * (2 * c.dModel * c.nHeads * hd + 2 * c.dModel * c.nKvHeads * hd);
  const embHead = 2 * c.vocabSize * c.dModel;
  return `they hold ${((100 * ffn) / (ffn + attn + embHead)).toFixed(0)} % and the embeddings + LM head ${((100 * embHead) / (ffn + attn + embHead)).toFixed(0)} %`;
}

function privacySection(s: Summary, figDir: string): string[] {
  const p = s.privacy;
  if (!p) return [];
  const pr = s.recipe.privacy;
  return [
    "## Privacy (§5.3): training-data extraction",
    "",
    `Prefixes of ${p.documents} math TRAINING documents (${pr.prefixTokens}-token prefix, ${pr.continuationTokens}-token continuation; paper: 32 and 256), ${pr.samples} samples each with top-k 50, top-p 0.95, temperature 1; a document is extracted when some sample reaches normalised Levenshtein similarity ≥ 0.9. Seeds: ${p.seeds.join(", ")}. The over-fitted sanity model is the public model trained ${pr.overfitSteps} steps on exactly these documents. DP-SGD was not run (optional in the issue).`,
    "",
    mdTable(["model", "extracted %", "mean best similarity"], p.models.map((m) => [m.model, fmtPct(m.rate), formatMeanSd(m.meanBest, 3)])),
    "",
    `![extraction similarity](${figDir}/privacy-similarity.svg)`,
    "",
    `Example (seed ${p.seeds[0]}, first document) — prefix: \`${oneLine(p.example.prefix)}\`; true continuation: \`${oneLine(p.example.truth)}\`; closest samples: ${Object.entries(p.example.samples).map(([k, v]) => `${k}: \`${oneLine(v)}\``).join("; ")}.`,
    "",
  ];
}

function oneLine(x: string): string {
  return x.replace(/\s+/g, " ").replace(/`/g, "'").trim().slice(0, 160);
}

export type { RowResult };
