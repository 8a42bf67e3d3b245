/**
 * The honesty section: each claim of the paper, tested against the toy numbers, generated from the
 * per-seed results (never hand-edited). A verdict is
 *
 *   holds   every seed agrees with the paper (and, for two-table claims, both tables do);
 *   fails   every seed disagrees;
 *   mixed   seeds (or tables) disagree, or the test cannot separate the two sides.
 *
 * Perplexity comparisons are paired: every row of a seed is scored on the same test windows, so
 * "a beats b" is decided per seed, then counted over seeds. The thresholds that a few qualitative
 * claims need are stated in the claim's own text.
 */
import type { OptOutFigure, RoutingFigure, SeedResult, TableResult } from "./seed";
import { meanSd, formatMeanSd } from "./stats";

export type Verdict = "holds" | "fails" | "mixed";

export interface Claim {
  id: string;
  /** The paper's claim, in one sentence. */
  claim: string;
  /** The paper's numbers behind it. */
  paper: string;
  /** Our numbers (mean ± sd over seeds, and per-seed agreement). */
  ours: string;
  verdict: Verdict;
}

type TableKey = "table1" | "table2";
const TABLES: TableKey[] = ["table1", "table2"];
const NAMES: Record<TableKey, string> = { table1: "T1", table2: "T2" };

function row(t: TableResult, key: string) {
  const r = t.rows.find((x) => x.key === key);
  if (!r) throw new Error(`claims: table has no row "${key}".`);
  return r;
}

/** Per seed: is `better` true? → verdict (all true: holds, all false: fails, else mixed). */
export function verdictOf(perSeed: readonly boolean[]): Verdict {
  if (perSeed.length === 0) throw new Error("verdictOf: no seeds.");
  if (perSeed.every(Boolean)) return "holds";
  if (perSeed.every((x) => !x)) return "fails";
  return "mixed";
}

