/**
 * The likelihood-weighted model soup (docs/method.md §7): per evaluation window (or prompt), the
 * parameters are Σ_i w_i θ_i with weights from each member's fit to the text before it.
 */
import type { ScoreBatch } from "../evaluate";
import { targetLogProbs } from "../likelihood";
import { FlexModel, type GenerateOptions } from "../model";
import { AttributionResult, type GenerateResult } from "../results";
import { checkSameArchitecture, topKSoftmax, weightedAverage, type ModelSource } from "./common";
import { checkMode, checkTau, Ensemble, promptIds, sequenceNlls, type LikelihoodMode, type LikelihoodWeightOptions } from "./ensemble";
// ---------------------------------------------------------------------------------------------
// Model soup, likelihood-weighted

/**
 * Defaults: τ = 1 and likelihood "mean" (NLL per token of the context), so weights stay a blend (a
 * soup) instead of collapsing onto one model as a 128-token total NLL would.
 */
export type LikelihoodSoupOptions = LikelihoodWeightOptions;

/**
 * Model soup with input-dependent weights (docs/method.md §7): for each evaluation window (or prompt), the
 * parameters are Σ_i w_i θ_i with w = softmax_i(−L_i/τ), L_i = model i's NLL of the context (see the
 * file comment for which tokens). All members need one architecture (same shapes).
 */
export class LikelihoodSoup extends Ensemble {
  readonly kind = "soup-likelihood" as const;
  readonly tau: number;
  readonly likelihood: LikelihoodMode;

  constructor(sources: readonly ModelSource[], opts: LikelihoodSoupOptions = {}) {
    super(sources, opts.label ?? "soup (likelihood)", "likelihoodSoup", opts.lab);
    checkSameArchitecture(this.members, "likelihoodSoup", { sameExperts: true });
    this.tau = opts.tau ?? 1;
    this.likelihood = opts.likelihood ?? "mean";
    checkTau(this.tau, "likelihoodSoup");
    checkMode(this.likelihood, "likelihoodSoup");
  }

  protected options(): Record<string, unknown> {
    return { tau: this.tau, likelihood: this.likelihood };
  }

  protected rebuild(members: FlexModel[]): LikelihoodSoup {
    return new LikelihoodSoup(members, { tau: this.tau, likelihood: this.likelihood, ...this.rebuiltOptions(members) });
  }

  /** Soup weights for a context (uniform when it has fewer than 2 tokens). */
  async weights(context: ArrayLike<number>): Promise<number[]> {
    return (await this.weightsOf([context]))[0];
  }

  /** `weights` of many contexts, each member reading them in batches (one per context length). */
  private async weightsOf(contexts: ReadonlyArray<ArrayLike<number>>): Promise<number[][]> {
    const M = this.members.length;
    const long = contexts.map((_, i) => i).filter((i) => contexts[i].length >= 2);
    const L = await sequenceNlls(this.members, long.map((i) => contexts[i]), this.likelihood);
    const out: number[][] = contexts.map(() => new Array(M).fill(1 / M));
    long.forEach((i, j) => (out[i] = Array.from(topKSoftmax(L[j].map((l) => -l / this.tau), M))));
    return out;
  }

  /** A temporary model that owns the soup's parameters for these weights (dispose it). */
  private souped(w: readonly number[]): FlexModel {
    const m0 = this.members[0];
    return new FlexModel({ config: m0.config, params: weightedAverage(this.members.map((m) => m.params), w), provenance: { kind: "merged", routerTuned: false }, view: m0.view, label: this.label, data: this.data, owns: true });
  }

  protected async score(b: ScoreBatch): Promise<Float64Array> {
    const out = new Float64Array(b.B);
    const ws = await this.weightsOf(b.contexts);
    for (let r = 0; r < b.B; r++) {
      const m = this.souped(ws[r]);
      try {
        const lp = await targetLogProbs(m, b.inputs.subarray(r * b.T, (r + 1) * b.T), b.targets.subarray(r * b.T, (r + 1) * b.T), 1, b.T);
        for (const x of lp) out[r] -= x;
      } finally {
        m.dispose();
      }
    }
    return out;
  }

  /** Weights from the context alone (as its evaluation uses the text before a window), then the souped model scores the options. */
  async scoreOptions(context: number[], options: number[][]): Promise<number[]> {
    const m = this.souped(await this.weights(context));
    try {
      return await m.scoreOptions(context, options);
    } finally {
      m.dispose();
    }
  }

  /** The prompt sets the weights (its own NLL under each member); the soup then generates as one model. */
  async generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    const ctx = await this.ctx();
    const w = await this.weights(promptIds(ctx, prompt).slice(-this.members[0].config.maxSeqLen));
    const m = this.souped(w);
    try {
      return await m.generate(prompt, opts);
    } finally {
      m.dispose();
    }
  }

  /** The weights this text gets (every token of it shares them). */
  async attribution(text: string): Promise<AttributionResult> {
    const ctx = await this.ctx();
    const ids = promptIds(ctx, text).slice(0, this.members[0].config.maxSeqLen);
    const w = await this.weights(ids);
    return new AttributionResult({ model: this.label, experts: this.experts, owners: this.experts, tokens: ids.map((i) => ctx.tokenizer.decode([i])), shares: ids.map(() => [...w]) });
  }
}

