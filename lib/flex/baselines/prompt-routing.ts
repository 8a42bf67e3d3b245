/**
 * Prompt routing (docs/method.md §7): a domain classifier picks ONE member per prompt or window.
 */
import { trainDomainClassifier, type DomainClassifier } from "../../data/classifier";
import type { DataContext } from "../context";
import type { ScoreBatch } from "../evaluate";
import { targetLogProbs } from "../likelihood";
import type { FlexModel, GenerateOptions } from "../model";
import { AttributionResult, GenerateResult } from "../results";
import { checkUniqueLabels, type ModelSource } from "./common";
import { DenseExpert } from "./dense";
import { Ensemble, promptIds, type EnsembleOptions } from "./ensemble";
// ---------------------------------------------------------------------------------------------
// Prompt routing

const classifierCache = new WeakMap<DataContext, DomainClassifier>();

/**
 * The naive-Bayes domain classifier (lib/data/classifier) over EVERY corpus domain, public
 * included, so public-looking text can go to the public model (`lab.classifier()` leaves public
 * out: it ranks public documents for router-tuning proxies). Cached per data context.
 */
export function routingClassifier(ctx: DataContext): DomainClassifier {
  let c = classifierCache.get(ctx);
  if (!c) {
    const docs = ctx.domains.flatMap((d) => ctx.corpus.documents({ domain: d, split: "train" }));
    c = trainDomainClassifier(docs.map((x) => ({ domain: x.domain, text: x.text })));
    classifierCache.set(ctx, c);
  }
  return c;
}

export interface PromptRoutingOptions extends EnsembleOptions {
  /** A classifier with a class per domain (default: `routingClassifier`, public included). */
  classifier?: DomainClassifier;
}

/**
 * Prompt routing (docs/method.md §7): a domain classifier reads the prompt (in evaluation: the text before
 * the window) and ONE model answers — the dense expert of the predicted domain, or the public model
 * when the text looks public or no expert exists for that domain.
 */
export class PromptRouting extends Ensemble {
  readonly kind = "prompt-routing" as const;
  /** Domain of each member; index 0 is the public model. */
  readonly domains: string[];
  private readonly classifier?: DomainClassifier;

  constructor(pub: ModelSource, experts: readonly ModelSource[], opts: PromptRoutingOptions = {}) {
    if (!Array.isArray(experts) || experts.length === 0) throw new Error("promptRouting: pass at least one dense expert, e.g. promptRouting(pub, [math, code]).");
    super([pub, ...experts], opts.label ?? "prompt routing", "promptRouting", opts.lab);
    this.domains = ["public", ...experts.map((e, i) => (e instanceof DenseExpert ? e.domain : this.members[i + 1].config.experts[0]))];
    checkUniqueLabels(this.domains, "promptRouting (expert domains)");
    this.classifier = opts.classifier;
  }

  protected options(): Record<string, unknown> {
    return {};
  }

  protected override memberExtra(i: number): { domain?: string } {
    return { domain: this.domains[i] };
  }

  protected rebuild(members: FlexModel[]): PromptRouting {
    if (members[0] !== this.members[0]) throw new Error("without: prompt routing falls back to the public model; it cannot be dropped.");
    const idx = members.map((m) => this.members.indexOf(m));
    const r = new PromptRouting(members[0], members.slice(1), { classifier: this.classifier, ...this.rebuiltOptions(members) });
    idx.forEach((j, k) => (r.domains[k] = this.domains[j]));
    return r;
  }

  private async clf(): Promise<DomainClassifier> {
    return this.classifier ?? routingClassifier(await this.ctx());
  }

  /** The member that answers `text`: the predicted domain's expert, else the public model (index 0). */
  async route(text: string): Promise<{ domain: string; member: number }> {
    const d = (await this.clf()).classify(text).domain;
    const j = this.domains.indexOf(d);
    return { domain: d, member: j > 0 ? j : 0 };
  }

  protected async score(b: ScoreBatch): Promise<Float64Array> {
    const ctx = await this.ctx();
    const groups = new Map<number, number[]>();
    for (let r = 0; r < b.B; r++) {
      const { member } = await this.route(ctx.tokenizer.decode(b.contexts[r]));
      groups.set(member, [...(groups.get(member) ?? []), r]);
    }
    const out = new Float64Array(b.B);
    for (const [j, rows] of groups) {
      const inputs = new Int32Array(rows.length * b.T), targets = new Int32Array(rows.length * b.T); // [B_j, T]
      rows.forEach((r, k) => {
        inputs.set(b.inputs.subarray(r * b.T, (r + 1) * b.T), k * b.T);
        targets.set(b.targets.subarray(r * b.T, (r + 1) * b.T), k * b.T);
      });
      const lp = await targetLogProbs(this.members[j], inputs, targets, rows.length, b.T);
      rows.forEach((r, k) => {
        for (let t = 0; t < b.T; t++) out[r] -= lp[k * b.T + t];
      });
    }
    return out;
  }

  /** The classifier reads the context; the chosen member scores the options. */
  async scoreOptions(context: number[], options: number[][]): Promise<number[]> {
    const ctx = await this.ctx();
    const { member } = await this.route(ctx.tokenizer.decode(context));
    return this.members[member].scoreOptions(context, options);
  }

  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const { member } = await this.route(prompt);
    const res = await this.members[member].generate(prompt, opts);
    return new GenerateResult({ model: `${this.label} → ${this.members[member].label}`, prompt: res.prompt, completion: res.completion, tokens: res.tokens, seed: res.seed });
  }

  /** The one member that would answer this text gets every token. */
  async attribution(text: string): Promise<AttributionResult> {
    const ctx = await this.ctx();
    const ids = promptIds(ctx, text);
    const { member } = await this.route(text);
    const row = this.members.map((_, j) => (j === member ? 1 : 0));
    return new AttributionResult({ model: this.label, experts: this.experts, owners: this.domains, tokens: ids.map((i) => ctx.tokenizer.decode([i])), shares: ids.map(() => [...row]) });
  }
}