/** Combine verdicts (two tables, or several sub-claims): equal → that verdict, else mixed. */
export function combine(vs: readonly Verdict[]): Verdict {
  return vs.every((v) => v === vs[0]) ? vs[0] : "mixed";
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const ms = (xs: number[], digits = 2) => formatMeanSd(meanSd(xs), digits);
const agree = (xs: boolean[]) => `${xs.filter(Boolean).length}/${xs.length} seeds`;

/**
 * "a has lower average perplexity than b" per seed, in each table; with the relative difference
 * (b − a)/b in %, positive = a better.
 */
function avgBetter(seeds: readonly SeedResult[], a: string, b: string): { verdict: Verdict; text: string } {
  const parts: string[] = [];
  const vs: Verdict[] = [];
  // Only the tables that have both rows (the ablations may be in Table 1 alone, as in the paper).
  const has = (t: TableKey) => seeds.every((s) => [a, b].every((k) => s.tables[t].rows.some((x) => x.key === k)));
  const tables = TABLES.filter(has);
  if (tables.length === 0) throw new Error(`claims: no table has both rows "${a}" and "${b}".`);
  for (const t of tables) {
    const ok = seeds.map((s) => row(s.tables[t], a).avgPpl < row(s.tables[t], b).avgPpl);
    const rel = seeds.map((s) => (100 * (row(s.tables[t], b).avgPpl - row(s.tables[t], a).avgPpl)) / row(s.tables[t], b).avgPpl);
    const av = seeds.map((s) => row(s.tables[t], a).avgPpl), bv = seeds.map((s) => row(s.tables[t], b).avgPpl);
    parts.push(`${NAMES[t]}: avg ppl ${ms(av)} vs ${ms(bv)}, Δ = ${ms(rel, 1)} % (> 0: the first is better; better in ${agree(ok)})`);
    vs.push(verdictOf(ok));
  }
  return { verdict: combine(vs), text: parts.join("; ") };
}

/**
 * Share of (closed domain, layer) cells in which the domain's own expert gets the largest share of
 * top-k slots among the OWNER experts (the public expert left out): how selective the routers are.
 */
export function ownExpertTop(x: Pick<RoutingFigure, "experts" | "domains" | "layers" | "fractions">): { top: number; cells: number } {
  let top = 0, cells = 0;
  x.domains.forEach((d, di) => {
    const own = x.experts.indexOf(d);
    if (d === "public" || own < 0) return;
    x.layers.forEach((_, li) => {
      cells++;
      const shares = x.fractions[di][li];
      if (x.experts.every((e, j) => j === own || e === "public" || shares[j] < shares[own])) top++;
    });
  });
  return { top, cells };
}

/** Per removed expert that has its own column: is that column the one hit hardest? */
export function hitsOwnHardest(x: Pick<OptOutFigure, "removed" | "domains" | "deltaPct">): { hardest: number; experts: number } {
  const own = x.removed.filter((e) => x.domains.includes(e));
  const hardest = own.filter((e) => {
    const ri = x.removed.indexOf(e), di = x.domains.indexOf(e);
    return x.deltaPct[ri].every((v, j) => j === di || v < x.deltaPct[ri][di]);
  }).length;
  return { hardest, experts: own.length };
}

/** The baselines that merge separately trained dense experts (the paper's "merging baselines"). */
export const MERGING_BASELINES = ["soup-uniform", "soup-weighted", "btm", "prompt-routing", "btx"];

/** The recipes the seeds ran beside the lab's ("flexolmo:<name>" rows). */
function otherRecipes(seeds: readonly SeedResult[]): string[] {
  return seeds[0].tables.table1.rows.map((r) => /^flexolmo:(.+)$/.exec(r.key)?.[1]).filter((x): x is string => !!x);
}

export function buildClaims(seeds: readonly SeedResult[]): Claim[] {
  if (seeds.length === 0) throw new Error("buildClaims: no seeds.");
  const claims: Claim[] = [];
  const add = (id: string, claim: string, paper: string, r: { verdict: Verdict; text: string }) => claims.push({ id, claim, paper, ours: r.text, verdict: r.verdict });

  add("no-rt-vs-public", "FlexOlmo without router tuning already improves on the public model (lab recipe).", "Avg 36.9 → 46.7 (T1), 42.4 → 51.3 (T2).", avgBetter(seeds, "flexolmo", "public"));
  for (const o of otherRecipes(seeds)) {
    add(`no-rt-vs-public:${o}`, `The same with the ${o}'s recipe (no router calibration on public text, β₀ = −1, k = half the experts).`, "As above: the paper's own recipe.", avgBetter(seeds, `flexolmo:${o}`, "public"));
  }
  {
    const parts: string[] = [];
    const vs: Verdict[] = [];
    for (const t of TABLES) {
      const domains = seeds[0].tables[t].domains;
      const improved = seeds.map((s) => domains.filter((d) => row(s.tables[t], "flexolmo").ppl[d] < row(s.tables[t], "public").ppl[d]).length);
      const pubCost = seeds.map((s) => (100 * (row(s.tables[t], "flexolmo").ppl.public - row(s.tables[t], "public").ppl.public)) / row(s.tables[t], "public").ppl.public);
      parts.push(`${NAMES[t]}: own domains improved ${improved.map((x) => `${x}/${domains.length}`).join(", ")} (per seed); public text ${ms(pubCost, 1)} % (> 0: worse)`);
      vs.push(verdictOf(improved.map((x) => x === domains.length)));
    }
    add("no-rt-domains", "Without router tuning, the merged model (lab recipe) improves every closed domain over the public model.", "Table 1, no RT vs the public model: Math2 8.1 → 51.5, Code4 1.0 → 18.2 (task scores; MMLU, the educational proxy, 57.0 → 58.1).", { verdict: combine(vs), text: parts.join("; ") });
  }
  add("rt-vs-public", "FlexOlmo (with RT) improves on the public model on average.", "Avg 36.9 → 47.8 (T1), 42.4 → 52.4 (T2); the abstract's '41 %' is not reproducible from the tables (docs/method.md §8.3).", avgBetter(seeds, "flexolmo-rt", "public"));

  {
    const parts: string[] = [];
    const vs: Verdict[] = [];
    for (const t of TABLES) {
      // The merging baselines the table has (the paper's Table 2 has BTM alone).
      const bs = MERGING_BASELINES.filter((b) => seeds[0].tables[t].rows.some((x) => x.key === b));
      const ok = seeds.map((s) => bs.every((b) => row(s.tables[t], "flexolmo-rt").avgPpl < row(s.tables[t], b).avgPpl));
      const bestRel = seeds.map((s) => {
        const best = Math.min(...bs.map((b) => row(s.tables[t], b).avgPpl));
        return (100 * (best - row(s.tables[t], "flexolmo-rt").avgPpl)) / best;
      });
      parts.push(`${NAMES[t]}: vs the best merging baseline of each seed ${ms(bestRel, 1)} % (${agree(ok)} beat ${bs.length === 1 ? bs[0].toUpperCase() : `all ${bs.length}`})`);
      vs.push(verdictOf(ok));
    }
    add("rt-vs-baselines", "FlexOlmo (with RT) beats every merging baseline (soups, BTM, prompt routing, BTX).", "+10.1 % over the strongest, BTM: 47.8 vs 43.4 (T1), 52.4 vs 47.6 (T2).", { verdict: combine(vs), text: parts.join("; ") });
  }

  {
    const t: TableKey = "table1";
    const ok = seeds.map((s) => MERGING_BASELINES.filter((b) => b !== "btm").every((b) => row(s.tables[t], "btm").avgPpl < row(s.tables[t], b).avgPpl));
    const best = seeds.map((s) => MERGING_BASELINES.reduce((x, b) => (row(s.tables[t], b).avgPpl < row(s.tables[t], x).avgPpl ? b : x)));
    add("btm-strongest", "BTM (top-2) is the strongest merging baseline.", "T1: BTM 43.4 vs soups 39.6 / 42.2, prompt routing 40.8 / 40.0, BTX 40.0.", { verdict: verdictOf(ok), text: `T1: best merging baseline per seed: ${best.map((b) => b).join(", ")} (${agree(ok)} BTM)` });
  }

  add("no-rt-vs-btm", "FlexOlmo without router tuning already beats BTM.", "46.7 vs 43.4 (T1), 51.3 vs 47.6 (T2).", avgBetter(seeds, "flexolmo", "btm"));
  add("rt-helps", "Router tuning on public proxies improves FlexOlmo.", "46.7 → 47.8 (T1), 51.3 → 52.4 (T2).", avgBetter(seeds, "flexolmo-rt", "flexolmo"));
  add("bias-helps", "The negative expert bias helps (removing it hurts).", "46.7 vs 45.8 without bias (T1).", avgBetter(seeds, "flexolmo", "no-bias"));
  add("init-helps", "Domain-embedding router init helps (random init, no bias, is worse).", "46.7 vs 44.4 (T1).", avgBetter(seeds, "flexolmo", "random-init"));
  add("coordination-essential", "Coordinated training is essential: merging uncoordinated dense experts the same way is much worse.", "46.7 vs 38.8 (T1).", avgBetter(seeds, "flexolmo", "no-coordination"));
  add("beats-flop-moe", "FlexOlmo (with RT) beats the FLOP-matched unrestricted MoE.", "47.8 vs 46.3 (T1).", avgBetter(seeds, "flexolmo-rt", "moe-flops"));
  add("data-moe-upper-bound", "The data-matched unrestricted MoE (pooled data, 2× FLOPs) beats FlexOlmo: an upper bound.", "51.5 vs 47.8 (T1).", avgBetter(seeds, "moe-data", "flexolmo-rt"));

  {
    // Dense experts: better than the public model on their own domain, worse on the others (public included).
    const parts: string[] = [];
    const vs: Verdict[] = [];
    const t: TableKey = "table2";
    const domains = seeds[0].tables[t].domains;
    const own = seeds.map((s) => domains.every((d) => row(s.tables[t], `dense:${d}`).ppl[d] < row(s.tables[t], "public").ppl[d]));
    const other = seeds.map((s) => {
      const cols = s.tables[t].columns;
      let worse = 0, n = 0;
      for (const d of domains) for (const c of cols) if (c !== d) {
        n++;
        if (row(s.tables[t], `dense:${d}`).ppl[c] > row(s.tables[t], "public").ppl[c]) worse++;
      }
      return worse / n;
    });
    parts.push(`T2: every dense expert beats the public model on its own domain in ${agree(own)}; on the other columns a dense expert is worse than the public model in ${ms(other.map((x) => 100 * x), 0)} % of (expert, column) pairs`);
    vs.push(verdictOf(own), verdictOf(other.map((x) => x > 0.5)));
    add("dense-specialise", "Each dense expert is strong on its own domain and weaker elsewhere (worse than the public model on most other domains).", "e.g. math expert: Math2 8.1 → 50.4 but MC9 68.4 → 63.8, GEN5 58.8 → 46.3 (T1).", { verdict: combine(vs), text: parts.join("; ") });
  }

  {
    const parts: string[] = [];
    const vs: Verdict[] = [];
    for (const t of TABLES) {
      const domains = seeds[0].tables[t].domains;
      const frac = seeds.map((s) => domains.filter((d) => row(s.tables[t], "flexolmo-rt").ppl[d] < row(s.tables[t], "btm").ppl[d]).length / domains.length);
      const codeBtm = seeds.map((s) => row(s.tables[t], "btm").ppl.code < row(s.tables[t], "flexolmo-rt").ppl.code);
      parts.push(`${NAMES[t]}: FlexOlmo beats BTM on ${ms(frac.map((x) => 100 * x), 0)} % of the closed domains; BTM better on code in ${agree(codeBtm)}`);
      vs.push(verdictOf(frac.map((x) => x > 0.5)));
    }
    add("per-domain-vs-btm", "FlexOlmo beats BTM on most domains; code is the exception where BTM wins.", "T1: FlexOlmo ahead on 7 of 8 task categories, BTM ahead on Code4 (22.3 vs 17.3); T2 likewise (24.0 vs 17.2).", { verdict: combine(vs), text: parts.join("; ") + " (verdict on 'most domains')" });
  }

  // ---- Fig. 2: routing
  {
    const f = seeds.map((s) => s.figures.routing.flexolmo);
    const f0 = f[0];
    const share = (x: Pick<RoutingFigure, "experts" | "domains" | "layers" | "fractions">) => {
      const o = ownExpertTop(x);
      return o.top / Math.max(1, o.cells);
    };
    const t1 = seeds.map((s) => share(s.figures.table1.routing.flexolmo));
    const t2 = f.map(share);
    const t1Others = otherRecipes(seeds).map((o) => `; ${o} recipe: ${ms(seeds.map((s) => 100 * share(s.figures.table1.routing[`flexolmo:${o}`])), 0)} %`).join("");
    add("routing-own-expert", "Tokens of a domain are routed mostly to that domain's expert (Fig. 2).", "Qualitative (Fig. 2): math tokens → math expert, etc.", {
      verdict: combine([verdictOf(t1.map((x) => x > 0.5)), verdictOf(t2.map((x) => x > 0.5))]),
      text: `FlexOlmo, lab recipe, no RT: the domain's own expert has the largest share among owner experts in ${ms(t1.map((x) => 100 * x), 0)} % of (domain, layer) cells in T1 (every layer; ≥ 75 % in ${agree(t1.map((x) => x >= 0.75))}${t1Others}) and ${ms(t2.map((x) => 100 * x), 0)} % in T2 (first, middle, last layer); verdict on 'most cells' (> 50 %) in both tables`,
    });
    const pubIdx = f0.experts.indexOf("public");
    const pubShare = f.map((x) => {
      const v: number[] = [];
      x.fractions.forEach((dl) => dl.forEach((sh) => v.push(sh[pubIdx])));
      return v.reduce((a, b) => a + b, 0) / v.length;
    });
    const uniform = f0.k / f0.experts.length;
    add("routing-public-frequent", "The public expert is activated frequently (above uniform routing).", "Qualitative (Fig. 2), attributed to the coordinated training.", {
      verdict: verdictOf(pubShare.map((x) => x > uniform)),
      text: `T2 FlexOlmo (no RT): the public expert takes a top-${f0.k} slot for ${ms(pubShare.map((x) => 100 * x), 1)} % of tokens (mean over domains and layers); uniform k/E = ${pct(uniform)}`,
    });
    const tv = f.map((x) => {
      const first = 0, last = x.layers.length - 1;
      const d = x.fractions.map((dl) => 0.5 * dl[first].reduce((s, v, j) => s + Math.abs(v - dl[last][j]), 0) / x.k);
      return d.reduce((a, b) => a + b, 0) / d.length;
    });
    add("routing-layers-differ", "Different layers use different expert combinations (we call them different when ≥ 10 % of the top-k slot mass moves between the first and the last layer).", "Qualitative (Fig. 2).", {
      verdict: verdictOf(tv.map((x) => x >= 0.1)),
      text: `T2 FlexOlmo (no RT): slot mass that differs between the first and last layer, mean over domains: ${ms(tv.map((x) => 100 * x), 1)} %`,
    });
  }

  // ---- Fig. 3: quality vs k
  {
    const q = seeds.map((s) => s.figures.qualityVsK);
    const E = q[0].ks.length;
    const half = Math.ceil(E / 2);
    const avgAt = (x: (typeof q)[number], k: number) => x.ppl.reduce((s, r) => s + r[x.ks.indexOf(k)], 0) / x.ppl.length;
    const gainLow = q.map((x) => (avgAt(x, 1) - avgAt(x, half)) / avgAt(x, 1));
    const gainHigh = q.map((x) => (avgAt(x, half) - avgAt(x, E)) / avgAt(x, half));
    const ok = q.map((_, i) => gainLow[i] > 0 && gainLow[i] > gainHigh[i]);
    add("k-plateau", `Quality improves with the number of active experts up to about half of them, then plateaus (we test: the gain from k = 1 to k = ${half} exceeds the gain from k = ${half} to k = ${E}).`, "Fig. 3: MMLU rises up to k = 4 of 8, then plateaus.", {
      verdict: verdictOf(ok),
      text: `T2 FlexOlmo (no RT), avg ppl: k = 1 → ${half}: ${ms(gainLow.map((x) => 100 * x), 1)} % better; k = ${half} → ${E}: ${ms(gainHigh.map((x) => 100 * x), 1)} % better`,
    });
  }

  // ---- Fig. 4: opt-out
  {
    const parts: string[] = [];
    const vs: Verdict[] = [];
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const figs: Array<[string, (s: SeedResult) => OptOutFigure]> = [
      ["T1, no RT (exact opt-out)", (s) => s.figures.table1.optOut.flexolmo],
      ["T2, no RT (exact opt-out)", (s) => s.figures.optOut.flexolmo],
      ["T2, with RT (approximate opt-out)", (s) => s.figures.optOut.rt],
    ];
    for (const [name, get] of figs) {
      const o = seeds.map(get);
      const own = (x: OptOutFigure) => x.removed.filter((e) => x.domains.includes(e));
      const diag = o.map((x) => mean(own(x).map((e) => x.deltaPct[x.removed.indexOf(e)][x.domains.indexOf(e)])));
      const off = o.map((x) => mean(x.removed.flatMap((e, ri) => x.domains.filter((d) => d !== e).map((d) => x.deltaPct[ri][x.domains.indexOf(d)]))));
      // Share of removed experts whose own domain is the column hit hardest.
      const hardest = o.map((x) => {
        const h = hitsOwnHardest(x);
        return h.hardest / Math.max(1, h.experts);
      });
      const ok = o.map((_, i) => diag[i] > off[i] && hardest[i] > 0.5);
      parts.push(`${name}: removing an expert raises its own domain's ppl by ${ms(diag, 1)} % and the other columns' by ${ms(off, 2)} % on average; its own domain is the column hit hardest for ${ms(hardest.map((x) => 100 * x), 0)} % of the experts (every expert in ${agree(hardest.map((x) => x === 1))})`);
      vs.push(verdictOf(ok));
    }
    add("opt-out", "Removing an expert mainly hurts its own domain; other domains barely change (Fig. 4). We test: the own-domain Δ exceeds the mean Δ elsewhere, and the own domain is hit hardest for most experts.", "Fig. 4: large drop on the removed expert's domain, small elsewhere.", { verdict: combine(vs), text: `lab recipe; ${parts.join("; ")}` });
  }

  // ---- Router geometry
  {
    const meanOff = (g: { experts: string[]; learned: (number | null)[][][] }) => {
      const v: number[] = [];
      g.learned.forEach((c) => g.experts.forEach((a, i) => g.experts.forEach((b, j) => {
        if (i < j && a !== "public" && b !== "public" && c[i][j] !== null) v.push(c[i][j] as number);
      })));
      return v.reduce((s, x) => s + x, 0) / v.length;
    };
    const ext = seeds.map((s) => meanOff(s.figures.geometry.external));
    const rnd = seeds.map((s) => meanOff(s.figures.geometry.random));
    add("random-init-collapse", "With random router init the learned router rows collapse together (more similar than with domain-embedding init).", "§3 / Table 3: random init makes the rows very similar; merging then suffers.", {
      verdict: verdictOf(seeds.map((_, i) => rnd[i] > ext[i])),
      text: `T1, mean cosine between owner router rows (all layers): random init ${ms(rnd, 3)} vs domain-embedding init ${ms(ext, 3)}`,
    });
  }

  // ---- Privacy
  const ps = seeds.filter((s) => s.privacy);
  if (ps.length) {
    const rate = (s: SeedResult, i: number) => s.privacy!.models[i].rate;
    const sim = (s: SeedResult, i: number) => s.privacy!.models[i].meanBest;
    const names = ps[0].privacy!.models.map((m) => m.model);
    const line = names.map((n, i) => `${n} ${ms(ps.map((s) => 100 * rate(s, i)), 1)} % (similarity ${ms(ps.map((s) => sim(s, i)), 2)})`).join("; ");
    const [PUB, DENSE, FLEX, OVER] = [0, 1, 2, 3];
    add("privacy-sanity", "Sanity check: a model over-fitted on the tested documents is extracted often.", "60 % after 100 epochs on a small set.", { verdict: verdictOf(ps.map((s) => rate(s, OVER) >= 0.5)), text: `extraction rate (≥ 0.9 similarity): ${line}; verdict on ≥ 50 %` });
    add("privacy-public", "The public model (which never saw the math data) extracts almost nothing.", "0.1 %.", { verdict: verdictOf(ps.map((s) => rate(s, PUB) <= rate(s, DENSE) && rate(s, PUB) < 0.05)), text: `public ${ms(ps.map((s) => 100 * rate(s, PUB)), 1)} % vs dense math expert ${ms(ps.map((s) => 100 * rate(s, DENSE)), 1)} % (verdict: < 5 % and not above the dense expert)` });
    const bothZero = ps.every((s) => rate(s, DENSE) === 0 && rate(s, FLEX) === 0);
    const okRate = ps.map((s) => rate(s, FLEX) <= rate(s, DENSE));
    const okSim = ps.map((s) => sim(s, FLEX) <= sim(s, DENSE));
    add("privacy-flexolmo", "FlexOlmo with the math expert leaks less than the dense math expert.", "0.7 % vs 1.6 %.", {
      verdict: bothZero ? "mixed" : verdictOf(okRate),
      text: bothZero
        ? `neither extracts any document (0 % both), so the rates cannot separate them; mean best similarity FlexOlmo ${ms(ps.map((s) => sim(s, FLEX)), 3)} vs dense ${ms(ps.map((s) => sim(s, DENSE)), 3)} (FlexOlmo lower in ${agree(okSim)})`
        : `FlexOlmo ${ms(ps.map((s) => 100 * rate(s, FLEX)), 1)} % vs dense ${ms(ps.map((s) => 100 * rate(s, DENSE)), 1)} % (FlexOlmo not higher in ${agree(okRate)}); mean best similarity ${ms(ps.map((s) => sim(s, FLEX)), 3)} vs ${ms(ps.map((s) => sim(s, DENSE)), 3)}`,
    });
  }
  return claims;
}
