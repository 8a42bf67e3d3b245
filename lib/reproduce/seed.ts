/**
 * One seed of the reproduction: train every model once, build both tables from them, run the
 * figure analyses and the privacy test, and return plain numbers (the seed file's content).
 *
 * What is trained once per seed and shared by both tables (Table 1's domains ⊂ Table 2's):
 *   the public model; a dense expert per domain; a FlexOlmo owner per domain for each owner variant:
 *   the main recipe's (the lab's: FlexOlmo, − no bias, − random router init) and, beside it, each
 *   recipe of `recipe.otherFlexRecipes` (the paper's: FlexOlmo only). Merges, soups and ensembles of
 *   a table use the subset of these that belongs to its domains.
 * What is trained per table (its training depends on the domain set): the BTX router, the router
 * tuning (FlexOlmo RT, per recipe) and the two unrestricted MoEs.
 *
 * Each training phase has its own LR schedule spanning exactly its steps (warm-up = the recipe's
 * fraction of them): every `train` call lays out its own schedule (lib/train/session.ts).
 */
import { FlexModel } from "../flex/model";
import { lab as makeLab } from "../flex/lab";
import type { LabContext } from "../flex/context";
import type { OwnerExpert } from "../flex/owner";
import type { PublicModel } from "../flex/public";
import { trainOwners } from "../flex/train-owners";
import { backendReport } from "../backend";
import { merge } from "../flex/merge";
import { tuneRouter } from "../flex/tune";
import { denseExpert, type DenseExpert } from "../flex/baselines/dense";
import { soup } from "../flex/baselines/soup";
import { Btm, LikelihoodSoup, PromptRouting } from "../flex/baselines/ensembles";
import { btx, naiveMerge } from "../flex/baselines/upcycle";
import { unrestrictedBudget, unrestrictedMoE, type MoeBudget, type MoeMatch } from "../flex/baselines/moe";
import { FLEX_RECIPES, type OwnerRecipe } from "../flex/recipes";
import { ownerBatchSeed } from "../flex/owner";
import { ownerTraining } from "../train/config";
import { resumable, TrainingSession } from "../train/session";
import type { FreezeSpec } from "../train/freeze";
import type { TrainRecord } from "../flex/records";
import { disposeParams } from "../model/model";
import { routing } from "../inspect/routing";
import { qualityVsK, optOutMatrix } from "../inspect/quality";
import { routerGeometry } from "../inspect/geometry";
import { cosineMatrix } from "../inspect/aggregate";
import type { Recipe } from "./recipe";
import { recipeKey, warmupFor } from "./recipe";
import { buildTasks, scoreTasks, scorerOf, type TaskItem } from "./tasks";
import { extraction, extractionDocs, overfitModel } from "./privacy";

/** Table rows, in the paper's order. Dense experts are one row per domain ("dense:<domain>"). */
export const ROW_LABELS: Record<string, string> = {
  public: "public model",
  "soup-uniform": "model soup (uniform)",
  "soup-weighted": "model soup (weighted)",
  btm: "BTM (top-2)",
  "btm-ffn": "BTM over FFN-only dense experts (diagnostic)",
  "prompt-routing": "prompt routing",
  btx: "BTX",
  flexolmo: "FlexOlmo, lab recipe, no RT",
  "no-bias": "− no bias",
  "random-init": "− random router init (no bias)",
  "no-coordination": "− no coordinated training",
  "flexolmo-rt": "FlexOlmo, lab recipe, with RT",
  "moe-flops": "unrestricted MoE, FLOP-matched",
  "moe-data": "unrestricted MoE, data-matched",
};

/** The lab recipe's ablation rows (each removes one thing from its FlexOlmo). */
export const ABLATION_ROWS = ["no-bias", "random-init", "no-coordination"] as const;

/**
 * Row keys of a table over `domains`, in order. The lab recipe's rows are "flexolmo", its ablations
 * and "flexolmo-rt"; each other recipe adds "flexolmo:<name>" and "flexolmo-rt:<name>" before them.
 * `diagnostics`: Table 1's "BTM over FFN-only dense experts" (the experts of the gain diagnostic).
 * `full` false: the paper's Table 2 — public, dense experts, BTM and the FlexOlmo rows only.
 */
