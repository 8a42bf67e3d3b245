/**
 * Toy downstream tasks, scored by likelihood (no generation, so they are cheap and deterministic):
 *
 * - **cloze** (every domain): a test document's first `context` tokens, then the true next
 *   `span` tokens against the same span taken from `choices − 1` other test documents of that
 *   domain. Correct when the true continuation has the strictly highest log-likelihood. Chance =
 *   1/choices. The analogue of the paper's multiple-choice suites (MC9, MMLU) at toy scale.
 * - **math answers** (math): "Q. question / Answer:" pairs parsed from test worksheets; the true
 *   answer against the answers of other questions on the same worksheet (same family, same form),
 *   so picking right means reading the numbers. Reported separately for the held-out family,
 *   which never appears in training (the analogue of Math2's generalisation).
 */
import { sha256u32 } from "../util/hash";
import { defaultDataContext, type DataContext } from "./context";
import { defaultEvalDomains } from "./evaluate";
import type { FlexModel } from "./model";
import { barChart } from "../display/charts";
import type { PlotlyFigure } from "../display/plotly";
import { ResultRecord, textOf, type HtmlPart } from "../display/record";
import type { TableSpec } from "../display/views";

export interface TaskOptions {
  /** Items per task (default 48). */
  n?: number;
  /** Answer choices per item (default 4). */
  choices?: number;
  /** Cloze: tokens of context and of continuation (defaults 48 and 16). */
  context?: number;
  span?: number;
  split?: "valid" | "test";
}

export interface TaskScore {
  task: string;
  items: number;
  correct: number;
  accuracy: number;
  chance: number;
}

interface Item {
  context: number[];
  options: number[][];
  answer: number; // index of the true option
}

/** Deterministic order of documents (by id hash), independent of the corpus row order. */
function ordered<T extends { id: string }>(docs: T[], salt: string): T[] {
  const key = (d: T) => sha256u32(`${salt}:${d.id}`);
  return docs.map((d) => ({ d, k: key(d) })).sort((a, b) => a.k - b.k || (a.d.id < b.d.id ? -1 : 1)).map((x) => x.d);
}

async function score(model: FlexModel, task: string, items: Item[], choices: number): Promise<TaskScore> {
  let correct = 0;
  const lls = await model.scoreOptionsBatch(items);
  items.forEach((it, i) => {
    const ll = lls[i];
    if (ll.every((v, j) => j === it.answer || v < ll[it.answer])) correct++; // strict: ties count as wrong
  });
  return { task, items: items.length, correct, accuracy: items.length ? correct / items.length : NaN, chance: 1 / choices };
}

/** Cloze items for one domain. */
export function clozeItems(ctx: DataContext, domain: string, o: TaskOptions = {}): Item[] {
  ctx.checkDomain(domain);
  const n = o.n ?? 48, choices = o.choices ?? 4, c = o.context ?? 48, m = o.span ?? 16;
  const docs = ordered(ctx.corpus.documents({ domain, split: o.split ?? "test" }), `cloze:${domain}`)
    .map((d) => ctx.tokenizer.encode(d.text))
    .filter((t) => t.length >= c + m);
  if (docs.length < choices) throw new Error(`cloze: the ${o.split ?? "test"} split of "${domain}" has only ${docs.length} documents of ≥ ${c + m} tokens; need ${choices}.`);
  const items: Item[] = [];
  for (let i = 0; i < Math.min(n, docs.length); i++) {
    const truth = docs[i].slice(c, c + m);
    const others = Array.from({ length: choices - 1 }, (_, j) => docs[(i + 1 + j) % docs.length].slice(c, c + m));
    const answer = i % choices; // rotate the true option's position
    const options = [...others];
    options.splice(answer, 0, truth);
    items.push({ context: docs[i].slice(0, c), options, answer });
  }
  return items;
}

/** Question/answer pairs of a math worksheet ("Q3. …\nAnswer: …"). */
export function parseWorksheet(text: string): Array<{ question: string; answer: string }> {
  const out: Array<{ question: string; answer: string }> = [];
  for (const m of text.matchAll(/^Q(\d+)\.\s*([^\n]+(?:\n(?!Answer:)[^\n]+)*)\nAnswer:\s*([^\n]+)/gm)) out.push({ question: `Q${m[1]}. ${m[2]}`, answer: m[3] });
  return out;
}

