/**
 * The ensemble baselines' common base (docs/method.md §7): each holds its own copies of its member
 * models and behaves like a model: `evaluate`, `generate`, `attribution` (which member produced
 * what), `manifest`, `without` (drop members: exact opt-out, as the members never saw each other's
 * data), `save` / `loadEnsemble`, `dispose`, and `scoreOptions` for the toy tasks.
 *
 * WHICH TOKENS THE WEIGHTS USE (so no evaluation target leaks into its own prediction):
 *   - soup (likelihood) and prompt routing choose per evaluation window from the text BEFORE the
 *     window's first target: the previous window of the stream (T + 1 tokens ending with this
 *     window's first input). The first window of a stream has no such text: the soup falls back to
 *     uniform weights, routing classifies that single token. In `generate`, the prompt decides.
 *   - BTM weighs per position t from the targets before t within the window (the prefix up to
 *     each position), as BTM's Bayesian ensemble does; position 0 gets uniform weights.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { inspect } from "node:util";
import type { DataCard, OptOutGuarantee } from "../cards";
import { OPT_OUT_NOTE } from "../cards";
import type { DataContext } from "../context";
import { evaluateWindows, type ScoreBatch, type WindowEvalOptions } from "../evaluate";
import { shiftRow, targetLogProbs } from "../likelihood";
import type { FlexModel, GenerateOptions } from "../model";
import type { AttributionResult, EvalResult, GenerateResult } from "../results";
import { ManifestResult } from "../results";
import { checkSameArchitecture, checkUniqueLabels, dataOf, dataOfSource, flexModelOf, ownedCopy, type ModelSource } from "./common";
import { makeDirs } from "../../util/fs";


/** How a model's fit to the context becomes its score: total NLL (Bayes' rule) or NLL per token. */
export type LikelihoodMode = "sum" | "mean";

/** The options every ensemble takes: what its constructor passes on to `Ensemble`. */
export interface EnsembleOptions {
  label?: string;
  /** Where its data comes from (a lab or anything with `data`); default: the members' data. */
  lab?: { data: DataContext };
}

/**
 * The ensembles whose member weights are softmax(−L/τ) of each member's NLL L of the context (BTM,
 * the likelihood soup). Each states its defaults: they differ (see its options' comment).
 */
export interface LikelihoodWeightOptions extends EnsembleOptions {
  /** Temperature τ of softmax(−L/τ), in nats. */
  tau?: number;
  /** "sum": L is the context's total NLL (Bayes' rule); "mean": its NLL per token. */
  likelihood?: LikelihoodMode;
}

/** Saved next to the members by `save(dir)`. */
export interface EnsembleFile {
  format: "flexolmo-ensemble-v1";
  kind: "btm" | "soup-likelihood" | "prompt-routing";
  label: string;
  options: Record<string, unknown>;
  members: Array<{ label: string; dir: string; domain?: string }>;
}

export abstract class Ensemble {
  readonly label: string;
  /** The members, in order (owned copies: the ensemble is unaffected by later training of the sources). */
  readonly members: FlexModel[];
  /** The corpus and tokenizer it evaluates on (undefined: the shipped ones). */
  readonly data?: DataContext;

  constructor(sources: readonly ModelSource[], label: string, who: string, lab?: { data: DataContext }) {
    if (!Array.isArray(sources) || sources.length === 0) throw new Error(`${who}: pass at least one model, e.g. ${who}([pub, math, code]).`);
    const ms = sources.map((s) => flexModelOf(s, who));
    checkUniqueLabels(ms.map((m) => m.label), who);
    // Every member predicts over the same tokens: the vocabularies must agree (architectures may differ).
    checkSameArchitecture(ms, who, { fields: ["vocabSize"] });
    this.data = lab?.data ?? sources.map(dataOfSource).find((d) => d !== undefined);
    this.members = ms.map((m) => ownedCopy(m, this.data));
    this.label = label;
  }

  abstract readonly kind: EnsembleFile["kind"];
  protected abstract options(): Record<string, unknown>;
  /** A new ensemble of the same kind and options over `members` (copied). */
  protected abstract rebuild(members: FlexModel[]): Ensemble;

  /** The label and data of `rebuild`'s ensemble: this one's, the label naming the dropped members. */
  protected rebuiltOptions(members: FlexModel[]): EnsembleOptions {
    return { label: `${this.label} − ${this.experts.filter((e) => !members.some((m) => m.label === e)).join(", ")}`, lab: this.data && { data: this.data } };
  }
  /** Per row of the batch, the summed NLL of its targets. */
  protected abstract score(b: ScoreBatch): Promise<Float64Array>;
  /** Log-likelihood of each option after `context` (the toy tasks), scored as this ensemble scores a window. */
  abstract scoreOptions(context: number[], options: number[][]): Promise<number[]>;
  abstract generate(prompt: string, opts?: GenerateOptions): Promise<GenerateResult>;
  abstract attribution(text: string): Promise<AttributionResult>;

  /** Member labels (the "experts" of this model). */
  get experts(): string[] {
    return this.members.map((m) => m.label);
  }

  /**
   * Dropping a member removes every weight trained on its data when members are separate models
   * of disjoint closed data (public model + dense experts): exact. A member that itself mixes data
   * with approximate opt-out (e.g. a router-tuned MoE) makes the whole ensemble approximate.
   */
  get optOut(): OptOutGuarantee {
    return this.members.every((m) => m.config.experts.length === 1 || m.optOut === "exact") ? "exact" : "approximate";
  }

  protected async ctx(): Promise<DataContext> {
    return dataOf(this.data);
  }