export function rowKeys(domains: readonly string[], others: readonly string[] = [], diagnostics = false, full = true): string[] {
  const flexRows = [...others.flatMap((o) => [`flexolmo:${o}`, `flexolmo-rt:${o}`]), "flexolmo", ...(full ? ABLATION_ROWS : []), "flexolmo-rt"];
  if (!full) return ["public", ...domains.map((d) => `dense:${d}`), "btm", ...(diagnostics ? ["btm-ffn"] : []), ...flexRows];
  return ["public", ...domains.map((d) => `dense:${d}`), "soup-uniform", "soup-weighted", "btm", ...(diagnostics ? ["btm-ffn"] : []), "prompt-routing", "btx", ...flexRows, "moe-flops", "moe-data"];
}

/** Whether a table has every row (Table 1 always; Table 2 unless the recipe keeps the paper's layout). */
export function isFullTable(r: Pick<Recipe, "table2Rows">, table: "table1" | "table2"): boolean {
  return table === "table1" || r.table2Rows === "all";
}

export function rowLabel(key: string): string {
  if (key.startsWith("dense:")) return `dense expert: ${key.slice(6)}`;
  const m = /^(flexolmo|flexolmo-rt):(.+)$/.exec(key);
  if (m) return `FlexOlmo, ${m[2]} recipe, ${m[1] === "flexolmo" ? "no RT" : "with RT"}`;
  const l = ROW_LABELS[key];
  if (!l) throw new Error(`Unknown table row "${key}".`);
  return l;
}

/** Task names of a table over `domains` (cloze per column; math answers when math is a domain). */
export function taskNames(domains: readonly string[]): string[] {
  return [...domains, "public"].flatMap((d) => [`cloze:${d}`, ...(d === "math" ? ["math-answers", "math-answers:heldout"] : [])]);
}

export interface RowResult {
  key: string;
  label: string;
  /** Test perplexity per column (the table's domains, then public). */
  ppl: Record<string, number>;
  /** Mean perplexity over the columns (each domain counts once). */
  avgPpl: number;
  /** Toy task accuracy per task. */
  tasks: Record<string, number>;
  /** Mean accuracy over the tasks. */
  avgTask: number;
  optOut: string;
}

export interface TableResult {
  domains: string[];
  columns: string[];
  tasks: string[];
  k: number;
  rows: RowResult[];
  /** The unrestricted MoEs' budgets (absent in a table without them: the paper's Table 2). */
  budgets: Partial<Record<MoeMatch, MoeBudget>>;
}

/** Fig. 2 data of one model (DomainShares.toJSON). */
export interface RoutingFigure {
  model: string;
  experts: string[];
  k: number;
  layers: number[];
  domains: string[];
  /** [domain][layer index][expert] fraction of tokens sending a top-k slot to the expert. */
  fractions: number[][][];
}

/** Fig. 4 data of one model: Δ perplexity % [removed][domain] when one expert is removed. */
export interface OptOutFigure {
  removed: string[];
  domains: string[];
  base: number[];
  deltaPct: number[][];
  guarantee: string;
}

export interface GeometryFigure {
  experts: string[];
  /** [layer][i][j] cosine of the learned router rows. */
  learned: (number | null)[][][];
  /** [i][j] cosine of the rows at initialisation (the same in every layer). */
  init: (number | null)[][];
}

export interface SeedResult {
  seed: number;
  recipe: string;
  recipeKey: string;
  backend: string;
  /** The backend's one-line report (which kernels ran: e.g. "matMul on OpenBLAS …, 2 threads"): timings depend on it. */
  engine: string;
  /** Wall-clock seconds of the whole seed and of each part. */
  seconds: number;
  parts: Record<string, number>;
  /** Training diagnostics: mean loss of the first and last 10 % of steps, per trained model. */
  training: Record<string, { steps: number; first: number; last: number }>;
  tables: { table1: TableResult; table2: TableResult };
  figures: {
    /** Fig. 2 on Table 2's models: "flexolmo" (lab recipe, no RT), "rt" (lab recipe, RT), "flexolmo:<recipe>" (each other recipe, no RT). */
    routing: Record<string, RoutingFigure> & { flexolmo: RoutingFigure; rt: RoutingFigure };
    /** Fig. 3 on Table 2's FlexOlmo (no RT): [domain][k index] perplexity. */
    qualityVsK: { ks: number[]; domains: string[]; ppl: number[][] };
    /** Fig. 4 on Table 2's models: Δ perplexity % [removed][domain]. */
    optOut: Record<"flexolmo" | "rt", OptOutFigure>;
    /** Table 1's merged models without RT ("flexolmo" and "flexolmo:<recipe>"): routing in every layer, and opt-out. */
    table1: { routing: Record<string, RoutingFigure>; optOut: Record<string, OptOutFigure> };
    /** Router rows of the lab recipe's FlexOlmo (external-embedding init) and of the random-init ablation, Table 1's merges (the table every recipe gives ablations). */
    geometry: { external: GeometryFigure; random: GeometryFigure };
  };
  /**
   * Where the domain gain lives (Table 1 domains): test perplexity on the domain (and on public) of
   * the public model continued on the domain with only the FFNs trainable, or only the embeddings and
   * LM head, against the dense expert (everything) and the FlexOlmo owner (its FFN, router row, bias).
   */
  gainLocation: Record<string, Record<"public" | "dense" | "owner" | "ffnOnly" | "embedHeadOnly", { domain: number; public: number }>>;
  privacy?: {
    documents: number;
    models: Array<{ model: string; rate: number; meanBest: number; best: number[] }>;
    example: { prefix: string; truth: string; samples: Record<string, string> };
  };
}

