/**
 * Shared machinery of the baselines (spec §7) and the comparison: parameter arithmetic, a stepwise
 * trainer for the baselines that train, and a windowed evaluator for models that are not one
 * FlexModel (ensembles, per-window soups, prompt routing).
 *
 * Every baseline here starts from the same public model and the same corpus as FlexOlmo, so a
 * difference in perplexity is a difference in method, not in data or initialisation.
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../../model/config";
import { cloneParams, disposeParams } from "../../model/model";
import { mapParams, type ModelParams } from "../../model/params";
import type { TrainConfig } from "../../train/config";
import type { FreezeSpec } from "../../train/freeze";
import { Trainer } from "../../train/trainer";
import { evalBatches, inputsAndTargets, tokenStreams, type DomainMix } from "../../data/batcher";
import { kernelAbortSignal } from "../../display/kernel-signal";
import type { DataCard, OptOutGuarantee, Provenance } from "../cards";
import type { DataContext } from "../context";
import { defaultDataContext } from "../context";
import { Lab, resumable, type TrainOptions } from "../lab";
import { FlexModel, type GenerateOptions } from "../model";
import { TrainRecord } from "../records";
import { EvalResult, type EvalRow, type GenerateResult } from "../results";

// ---------------------------------------------------------------------------------------------
// Inputs

/** Anything that is, or can give, a FlexModel: a FlexModel, `lab.publicModel()`, a dense expert, an owner. */
export type ModelSource = FlexModel | { model(): FlexModel };

/** The FlexModel behind a source (for trainable objects: a view over their live weights). */
export function flexModelOf(x: ModelSource, who: string): FlexModel {
  if (x instanceof FlexModel) return x;
  if (x && typeof (x as { model?: unknown }).model === "function") return (x as { model(): FlexModel }).model();
  throw new Error(`${who}: expected a model (a FlexModel, a PublicModel, a dense expert or an owner), got ${describe(x)}.`);
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (typeof x === "object") return (x as object).constructor?.name ?? "an object";
  return typeof x;
}

/** The lab a source came from, when it knows (PublicModel, dense expert, owner, trainable baseline). */
export function labOf(x: unknown): Lab | undefined {
  const l = (x as { lab?: unknown } | null)?.lab;
  return l instanceof Lab ? l : undefined;
}

/** Configs must agree on these to share a tokenizer and a trunk shape. */
export const ARCH_FIELDS = ["vocabSize", "dModel", "nLayers", "nHeads", "nKvHeads", "dFf", "maxSeqLen", "ropeTheta", "rmsNormEps"] as const;

/**
 * Throws, naming the first model that differs, unless every config has the same architecture
 * (and, with `sameExperts`, the same number of experts: parameter averaging needs identical shapes).
 */
export function checkSameArchitecture(models: ReadonlyArray<{ label: string; config: ModelConfig }>, what: string, opts: { sameExperts?: boolean; fields?: readonly (typeof ARCH_FIELDS)[number][] } = {}): void {
  const first = models[0];
  for (const m of models.slice(1)) {
    const diffs = (opts.fields ?? ARCH_FIELDS).filter((f) => m.config[f] !== first.config[f]).map((f) => `${f} ${m.config[f]} vs ${first.config[f]}`);
    if (opts.sameExperts && m.config.experts.length !== first.config.experts.length) diffs.push(`${m.config.experts.length} vs ${first.config.experts.length} experts`);
    if (diffs.length) {
      throw new Error(`${what}: "${m.label}" does not match "${first.label}" (${diffs.join(", ")}). ${what} needs models of one architecture: build them from the same public model and preset.`);
    }
  }
}

/** Labels must be unique: they name table rows, chart series and saved members. */
export function checkUniqueLabels(labels: readonly string[], what: string): void {
  const seen = new Set<string>();
  for (const l of labels) {
    if (seen.has(l)) throw new Error(`${what}: two models are labelled "${l}"; give one another label with model.named("…").`);
    seen.add(l);
  }
}

/** 32 bits of sha256: the lab's rule for deriving per-purpose seeds. */
export function hash32(s: string): number {
  return createHash("sha256").update(s).digest().readUInt32BE(0);
}

