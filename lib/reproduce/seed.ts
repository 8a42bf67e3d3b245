/**
 * One seed of the reproduction: train every model once, build both tables from them, run the
 * figure analyses and the privacy test, and return plain numbers (the seed file's content).
 *
 * What is trained once per seed and shared by both tables (Table 1's domains ⊂ Table 2's):
 *   the public model; a dense expert per domain; a FlexOlmo owner per domain for each owner variant
 *   (FlexOlmo, − no bias, − random router init). Merges, soups and ensembles of a table use the
 *   subset of these that belongs to its domains.
 * What is trained per table (its training depends on the domain set): the BTX router, the router
 * tuning (FlexOlmo RT) and the two unrestricted MoEs.
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
import { VARIANTS } from "../flex/baselines/variants";
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
  "prompt-routing": "prompt routing",
  btx: "BTX",
  flexolmo: "FlexOlmo, no RT",
  "no-bias": "− no bias",
  "random-init": "− random router init (no bias)",
  "no-coordination": "− no coordinated training",
  "flexolmo-rt": "FlexOlmo (with RT)",
  "moe-flops": "unrestricted MoE, FLOP-matched",
  "moe-data": "unrestricted MoE, data-matched",
};

/** Row keys of a table over `domains`, in order. */
export function rowKeys(domains: readonly string[]): string[] {
  return ["public", ...domains.map((d) => `dense:${d}`), "soup-uniform", "soup-weighted", "btm", "prompt-routing", "btx", "flexolmo", "no-bias", "random-init", "no-coordination", "flexolmo-rt", "moe-flops", "moe-data"];
}

