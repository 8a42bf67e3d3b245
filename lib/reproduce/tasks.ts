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
import type { DataContext } from "../flex/context";
import { FlexModel } from "../flex/model";
import type { OptionItem, OptionScorer } from "../flex/likelihood";
import { clozeItems, mathItems } from "../flex/tasks";

export type TaskItem = ReturnType<typeof clozeItems>[number];

export type { OptionScorer } from "../flex/likelihood";

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

/** Anything a table row can be: a model or ensemble that scores options itself, or an object with a model. */
type Scorable = { scoreOptions(context: number[], options: number[][]): Promise<number[]> } | { model(): FlexModel };

/** An option scorer, with a batched form when the row has one (a single model: a few large passes). */
export type TaskScorer = OptionScorer & { batch?: (items: readonly OptionItem[]) => Promise<number[][]> };

/** The scorer of any table row: its own `scoreOptions` (FlexModel and every ensemble have one). */
export function scorerOf(row: Scorable): TaskScorer {
  if (row instanceof FlexModel) return Object.assign((c: number[], o: number[][]) => row.scoreOptions(c, o), { batch: (items: readonly OptionItem[]) => row.scoreOptionsBatch(items) });
  if ("scoreOptions" in row && typeof row.scoreOptions === "function") return (c, o) => row.scoreOptions(c, o);
  if ("model" in row && typeof row.model === "function") return scorerOf(row.model());
  throw new Error(`tasks: no option scorer for ${row === null ? "null" : typeof row}.`);
}

/** Accuracy of one scorer on every task (strict: a tie with the true option counts as wrong). */
export async function scoreTasks(scorer: TaskScorer, tasks: Record<string, TaskItem[]>, tasksToRun: readonly string[] = Object.keys(tasks)): Promise<Record<string, number>> {
  for (const t of tasksToRun) if (!tasks[t]) throw new Error(`tasks: unknown task "${t}" (tasks: ${Object.keys(tasks).join(", ")}).`);
  const all = tasksToRun.flatMap((t) => tasks[t]);
  let lls: number[][];
  if (scorer.batch) lls = await scorer.batch(all); // every task's items in a few passes
  else {
    lls = [];
    for (const it of all) {
      lls.push(await scorer(it.context, it.options));
      await new Promise((r) => setImmediate(r));
    }
  }
  const out: Record<string, number> = {};
  let at = 0;
  for (const t of tasksToRun) {
    let correct = 0;
    for (const it of tasks[t]) {
      const ll = lls[at++];
      if (ll.every((v, j) => j === it.answer || v < ll[it.answer])) correct++; // strict: a tie counts as wrong
    }
    out[t] = correct / tasks[t].length;
  }
  return out;
}