  /** Per-domain perplexity over the same windows as `FlexModel.evaluate`. */
  evaluate(opts: WindowEvalOptions = {}): Promise<EvalResult> {
    return this.ctx().then((ctx) =>
      evaluateWindows(
        {
          label: this.label,
          experts: this.experts,
          optOut: this.optOut,
          data: ctx,
          maxSeqLen: Math.min(...this.members.map((m) => m.config.maxSeqLen)),
          defaultDomains: (c) => defaultDomains(this.members, c),
          score: async (b) => sumOf(await this.score(b)),
        },
        opts,
      ),
    );
  }

  /** The ensemble without some members (by label): a new ensemble; this one is untouched. */
  without(...labels: string[]): Ensemble {
    for (const l of labels) if (!this.experts.includes(l)) throw new Error(`without: unknown member "${l}". Members: ${this.experts.join(", ")}.`);
    const keep = this.members.filter((m) => !labels.includes(m.label));
    if (keep.length === 0) throw new Error("without: that would drop every member; keep at least one.");
    return this.rebuild(keep);
  }

  /** The data in effect: every member's data cards. */
  manifest(): ManifestResult {
    const cards = new Map<string, DataCard>();
    for (const m of this.members) for (const c of m.manifest().active) if (!cards.has(c.expert)) cards.set(c.expert, c);
    return new ManifestResult({
      model: this.label,
      optOut: this.optOut,
      note: this.optOut === "exact" ? "Opt-out is exact: drop the member trained on that data with without(label); no other member saw it." : OPT_OUT_NOTE.approximate,
      active: [...cards.values()],
      excluded: [],
      provenance: { kind: "baseline", routerTuned: false, optOut: this.optOut, baseline: { method: this.kind, note: "an ensemble of separate models" } },
    });
  }

  /** Save every member (as a FlexOlmo checkpoint) and `ensemble.json`, written last and atomically. */
  async save(dir: string): Promise<void> {
    makeDirs(dir);
    const members: EnsembleFile["members"] = [];
    for (let i = 0; i < this.members.length; i++) {
      const rel = path.join("members", String(i).padStart(2, "0"));
      await this.members[i].save(path.join(dir, rel));
      members.push({ label: this.members[i].label, dir: rel, ...this.memberExtra(i) });
    }
    const file: EnsembleFile = { format: "flexolmo-ensemble-v1", kind: this.kind, label: this.label, options: this.options(), members };
    const target = path.join(dir, "ensemble.json");
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(file, null, 2));
    fs.renameSync(tmp, target);
  }

  protected memberExtra(_i: number): { domain?: string } {
    return {};
  }

  toString(): string {
    return `${this.label}: ${this.kind} over ${this.experts.join(", ")} (opt-out ${this.optOut})`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field and tensor. */
  [inspect.custom](): string {
    return this.toString();
  }

  dispose(): void {
    for (const m of this.members) m.dispose(); // owned copies (ownedCopy): this frees their tensors
  }
}

export function defaultDomains(members: FlexModel[], ctx: DataContext): string[] {
  const ds = [...new Set(members.flatMap((m) => m.config.experts))].filter((e) => ctx.domains.includes(e) && e !== "public");
  if (ctx.domains.includes("public")) ds.push("public");
  return ds;
}

/**
 * Each member's NLL of each token sequence (length ≥ 2), as "sum" or "mean" over its tokens after
 * the first: [sequence][member]. Sequences of one length go through each
 * member as one batch (an evaluation's contexts are nearly all T + 1 tokens long), so a member reads
 * them in one forward pass instead of one pass per sequence.
 */
export async function sequenceNlls(members: FlexModel[], seqs: ReadonlyArray<ArrayLike<number>>, mode: LikelihoodMode): Promise<number[][]> {
  const out: number[][] = seqs.map(() => new Array<number>(members.length));
  const byLength = new Map<number, number[]>(); // length → indices of seqs
  seqs.forEach((q, i) => {
    if (q.length < 2) throw new Error(`sequenceNlls: a sequence needs at least 2 tokens (got ${q.length}).`);
    byLength.set(q.length, [...(byLength.get(q.length) ?? []), i]);
  });
  for (const idx of byLength.values()) {
    const rows = idx.map((i) => shiftRow(seqs[i]));
    const B = rows.length, T = rows[0].T;
    const inputs = new Int32Array(B * T), targets = new Int32Array(B * T); // [B, T]
    rows.forEach((r, b) => {
      inputs.set(r.inputs, b * T);
      targets.set(r.targets, b * T);
    });
    for (let m = 0; m < members.length; m++) {
      const lp = await targetLogProbs(members[m], inputs, targets, B, T); // [B·T]
      idx.forEach((i, b) => {
        let s = 0;
        for (let t = 0; t < T; t++) s -= lp[b * T + t];
        out[i][m] = mode === "sum" ? s : s / T;
      });
    }
  }
  return out;
}

export function checkTau(tau: number, who: string): void {
  if (!(typeof tau === "number" && tau > 0 && Number.isFinite(tau))) throw new Error(`${who}: tau must be a positive number (got ${tau}).`);
}

export function checkMode(m: string, who: string): asserts m is LikelihoodMode {
  if (m !== "sum" && m !== "mean") throw new Error(`${who}: likelihood must be "sum" or "mean" (got ${JSON.stringify(m)}).`);
}

/** Tokens of a prompt (an empty prompt starts a fresh document, as in FlexModel.generate). */
export function promptIds(ctx: DataContext, prompt: string): number[] {
  const ids = ctx.tokenizer.encode(prompt);
  if (ids.length === 0) ids.push(ctx.tokenizer.eosId);
  return ids;
}

/** Σ of a batch's per-row NLLs. */
function sumOf(rows: Float64Array): number {
  let s = 0;
  for (const x of rows) s += x;
  return s;
}