export interface SeedOptions {
  backend?: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Each part of the seed as it starts, by its name in `parts` (a progress line weighs them by a finished seed's times). */
  onStage?: (name: string) => void;
}

/** Thrown when Ctrl-C stopped a seed: its results are incomplete and are not written. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted: the current seed was stopped and is not saved (finished seeds are kept)");
    this.name = "Interrupted";
  }
}

type Row = FlexModel | Btm | LikelihoodSoup | PromptRouting | { model(): FlexModel; dispose?(): void };

function summary(rec: TrainRecord): { steps: number; first: number; last: number } {
  const h = rec.history;
  const n = Math.max(1, Math.floor(h.length / 10));
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  return { steps: h.length, first: mean(h.slice(0, n)), last: mean(h.slice(-n)) };
}

/**
 * The owner variants a seed trains, by key, and on which domains: the lab recipe's owners
 * ("flexolmo") and each other recipe's ("flexolmo:<name>") on every domain of Table 2; the ablations'
 * (docs/method.md §2.2, §2.4; the paper's Table 1 ablations, with the lab's calibration kept on so
 * that each row removes one thing) only on the domains of the tables that show them.
 */
export function ownerVariants(r: Recipe): Record<string, { label: string; owner: OwnerRecipe; domains: string[] }> {
  const lab = { ...FLEX_RECIPES.lab.owner, docs: r.embedDocs };
  const ablationDomains = isFullTable(r, "table2") ? r.table2 : r.table1;
  const out: Record<string, { label: string; owner: OwnerRecipe; domains: string[] }> = {
    flexolmo: { label: "FlexOlmo, lab recipe", owner: lab, domains: r.table2 },
    noBias: { label: "− no bias", owner: { ...lab, bias: false }, domains: ablationDomains },
    randomInit: { label: "− random router init, no bias", owner: { ...lab, init: "random", bias: false }, domains: ablationDomains },
  };
  for (const name of r.otherFlexRecipes) out[`flexolmo:${name}`] = { label: `FlexOlmo, ${name} recipe`, owner: { ...FLEX_RECIPES[name].owner, docs: r.embedDocs }, domains: r.table2 };
  return out;
}

export async function runSeed(r: Recipe, seed: number, o: SeedOptions): Promise<SeedResult> {
  const t0 = performance.now();
  const log = o.log;
  const parts: Record<string, number> = {};
  const training: SeedResult["training"] = {};
  const check = () => {
    if (o.signal?.aborted) throw new Interrupted();
  };
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    log(`[seed ${seed}] ${name} …`);
    o.onStage?.(name);
    const out = await f();
    parts[name] = (parts[name] ?? 0) + (performance.now() - t) / 1000;
    log(`[seed ${seed}]   ${name}: ${parts[name].toFixed(1)} s`);
    check();
    return out;
  };
  const signal = o.signal;

  // One lab with the lab recipe (owners and merges take their defaults from it); every phase's
  // schedule spans exactly its own steps (`schedule`).
  const lab = await makeLab({ preset: r.preset, seed, backend: o.backend, model: r.model, train: r.train, recipe: "lab" });
  const schedule = { warmupFraction: r.warmupFraction };
  const ctx = lab.data;
  const pub = await lab.publicModel({ from: "scratch" });
  try {
    training.public = summary(await timed("public model", () => pub.train({ steps: r.publicSteps, signal, schedule })));
  } catch (e) {
    pub.dispose();
    throw e;
  }