/**
 * The batch seed `lab.owner(domain)` trains with. A dense expert of the same domain uses it too, so
 * both see exactly the same windows in the same order: the only difference is what trains.
 */
export function ownerBatchSeed(lab: Lab, domain: string): number {
  return (lab.seed + hash32(`owner:${domain}`)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Parameter arithmetic

/**
 * Build new params by combining the same tensor of every input (all inputs must have equal shapes).
 * Kept as a name for `mapParams`, the schema-derived walk that does the work.
 */
export const zipParams: (ps: readonly ModelParams[], f: (ts: tf.Tensor[]) => tf.Tensor) => ModelParams = mapParams;

/**
 * Σ_i w_i θ_i for every tensor (new tensors; the caller owns them). Products then one addN, so
 * two identical inputs with weights ½, ½ give back the input bit for bit (×½ and x + x are exact
 * in binary floating point); other weights round at float32 precision (~6e-8 relative).
 */
export function weightedAverage(ps: readonly ModelParams[], weights: readonly number[]): ModelParams {
  if (ps.length === 0) throw new Error("weightedAverage: no parameter sets given.");
  if (weights.length !== ps.length) throw new Error(`weightedAverage: ${weights.length} weights for ${ps.length} parameter sets.`);
  if (weights.some((w) => !Number.isFinite(w))) throw new Error(`weightedAverage: weights must be finite numbers (got ${weights.join(", ")}).`);
  return mapParams(ps, (ts) => tf.tidy(() => (ts.length === 1 ? tf.mul(ts[0], weights[0]) : tf.addN(ts.map((t, i) => tf.mul(t, weights[i]))))));
}

/** A copy of a FlexModel that owns its tensors (same view, label, cards), so later training of the source cannot change it. */
export function ownedCopy(m: FlexModel, lab: Lab | undefined, label = m.label): FlexModel {
  return new FlexModel({
    config: m.config,
    params: cloneParams(m.params),
    cards: { ...m.cards },
    provenance: m.provenance,
    view: m.view,
    label,
    data: lab?.data,
    lab,
    tuning: m.tuning,
  });
}

/**
 * Provenance of a baseline: kind "baseline", the recipe and why its opt-out is what it is, and the
 * guarantee itself (which for baselines does not follow from router tuning). `routerTuned` stays
 * true only for recipes that really tuned a router.
 */
export function baselineProvenance(kind: Provenance["kind"], optOut: OptOutGuarantee, baseline: { method: string; note: string }, trunk?: string): Provenance {
  return { kind: "baseline", routerTuned: kind === "router-tuned", optOut, trunk, baseline };
}

/** A data card for a model trained by a baseline recipe (the same fields as an owner's). */
export function baselineCard(lab: Lab, expert: string, domains: readonly string[], tokensSeen: number, training: Record<string, unknown>, owner: string): DataCard {
  const docs = domains.flatMap((d) => lab.data.corpus.documents({ domain: d, split: "train" }));
  const now = new Date().toISOString();
  return {
    expert,
    owner,
    domain: domains.join("+"),
    licenses: [...new Set(docs.map((d) => d.license))].sort(),
    documents: docs.length,
    tokensSeen,
    training: { preset: lab.preset, ...training },
    seed: lab.seed,
    createdAt: now,
    updatedAt: now,
  };
}

// ---------------------------------------------------------------------------------------------
// Stepwise training of a baseline (dense experts, BTX, unrestricted MoE)

export interface TrainingRecipe {
  /** Training config (LR schedule, batch, routing during training). */
  tc: TrainConfig;
  /** What trains. */
  spec: FreezeSpec;
  /** Data: one domain or a weighted mix of the train split. */
  mix: DomainMix;
  /** Batch seed. */
  seed: number;
}

/**
 * A model a baseline trains, a few steps at a time (like `PublicModel`): `train({ steps })` again and
 * again continues one run. `model()` is a FlexModel view over the live weights.
 */
export abstract class TrainableBaseline {
  readonly config: ModelConfig;
  protected readonly paramsValue: ModelParams;
  private trainer?: Trainer;
  private readonly history: number[] = [];
  tokensSeen = 0;
  readonly createdAt = new Date().toISOString();

  constructor(
    readonly lab: Lab,
    /** Short name for records ("dense expert math"). */
    readonly what: string,
    readonly label: string,
    config: ModelConfig,
    params: ModelParams,
    protected readonly recipe: TrainingRecipe,
  ) {
    this.config = config;
    this.paramsValue = params;
  }

  get params(): ModelParams {
    return this.paramsValue;
  }

  get step(): number {
    return this.trainer?.step ?? 0;
  }

  async train(opts: TrainOptions): Promise<TrainRecord> {
    if (!opts || !Number.isInteger(opts.steps) || opts.steps < 0) throw new Error(`${this.what}.train: pass { steps: N } with N a non-negative integer.`);
    if (!this.trainer) {
      const batches = await this.lab.batches(this.recipe.mix, this.recipe.seed, this.recipe.tc);
      this.trainer = new Trainer(this.paramsValue, this.config, this.recipe.tc, resumable(batches), this.recipe.spec);
    }
    const res = await this.trainer.steps(opts.steps, { signal: opts.signal ?? kernelAbortSignal(), onProgress: opts.onProgress });
    this.history.push(...res.losses);
    this.tokensSeen += res.tokens;
    return TrainRecord.fromSteps(this.what, res, [...this.history]);
  }

  /** A FlexModel view over the live weights (training this object further changes it). */
  abstract model(): FlexModel;

  evaluate(opts: Parameters<FlexModel["evaluate"]>[0] = {}): Promise<EvalResult> {
    return this.model().evaluate(opts);
  }

  generate(prompt: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
    return this.model().generate(prompt, opts);
  }

  /** Save the weights as a Hugging Face FlexOlmo checkpoint (the optimizer state is not kept). */
  save(dir: string): Promise<void> {
    return this.model().save(dir);
  }

  dispose(): void {
    this.trainer?.dispose();
    this.trainer = undefined;
    disposeParams(this.paramsValue);
  }
}

// ---------------------------------------------------------------------------------------------
// Windowed evaluation for models that are not one FlexModel

/** The options every comparable model's `evaluate` accepts (a subset of FlexModel's). */
export interface WindowEvalOptions {
  domains?: readonly string[];
  split?: "train" | "valid" | "test";
  maxWindows?: number;
  seqLen?: number;
  batchSize?: number;
  /** A model to compare against (its perplexities and the relative improvement join the result). */
  reference?: { evaluate(opts: WindowEvalOptions): Promise<EvalResult> };
}

/** One batch of evaluation windows, plus the text before each window (for input-dependent weights). */
export interface ScoreBatch {
  /** [B, T] inputs and [B, T] targets, row-major. */
  inputs: Int32Array;
  targets: Int32Array;
  B: number;
  T: number;
  domain: string;
  /**
   * Per row: the stream tokens before the window's first target — the previous window's T + 1
   * tokens (ending with this window's first input), or just that one token for the first window.
   * None of them is a target of this window, so weights computed from them cannot leak a target.
   */
  contexts: Int32Array[];
}

export interface WindowEvaluator {
  label: string;
  experts: string[];
  optOut: OptOutGuarantee;
  data: DataContext | undefined;
  maxSeqLen: number;
  /** Domains when the caller names none. */
  defaultDomains: string[];
  /** Per row, the summed negative log-likelihood (nats) of its T targets. */
  score(b: ScoreBatch): Promise<Float64Array>;
}

/**
 * Per-domain perplexity over the same windows `FlexModel.evaluate` uses (same split, window
 * placement, seqLen and batching defaults), so the numbers of every model in a comparison are
 * over identical tokens.
 */
export async function evaluateWindows(ev: WindowEvaluator, opts: WindowEvalOptions = {}): Promise<EvalResult> {
  const ctx = ev.data ?? (await defaultDataContext());
  const split = opts.split ?? "test";
  const domains = opts.domains ?? ev.defaultDomains;
  if (domains.length === 0) throw new Error('evaluate: no domains given; pass e.g. { domains: ["math", "public"] }.');
  for (const d of domains) ctx.checkDomain(d);
  const seqLen = Math.min(opts.seqLen ?? ctx.seqLen, ev.maxSeqLen);
  const t0 = performance.now();
  const streams = await tokenStreams(ctx.corpus, ctx.tokenizer, { split, domains });
  const sums = new Map<string, { nll: number; tokens: number }>();
  for (const batch of evalBatches(streams, { batchSize: opts.batchSize ?? 16, seqLen, domains, maxWindows: opts.maxWindows ?? 32 })) {
    const { inputs, targets } = inputsAndTargets(batch);
    const d = batch.domains[0]; // eval batches never mix domains
    const T = batch.seqLen;
    const stream = streams[d];
    const contexts = batch.windows.map((k) => stream.subarray(Math.max(0, (k - 1) * T), k * T + 1));
    const nll = await ev.score({ inputs, targets, B: batch.batchSize, T, domain: d, contexts });
    const s = sums.get(d) ?? { nll: 0, tokens: 0 };
    for (const x of nll) s.nll += x;
    s.tokens += batch.batchSize * T;
    sums.set(d, s);
    await new Promise((r) => setImmediate(r)); // keep the kernel responsive
  }
  const rows: EvalRow[] = domains.map((d) => {
    const s = sums.get(d);
    if (!s || s.tokens === 0) throw new Error(`evaluate: the ${split} split of "${d}" has too few tokens for one window of ${seqLen + 1}.`);
    const loss = s.nll / s.tokens;
    return { domain: d, tokens: s.tokens, loss, ppl: Math.exp(loss) };
  });
  const reference = opts.reference ? await opts.reference.evaluate({ ...opts, reference: undefined, domains }) : undefined;
  return new EvalResult({ model: ev.label, experts: ev.experts, optOut: ev.optOut, split, seqLen, rows, reference, seconds: (performance.now() - t0) / 1000 });
}

/**
 * log p(target) at every position of a [B, T] batch under one model (its view applies): [B·T].
 * Computed as z[y] − logsumexp(z) on the backend; read back as a fresh array.
 */
export async function targetLogProbs(m: FlexModel, inputs: Int32Array, targets: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
  const V = m.config.vocabSize;
  const flat = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) flat[i] = i * V + targets[i]; // position of each target in the flat [N·V] logits
  const lp = tf.tidy(() => {
    const ids = tf.tensor2d(inputs, [B, T], "int32");
    const z = tf.reshape(m.logits(ids), [B * T, V]); // [N, V]
    const zy = tf.gather(tf.reshape(z, [B * T * V]), tf.tensor1d(flat, "int32")); // [N]
    return tf.sub(zy, tf.logSumExp(z, 1)); // [N]
  });
  const out = Float32Array.from(await lp.data());
  lp.dispose();
  return out;
}

/** Inputs and targets of a token sequence: ids[:-1] and ids[1:] as one row (T = length − 1). */
export function shiftRow(ids: ArrayLike<number>): { inputs: Int32Array; targets: Int32Array; T: number } {
  const T = ids.length - 1;
  const inputs = new Int32Array(T), targets = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    inputs[t] = ids[t];
    targets[t] = ids[t + 1];
  }
  return { inputs, targets, T };
}

/**
 * softmax(s) restricted to the `k` largest scores (ties: lower index), renormalised over them;
 * the others get weight 0. With k ≥ s.length this is the plain softmax.
 */
export function topKSoftmax(s: ArrayLike<number>, k: number): Float64Array {
  const n = s.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b] - s[a] || a - b);
  const keep = order.slice(0, Math.min(k, n));
  const m = s[keep[0]];
  const w = new Float64Array(n);
  let z = 0;
  for (const i of keep) z += (w[i] = Math.exp(s[i] - m));
  for (const i of keep) w[i] /= z;
  return w;
}

/** Data context of a source when known (for tokenizing prompts and finding the corpus). */
export async function dataOf(lab: Lab | undefined): Promise<DataContext> {
  return lab?.data ?? (await defaultDataContext());
}