/** Math answer-choice items; `heldout` selects the family that never appears in training. */
export function mathItems(ctx: DataContext, heldout: boolean, o: TaskOptions = {}): Item[] {
  const n = o.n ?? 48, choices = o.choices ?? 4;
  const tok = ctx.tokenizer;
  const docs = ordered(
    ctx.corpus.documents({ domain: "math", split: o.split ?? "test" }).filter((d) => d.family.startsWith("heldout") === heldout),
    `math:${heldout}`,
  );
  const items: Item[] = [];
  for (const d of docs) {
    const qa = parseWorksheet(d.text);
    if (qa.length < choices) continue;
    for (let i = 0; i < qa.length && items.length < n; i++) {
      const answer = items.length % choices;
      const others = Array.from({ length: choices - 1 }, (_, j) => qa[(i + 1 + j) % qa.length].answer);
      const texts = [...others];
      texts.splice(answer, 0, qa[i].answer);
      items.push({ context: tok.encode(`${qa[i].question}\nAnswer:`), options: texts.map((t) => tok.encode(` ${t}`)), answer });
    }
    if (items.length >= n) break;
  }
  return items.filter((it) => it.context.length + Math.max(...it.options.map((x) => x.length)) <= 256);
}

/**
 * The toy tasks of a model: cloze for each of `domains` (default: its experts' domains and public),
 * math answers when math is among them.
 */
export async function tasks(model: FlexModel, opts: TaskOptions & { domains?: readonly string[] } = {}): Promise<TaskResult> {
  const ctx = model.data ?? (await defaultDataContext());
  return runTasks(model, ctx, opts.domains ?? defaultEvalDomains(model.config.experts, ctx), opts);
}

/** Run the toy tasks for `domains` (cloze each; math answers when math is among them). */
export async function runTasks(model: FlexModel, ctx: DataContext, domains: readonly string[], o: TaskOptions = {}): Promise<TaskResult> {
  const t0 = performance.now();
  const scores: TaskScore[] = [];
  const choices = o.choices ?? 4;
  const maxLen = model.config.maxSeqLen;
  for (const d of domains) {
    const items = clozeItems(ctx, d, o).filter((it) => it.context.length + it.options[0].length <= maxLen);
    scores.push(await score(model, `cloze:${d}`, items, choices));
    if (d === "math") {
      for (const heldout of [false, true]) {
        const mi = mathItems(ctx, heldout, o).filter((it) => it.context.length + Math.max(...it.options.map((x) => x.length)) <= maxLen);
        if (mi.length) scores.push(await score(model, heldout ? "math-answers:heldout" : "math-answers", mi, choices));
      }
    }
  }
  return new TaskResult(model.label, scores, (performance.now() - t0) / 1000);
}

export class TaskResult extends ResultRecord {
  /** Mean accuracy over tasks. */
  readonly average: number;
  constructor(
    readonly model: string,
    readonly scores: TaskScore[],
    readonly seconds: number,
  ) {
    super();
    this.average = scores.reduce((s, x) => s + x.accuracy, 0) / Math.max(1, scores.length);
  }
  accuracy(task: string): number {
    const s = this.scores.find((x) => x.task === task);
    if (!s) throw new Error(`No task "${task}" in this result (tasks: ${this.scores.map((x) => x.task).join(", ")}).`);
    return s.accuracy;
  }
  private table(): TableSpec {
    return { columns: ["task", "items", "accuracy %", "chance %"], rows: this.scores.map((s) => [s.task, s.items, 100 * s.accuracy, 100 * s.chance]), digits: 4 };
  }
  toString(): string {
    return textOf(`${this.model}: toy tasks (accuracy %, ${this.seconds.toFixed(1)} s)`, this.table());
  }
  override toJSON(): object {
    return this.pick("model", "scores", "average", "seconds");
  }
  /** Accuracy per task as bars, over the chance line. */
  override chart() {
    return barChart({
      title: `${this.model}: toy task accuracy`,
      categories: this.scores.map((s) => s.task),
      series: [{ name: "accuracy", values: this.scores.map((s) => s.accuracy) }],
      valueTitle: "accuracy",
      refLines: [{ value: this.scores[0]?.chance ?? 0.25, label: "chance" }],
    });
  }
  protected override html(fig: PlotlyFigure): HtmlPart[] {
    return [fig, this.table()];
  }
}