  const dense = new Map<string, DenseExpert>();
  const owners = new Map<string, Map<string, OwnerExpert>>(); // variant → domain → owner
  const disposeAll: Array<() => void> = [() => pub.dispose()];
  try {
    await timed("dense experts", async () => {
      for (const d of r.table2) {
        const e = await denseExpert(lab, pub, d);
        disposeAll.push(() => e.dispose());
        training[`dense:${d}`] = summary(await e.train({ steps: r.expertSteps, signal, schedule }));
        dense.set(d, e);
        check();
      }
    });
    for (const [key, v] of Object.entries(ownerVariants(r))) {
      await timed(`owners (${v.label})`, async () => {
        const m = new Map<string, OwnerExpert>();
        owners.set(key, m);
        const trainedOwners = await trainOwners(lab, pub, v.domains, v.owner, r.expertSteps, {
          signal,
          schedule,
          after: (ow, rec) => {
            training[`owner:${key}:${ow.domain}`] = summary(rec);
            check();
          },
        });
        for (const ow of trainedOwners) {
          disposeAll.push(() => ow.dispose());
          m.set(ow.domain, ow);
        }
      });
    }

    const gainLocation: SeedResult["gainLocation"] = {};
    const ffnOnly = new Map<string, FlexModel>(); // Table 1 domain → dense expert with only its FFNs trained
    await timed("diagnostic: where the domain gain lives", async () => {
      const ev = async (m: FlexModel, d: string) => {
        const e = await m.evaluate({ domains: [d, "public"], maxWindows: r.evalWindows, split: "test" });
        return { domain: e.ppl(d), public: e.ppl("public") };
      };
      const partial = async (d: string, spec: FreezeSpec, keep = false) => {
        const m = await partialDense(lab, pub, d, r.expertSteps, r.warmupFraction, spec, signal);
        let kept = false;
        try {
          const out = await ev(m, d);
          if (keep) {
            ffnOnly.set(d, m.named(d));
            disposeAll.push(() => m.dispose());
            kept = true;
          }
          return out;
        } finally {
          if (!kept) m.dispose();
        }
      };
      for (const d of r.table1) {
        gainLocation[d] = {
          public: await ev(pub.model(), d),
          dense: await ev(dense.get(d)!.model(), d),
          owner: await ev(owners.get("flexolmo")!.get(d)!.model(), d),
          ffnOnly: await partial(d, { trainable: ["model.layers.*.mlp.experts.*"] }, true), // kept: Table 1's "BTM over FFN-only dense experts"
          embedHeadOnly: await partial(d, { trainable: ["model.embed_tokens.weight", "lm_head.weight"] }),
        };
        check();
      }
    });

    const tasks = await timed("task items", async () => buildTasks(ctx, [...r.table2, "public"], r.taskItems, Math.min(lab.modelConfig.maxSeqLen, 256)));
    // The public model and the dense experts are the same models in both tables: evaluate once, on Table 2's columns.
    const shared = new Map<string, { ppl: Record<string, number>; tasks: Record<string, number>; optOut: string }>();
    await timed("evaluation (shared rows)", async () => {
      const cols = [...r.table2, "public"];
      const sharedRows: Array<[string, Row]> = [["public", pub], ...r.table2.map((d) => [`dense:${d}`, dense.get(d)!] as [string, Row])];
      for (const [key, row] of sharedRows) shared.set(key, { ...(await evaluateRow(row, cols, tasks, taskNames(r.table2), r, ctx)), optOut: optOutOf(row) });
    });

    const table = async (name: "table1" | "table2", domains: string[], extra: (models: { flex: FlexModel; rt: FlexModel; random?: FlexModel; others: Record<string, FlexModel> }) => Promise<void>): Promise<TableResult> => {
      const built = new Map<string, Row>();
      const full = isFullTable(r, name); // false: the paper's Table 2 (public, dense experts, BTM, FlexOlmo)
      const local: Array<() => void> = [];
      try {
        const denseSub = domains.map((d) => dense.get(d)!);
        const members = [pub, ...denseSub];
        await timed(`${name}: merges and ensembles`, async () => {
          const b = new Btm(members, { topK: 2, label: ROW_LABELS.btm });
          local.push(() => b.dispose());
          built.set("btm", b);
          if (full) {
            const u = soup(members, { label: ROW_LABELS["soup-uniform"] });
            local.push(() => u.dispose());
            built.set("soup-uniform", u);
            const w = new LikelihoodSoup(members, { label: ROW_LABELS["soup-weighted"] });
            const p = new PromptRouting(pub, denseSub, { label: ROW_LABELS["prompt-routing"] });
            local.push(() => w.dispose(), () => p.dispose());
            built.set("soup-weighted", w).set("prompt-routing", p);
          }
          if (domains.every((d) => ffnOnly.has(d))) {
            // Diagnostic (Table 1): BTM over dense experts that trained only their FFNs, as owners do.
            const bf = new Btm([pub, ...domains.map((d) => ffnOnly.get(d)!)], { topK: 2, label: ROW_LABELS["btm-ffn"] });
            local.push(() => bf.dispose());
            built.set("btm-ffn", bf);
          }
          // Row key, owner variant, k: the lab recipe's rows use its k (2); each other recipe merges
          // with its own k (the paper's: ⌈E/2⌉).
          const labK = FLEX_RECIPES.lab.k(domains.length);
          const merges: Array<[string, string, number]> = [
            ["flexolmo", "flexolmo", labK],
            ...(full ? ([["no-bias", "noBias", labK], ["random-init", "randomInit", labK]] as Array<[string, string, number]>) : []),
            ...r.otherFlexRecipes.map((o): [string, string, number] => [`flexolmo:${o}`, `flexolmo:${o}`, FLEX_RECIPES[o].k(domains.length)]),
          ];
          for (const [key, variant, k] of merges) {
            const m = await merge(pub, domains.map((d) => owners.get(variant)!.get(d)!), { k, label: rowLabel(key) });
            local.push(() => m.dispose());
            built.set(key, m);
          }
          if (full) {
            // The same stacking of uncoordinated dense experts, at the lab recipe's k.
            const nm = await naiveMerge(pub, denseSub, { docs: r.embedDocs, k: labK, label: ROW_LABELS["no-coordination"] });
            local.push(() => nm.dispose());
            built.set("no-coordination", nm);
          }
        });
        if (full) {
          const bx = await timed(`${name}: BTX router`, () => btx(pub, denseSub, { steps: r.btxSteps, docs: r.embedDocs, label: ROW_LABELS.btx }));
          local.push(() => bx.dispose());
          built.set("btx", bx);
        }
        // Router tuning on the paper's proxies from the public TRAIN split: the study's public model
        // sees < 1 epoch of it (the shipped cpu model memorised it, so the lab's default is "valid").
        const tune = async (key: string, label: string) => {
          const rtKey = key.replace(/^flexolmo/, "flexolmo-rt"); // "flexolmo:paper" → "flexolmo-rt:paper"
          const m = await timed(`${name}: router tuning (${label})`, () => tuneRouter(built.get(key) as FlexModel, lab, { steps: r.rtSteps, split: "train", signal, label: rowLabel(rtKey) }));
          local.push(() => m.dispose());
          built.set(rtKey, m);
          return m;
        };
        const flex = built.get("flexolmo") as FlexModel;
        const rt = await tune("flexolmo", "lab recipe");
        for (const o of r.otherFlexRecipes) await tune(`flexolmo:${o}`, `${o} recipe`);
        const budgets: Partial<Record<MoeMatch, MoeBudget>> = {};
        for (const match of full ? (["flops", "data"] as const) : []) {
          const key = `moe-${match}`;
          const steps = unrestrictedBudget(lab, domains, { ownerSteps: r.expertSteps, match }).steps;
          const m = await timed(`${name}: unrestricted MoE (${match}-matched, ${steps} steps)`, async () => {
            const x = await unrestrictedMoE(lab, pub, domains, { match, ownerSteps: r.expertSteps, docs: r.embedDocs, label: ROW_LABELS[key], train: false });
            local.push(() => x.dispose());
            training[`${name}:${key}`] = summary(await x.train({ steps, signal, schedule }));
            return x;
          });
          budgets[match] = m.budget;
          built.set(key, m);
        }
        const cols = [...domains, "public"];
        const names = taskNames(domains);
        const rows: RowResult[] = [];
        await timed(`${name}: evaluation`, async () => {
          for (const key of rowKeys(domains, r.otherFlexRecipes, built.has("btm-ffn"), full)) {
            const tr = performance.now();
            const hit = shared.get(key);
            const ev = hit
              ? { ppl: pick(hit.ppl, cols), tasks: pick(hit.tasks, names) }
              : await evaluateRow(built.get(key)!, cols, tasks, names, r, ctx);
            rows.push(rowResult(key, ev, hit ? hit.optOut : optOutOf(built.get(key)!)));
            log(`[seed ${seed}]   ${rowLabel(key)}: avg ppl ${rows[rows.length - 1].avgPpl.toFixed(3)}, avg task ${(100 * rows[rows.length - 1].avgTask).toFixed(1)} % (${((performance.now() - tr) / 1000).toFixed(1)} s)`);
          }
        });
        await extra({ flex, rt, random: built.get("random-init") as FlexModel | undefined, others: Object.fromEntries(r.otherFlexRecipes.map((o) => [o, built.get(`flexolmo:${o}`) as FlexModel])) });
        return { domains: [...domains], columns: cols, tasks: names, k: flex.view.topK, rows, budgets };
      } finally {
        local.forEach((f) => f());
      }
    };

    const share = async (m: FlexModel, cols: string[], layers: "first-middle-last" | "all"): Promise<RoutingFigure> => {
      const s = (await routing(m, { domains: cols, maxWindows: r.figureWindows })).byDomain({ layers });
      return { model: s.model, experts: s.experts, k: s.k, layers: s.layers, domains: s.domains, fractions: s.fractions };
    };
    const opt = async (m: FlexModel, cols: string[]): Promise<OptOutFigure> => {
      const x = await optOutMatrix(m, { domains: cols, maxWindows: r.figureWindows });
      return { removed: x.removed, domains: x.domains, base: x.base, deltaPct: x.deltaPct, guarantee: x.guarantee };
    };
    let privacy: SeedResult["privacy"];
    let table1Figures!: SeedResult["figures"]["table1"];
    let geometry!: SeedResult["figures"]["geometry"];
    const table1 = await table("table1", r.table1, async ({ flex, random, others }) => {
      table1Figures = await timed("figures (Table 1 models)", async () => {
        // Every layer here: the issue's selectivity test counts (domain, layer) cells of Table 1's merge.
        const cols = [...r.table1, "public"];
        const models: Array<[string, FlexModel]> = [["flexolmo", flex], ...Object.entries(others).map(([o, m]) => [`flexolmo:${o}`, m] as [string, FlexModel])];
        const routingOut: Record<string, RoutingFigure> = {}, optOut: Record<string, OptOutFigure> = {};
        for (const [key, m] of models) {
          routingOut[key] = await share(m, cols, "all");
          optOut[key] = await opt(m, cols);
        }
        // Router geometry on Table 1, the table that always has the random-init ablation.
        const geo = async (m: FlexModel, embedder: "external" | "random"): Promise<GeometryFigure> => {
          const g = await routerGeometry(m, { layers: "all" });
          const init = await Promise.all(g.experts.map((e) => lab.embed(e, { embedder, docs: r.embedDocs })));
          return { experts: g.experts, learned: g.layers.map((l) => l.cosine), init: cosineMatrix(init.map((e) => e.vector)) };
        };
        if (!random) throw new Error("internal: Table 1 has no random-init merge for the router-geometry figure.");
        geometry = { external: await geo(flex, "external"), random: await geo(random, "random") };
        return { routing: routingOut, optOut };
      });
      if (r.privacySeeds === "first" && seed !== r.seeds[0]) return;
      privacy = await timed("privacy (extraction test)", async () => {
        const docs = extractionDocs(ctx, r.privacy);
        // The over-fitted sanity model keeps the expert phase's schedule (as every earlier study run did).
        const overTc = { ...lab.trainConfig, steps: r.expertSteps, warmupSteps: warmupFor(r.expertSteps, r.warmupFraction) };
        const over = await overfitModel(pub.snapshot(), pub.config, overTc, docs, r.privacy.overfitSteps, ctx, signal);
        check();
        try {
          const models = [pub.model().named("public model"), dense.get("math")!.model().named("dense expert: math"), flex.named("FlexOlmo (public + math + educational + code)"), over];
          const res = await extraction(models, ctx, docs, r.privacy, seed);
          return {
            documents: docs.docs.length,
            models: res.models.map((m) => ({ model: m.model, rate: res.rate(m.model), meanBest: res.meanSimilarity(m.model), best: m.best })),
            example: { prefix: res.cases[0].prefix, truth: res.cases[0].truth, samples: Object.fromEntries(res.models.map((m) => [m.model, m.bestSample[0]])) },
          };
        } finally {
          over.dispose();
        }
      });
    });
    let figures!: SeedResult["figures"];
    const table2 = await table("table2", r.table2, async ({ flex, rt, others }) => {
      figures = await timed("figures (Table 2 models)", async () => {
        const cols = [...r.table2, "public"];
        const q = await qualityVsK(flex, { domains: cols, maxWindows: r.figureWindows });
        const routingOut: SeedResult["figures"]["routing"] = { flexolmo: await share(flex, cols, "first-middle-last"), rt: await share(rt, cols, "first-middle-last") };
        for (const [o, m] of Object.entries(others)) routingOut[`flexolmo:${o}`] = await share(m, cols, "first-middle-last");
        return {
          routing: routingOut,
          qualityVsK: { ks: q.ks, domains: q.domains, ppl: q.ppl },
          optOut: { flexolmo: await opt(flex, cols), rt: await opt(rt, cols) },
          table1: table1Figures,
          geometry,
        };
      });
    });
    return {
      seed,
      recipe: r.name,
      recipeKey: recipeKey(r),
      backend: lab.backend.name,
      engine: backendReport()?.summary.split(" — ")[0] ?? lab.backend.name,
      seconds: (performance.now() - t0) / 1000,
      parts,
      training,
      tables: { table1, table2 },
      figures,
      gainLocation,
      ...(privacy ? { privacy } : {}),
    };
  } finally {
    for (const f of disposeAll.reverse()) f();
  }
}