export function rowLabel(key: string): string {
  if (key.startsWith("dense:")) return `dense expert: ${key.slice(6)}`;
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
  budgets: Record<MoeMatch, MoeBudget>;
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
    /** Fig. 2 on Table 2's models (no RT and RT). */
    routing: { flexolmo: RoutingFigure; rt: RoutingFigure };
    /** Fig. 3 on Table 2's FlexOlmo (no RT): [domain][k index] perplexity. */
    qualityVsK: { ks: number[]; domains: string[]; ppl: number[][] };
    /** Fig. 4 on Table 2's models: Δ perplexity % [removed][domain]. */
    optOut: Record<"flexolmo" | "rt", { removed: string[]; domains: string[]; base: number[]; deltaPct: number[][]; guarantee: string }>;
    /** Router rows of Table 2's FlexOlmo (external-embedding init) and of the random-init ablation. */
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
    const out = await f();
    parts[name] = (parts[name] ?? 0) + (performance.now() - t) / 1000;
    log(`[seed ${seed}]   ${name}: ${parts[name].toFixed(1)} s`);
    check();
    return out;
  };
  const signal = o.signal;

  // One lab; every phase's schedule spans exactly its own steps (`schedule`).
  const lab = await makeLab({ preset: r.preset, seed, backend: o.backend, model: r.model, train: r.train, recipe: "paper" }); // the study reproduces the paper's recipe
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
    for (const key of ["flexolmo", "noBias", "randomInit"] as const) {
      const v = VARIANTS[key];
      await timed(`owners (${v.label})`, async () => {
        const m = new Map<string, OwnerExpert>();
        owners.set(key, m);
        const trainedOwners = await trainOwners(lab, pub, r.table2, { init: v.init, bias: v.bias ?? -1, docs: r.embedDocs }, r.expertSteps, {
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
    await timed("diagnostic: where the domain gain lives", async () => {
      const ev = async (m: FlexModel, d: string) => {
        const e = await m.evaluate({ domains: [d, "public"], maxWindows: r.evalWindows, split: "test" });
        return { domain: e.ppl(d), public: e.ppl("public") };
      };
      const partial = async (d: string, spec: FreezeSpec) => {
        const m = await partialDense(lab, pub, d, r.expertSteps, r.warmupFraction, spec, signal);
        try {
          return await ev(m, d);
        } finally {
          disposeParams(m.params);
        }
      };
      for (const d of r.table1) {
        gainLocation[d] = {
          public: await ev(pub.model(), d),
          dense: await ev(dense.get(d)!.model(), d),
          owner: await ev(owners.get("flexolmo")!.get(d)!.model(), d),
          ffnOnly: await partial(d, { trainable: ["model.layers.*.mlp.experts.*"] }),
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

    const table = async (name: "table1" | "table2", domains: string[], extra: (models: { flex: FlexModel; rt: FlexModel; random: FlexModel }) => Promise<void>): Promise<TableResult> => {
      const built = new Map<string, Row>();
      const local: Array<() => void> = [];
      try {
        const denseSub = domains.map((d) => dense.get(d)!);
        const members = [pub, ...denseSub];
        await timed(`${name}: merges and ensembles`, async () => {
          const u = soup(members, { label: ROW_LABELS["soup-uniform"] });
          local.push(() => disposeParams(u.params));
          built.set("soup-uniform", u);
          const w = new LikelihoodSoup(members, { label: ROW_LABELS["soup-weighted"] });
          const b = new Btm(members, { topK: 2, label: ROW_LABELS.btm });
          const p = new PromptRouting(pub, denseSub, { label: ROW_LABELS["prompt-routing"] });
          local.push(() => w.dispose(), () => b.dispose(), () => p.dispose());
          built.set("soup-weighted", w).set("btm", b).set("prompt-routing", p);
          for (const [key, variant] of [["flexolmo", "flexolmo"], ["no-bias", "noBias"], ["random-init", "randomInit"]] as const) {
            const m = await merge(pub, domains.map((d) => owners.get(variant)!.get(d)!));
            local.push(() => disposeParams(m.params));
            built.set(key, m.named(ROW_LABELS[key]));
          }
          const nm = await naiveMerge(pub, denseSub, { docs: r.embedDocs, label: ROW_LABELS["no-coordination"] });
          local.push(() => disposeParams(nm.params));
          built.set("no-coordination", nm);
        });
        const bx = await timed(`${name}: BTX router`, () => btx(pub, denseSub, { steps: r.btxSteps, docs: r.embedDocs, label: ROW_LABELS.btx }));
        local.push(() => bx.dispose());
        built.set("btx", bx);
        const flex = built.get("flexolmo") as FlexModel;
        const rt = (await timed(`${name}: router tuning`, () => tuneRouter(flex, lab, { steps: r.rtSteps, split: "train", signal }) /* the paper's proxies: the study's public model sees < 1 epoch of its train split */)).named(ROW_LABELS["flexolmo-rt"]);
        local.push(() => disposeParams(rt.params));
        built.set("flexolmo-rt", rt);
        const budgets = {} as Record<MoeMatch, MoeBudget>;
        for (const match of ["flops", "data"] as const) {
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
          for (const key of rowKeys(domains)) {
            const tr = performance.now();
            const hit = shared.get(key);
            const ev = hit
              ? { ppl: pick(hit.ppl, cols), tasks: pick(hit.tasks, names) }
              : await evaluateRow(built.get(key)!, cols, tasks, names, r, ctx);
            rows.push(rowResult(key, ev, hit ? hit.optOut : optOutOf(built.get(key)!)));
            log(`[seed ${seed}]   ${rowLabel(key)}: avg ppl ${rows[rows.length - 1].avgPpl.toFixed(3)}, avg task ${(100 * rows[rows.length - 1].avgTask).toFixed(1)} % (${((performance.now() - tr) / 1000).toFixed(1)} s)`);
          }
        });
        await extra({ flex, rt, random: built.get("random-init") as FlexModel });
        return { domains: [...domains], columns: cols, tasks: names, k: flex.view.topK, rows, budgets };
      } finally {
        local.forEach((f) => f());
      }
    };

    let privacy: SeedResult["privacy"];
    const table1 = await table("table1", r.table1, async ({ flex }) => {
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
          disposeParams(over.params);
        }
      });
    });
    let figures!: SeedResult["figures"];
    const table2 = await table("table2", r.table2, async ({ flex, rt, random }) => {
      figures = await timed("figures (Table 2 models)", async () => {
        const cols = [...r.table2, "public"];
        const share = async (m: FlexModel): Promise<RoutingFigure> => {
          const s = (await routing(m, { domains: cols, maxWindows: r.figureWindows })).byDomain({ layers: "first-middle-last" });
          return { model: s.model, experts: s.experts, k: s.k, layers: s.layers, domains: s.domains, fractions: s.fractions };
        };
        const q = await qualityVsK(flex, { domains: cols, maxWindows: r.figureWindows });
        const opt = async (m: FlexModel) => {
          const x = await optOutMatrix(m, { domains: cols, maxWindows: r.figureWindows });
          return { removed: x.removed, domains: x.domains, base: x.base, deltaPct: x.deltaPct, guarantee: x.guarantee };
        };
        const geo = async (m: FlexModel, embedder: "external" | "random"): Promise<GeometryFigure> => {
          const g = await routerGeometry(m, { layers: "all" });
          const init = await Promise.all(g.experts.map((e) => lab.embed(e, { embedder, docs: r.embedDocs })));
          return { experts: g.experts, learned: g.layers.map((l) => l.cosine), init: cosineMatrix(init.map((e) => e.vector)) };
        };
        return {
          routing: { flexolmo: await share(flex), rt: await share(rt) },
          qualityVsK: { ks: q.ks, domains: q.domains, ppl: q.ppl },
          optOut: { flexolmo: await opt(flex), rt: await opt(rt) },
          geometry: { external: await geo(flex, "external"), random: await geo(random, "random") },
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
  } finally {
    session.dispose();
  }
  return new FlexModel({ config: pub.config, params, provenance: { kind: "public", routerTuned: false }, label: `partial:${domain}`, data: lab.data });
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
