/**
 * The toy downstream tasks of lib/flex/tasks.ts (cloze per domain, math answer choice, held-out
 * math answers) for EVERY row of the tables, not only FlexModels: the ensembles (BTM, the weighted
 * soup, prompt routing) score an option the same way they score an evaluation window.
 *
 *   FlexModel        log p(option | context) from one forward pass over the K options.
 *   soup (weighted)  weights from the context alone (its NLL under each member), then the souped model.
 *   BTM              per position, members weighted by their NLL of everything before it (the item's
 *                    context and the option so far), top-k renormalised, probabilities mixed.
 *   prompt routing   the classifier reads the context; the chosen member scores the options.
 *
 * The items are the same for every row (built once per task from the test split), so accuracies are
 * paired across rows. Correct = the true option has the strictly highest log-likelihood.
 */
import { disposeParams } from "../model/model";
import type { DataContext } from "../flex/context";
import { FlexModel } from "../flex/model";
import { clozeItems, mathItems } from "../flex/tasks";
import { Btm, LikelihoodSoup, PromptRouting } from "../flex/baselines/ensembles";
import { targetLogProbs, weightedAverage } from "../flex/baselines/common";

export type TaskItem = ReturnType<typeof clozeItems>[number];

/** Log-likelihood of each option given the context. */
export type OptionScorer = (context: number[], options: number[][]) => Promise<number[]>;

/** The task items of a table: cloze for each domain, plus math answers (ordinary and held-out) when math is a domain. */
export function buildTasks(ctx: DataContext, domains: readonly string[], n: number, maxSeqLen: number): Record<string, TaskItem[]> {
  const fits = (it: TaskItem) => it.context.length + Math.max(...it.options.map((o) => o.length)) <= maxSeqLen;
  const out: Record<string, TaskItem[]> = {};
  for (const d of domains) {
    // Ask for more items than needed, keep the first n that fit the context (the order is deterministic).
    out[`cloze:${d}`] = clozeItems(ctx, d, { n: 4 * n }).filter(fits).slice(0, n);
    if (d === "math") {
      out["math-answers"] = mathItems(ctx, false, { n: 4 * n }).filter(fits).slice(0, n);
      out["math-answers:heldout"] = mathItems(ctx, true, { n: 4 * n }).filter(fits).slice(0, n);
    }
  }
  for (const [t, items] of Object.entries(out)) if (items.length === 0) throw new Error(`tasks: no "${t}" item fits the model's context of ${maxSeqLen} tokens.`);
  return out;
}

/** Rows [K, T] of context + option (zero-padded at the end: causal attention never looks ahead). */
function optionRows(context: number[], options: number[][]): { ids: Int32Array; K: number; T: number } {
  const len = Math.max(...options.map((o) => o.length));
  const T = context.length + len;
  const ids = new Int32Array(options.length * T);
  options.forEach((o, r) => {
    ids.set(context, r * T);
    ids.set(o, r * T + context.length);
  });
  return { ids, K: options.length, T };
}

/** Per member, log p of every next token of every row: [K·(T−1)] (position t predicts token t + 1). */
async function rowLogProbs(m: FlexModel, rows: { ids: Int32Array; K: number; T: number }): Promise<Float32Array> {
  const { ids, K, T } = rows;
  const inputs = new Int32Array(K * (T - 1)), targets = new Int32Array(K * (T - 1)); // [K, T − 1]
  for (let r = 0; r < K; r++) {
    inputs.set(ids.subarray(r * T, r * T + T - 1), r * (T - 1));
    targets.set(ids.subarray(r * T + 1, (r + 1) * T), r * (T - 1));
  }
  return targetLogProbs(m, inputs, targets, K, T - 1);
}

/** Sum of an option's token log-probs from per-position values [K·(T−1)]. */
function optionSums(perPos: ArrayLike<number>, context: number[], options: number[][], T: number): number[] {
  return options.map((o, r) => {
    let s = 0;
    for (let j = 0; j < o.length; j++) s += perPos[r * (T - 1) + context.length - 1 + j]; // position c−1+j predicts option token j
    return s;
  });
}

export function flexScorer(m: FlexModel): OptionScorer {
  return async (context, options) => {
    const rows = optionRows(context, options);
    return optionSums(await rowLogProbs(m, rows), context, options, rows.T);
  };
}

/** log Σ_m w_m exp(lp_m) over the members with w_m > 0. */
function logMix(w: ArrayLike<number>, lp: ArrayLike<number>): number {
  let mx = -Infinity;
  for (let j = 0; j < w.length; j++) if (w[j] > 0 && lp[j] > mx) mx = lp[j];
  let s = 0;
  for (let j = 0; j < w.length; j++) if (w[j] > 0) s += w[j] * Math.exp(lp[j] - mx);
  return mx + Math.log(s);
}

export function btmScorer(b: Btm): OptionScorer {
  return async (context, options) => {
    const rows = optionRows(context, options);
    const lp: Float32Array[] = [];
    for (const m of b.members) lp.push(await rowLogProbs(m, rows));
    const w = b.positionWeights(lp, rows.K, rows.T - 1); // the prefix of each position: context + option so far
    const col = new Float64Array(lp.length);
    const mixed = new Float64Array(rows.K * (rows.T - 1));
    for (let i = 0; i < mixed.length; i++) {
      for (let m = 0; m < lp.length; m++) col[m] = lp[m][i];
      mixed[i] = logMix(w[i], col);
    }
    return optionSums(mixed, context, options, rows.T);
  };
}

export function soupScorer(s: LikelihoodSoup): OptionScorer {
  return async (context, options) => {
    const w = await s.weights(context); // from the context only, as its evaluation uses the text before a window
    const m0 = s.members[0];
    const m = new FlexModel({ config: m0.config, params: weightedAverage(s.members.map((x) => x.params), w), provenance: { kind: "merged", routerTuned: false }, view: m0.view, label: s.label, data: m0.data });
    try {
      return await flexScorer(m)(context, options);
    } finally {
      disposeParams(m.params);
    }
  };
}

export function routingScorer(p: PromptRouting, ctx: DataContext): OptionScorer {
  return async (context, options) => {
    const { member } = await p.route(ctx.tokenizer.decode(context));
    return flexScorer(p.members[member])(context, options);
  };
}

/** The scorer of any table row. */
export function scorerOf(row: unknown, ctx: DataContext): OptionScorer {
  if (row instanceof FlexModel) return flexScorer(row);
  if (row instanceof Btm) return btmScorer(row);
  if (row instanceof LikelihoodSoup) return soupScorer(row);
  if (row instanceof PromptRouting) return routingScorer(row, ctx);
  const m = (row as { model?: () => FlexModel } | null)?.model;
  if (typeof m === "function") return flexScorer(m.call(row));
  throw new Error(`tasks: no option scorer for ${row === null ? "null" : typeof row === "object" ? (row as object).constructor?.name : typeof row}.`);
}

/** Accuracy of one scorer on every task (strict: a tie with the true option counts as wrong). */
export async function scoreTasks(scorer: OptionScorer, tasks: Record<string, TaskItem[]>, tasksToRun: readonly string[] = Object.keys(tasks)): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tasksToRun) {
    const items = tasks[t];
    if (!items) throw new Error(`tasks: unknown task "${t}" (tasks: ${Object.keys(tasks).join(", ")}).`);
    let correct = 0;
    for (const it of items) {
      const ll = await scorer(it.context, it.options);
      if (ll.every((v, j) => j === it.answer || v < ll[it.answer])) correct++;
      await new Promise((r) => setImmediate(r));
    }
    out[t] = correct / items.length;
  }
  return out;
}