/**
 * The public model continued on `domain` exactly like its dense expert (same batches, same owner
 * optimiser settings, same steps) but with only the parameters in `spec` trainable.
 */
async function partialDense(lab: LabContext, pub: PublicModel, domain: string, steps: number, warmupFraction: number, spec: FreezeSpec, signal?: AbortSignal): Promise<FlexModel> {
  const params = pub.snapshot();
  const tc = { ...ownerTraining(lab.trainConfig), topK: 1 };
  const session = new TrainingSession(`partial:${domain}`, async () => ({ params, cfg: pub.config, tc, batches: resumable(await lab.batches(domain, ownerBatchSeed(lab, domain), tc)), spec, routingStats: false }));
  try {
    await session.train({ steps, signal, schedule: { warmupFraction } });
  } catch (e) {
    disposeParams(params); // interrupted or failed: nothing will own them
    throw e;
  } finally {
    session.dispose();
  }
  return new FlexModel({ config: pub.config, params, provenance: { kind: "public", routerTuned: false }, label: `partial:${domain}`, data: lab.data, owns: true });
}

function pick(rec: Record<string, number>, keys: readonly string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => {
    if (rec[k] === undefined) throw new Error(`internal: no value for "${k}" in a shared evaluation.`);
    return [k, rec[k]];
  }));
}

function optOutOf(row: Row): string {
  const o = (row as { optOut?: unknown }).optOut;
  if (typeof o === "string") return o;
  const m = (row as { model?: () => FlexModel }).model;
  return typeof m === "function" ? m.call(row).optOut : "approximate";
}

function rowResult(key: string, ev: { ppl: Record<string, number>; tasks: Record<string, number> }, optOut: string): RowResult {
  const p = Object.values(ev.ppl), t = Object.values(ev.tasks);
  return { key, label: rowLabel(key), ppl: ev.ppl, avgPpl: p.reduce((s, x) => s + x, 0) / p.length, tasks: ev.tasks, avgTask: t.reduce((s, x) => s + x, 0) / t.length, optOut };
}

/** Perplexity per column and accuracy per task of one row. */
async function evaluateRow(row: Row, cols: readonly string[], tasks: Record<string, TaskItem[]>, names: readonly string[], r: Recipe, ctx: LabContext["data"]): Promise<{ ppl: Record<string, number>; tasks: Record<string, number> }> {
  const opts = { domains: cols, maxWindows: r.evalWindows, split: "test" as const };
  const ev = row instanceof FlexModel || row instanceof Btm || row instanceof LikelihoodSoup || row instanceof PromptRouting ? await row.evaluate(opts) : await row.model().evaluate(opts);
  const ppl = Object.fromEntries(cols.map((d) => [d, ev.ppl(d)]));
  const acc = await scoreTasks(scorerOf(row), tasks, names);
  return { ppl, tasks: acc };
}
