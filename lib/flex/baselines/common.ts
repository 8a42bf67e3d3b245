/**
 * Shared machinery of the baselines (docs/method.md §7): inputs, parameter arithmetic, and the
 * stepwise training of the baselines that train (through the one TrainingSession).
 *
 * Every baseline here starts from the same public model and the same corpus as FlexOlmo, so a
 * difference in perplexity is a difference in method, not in data or initialisation.
 */
import * as tf from "../../tf";
import { ARCH_FIELDS, type ModelConfig } from "../../model/config";
import { inspect } from "node:util";
import { cloneParams, disposeParams } from "../../model/model";
import { mapParams, type ModelParams } from "../../model/params";
import type { TrainConfig } from "../../train/config";
import type { FreezeSpec } from "../../train/freeze";
import { resumable, TrainingSession, type TrainOptions } from "../../train/session";
import type { DomainMix } from "../../data/batcher";
import type { DataCard, OptOutGuarantee, Provenance } from "../cards";
import type { DataContext, LabContext } from "../context";
import { defaultDataContext } from "../context";
import type { WindowEvalOptions } from "../evaluate";
import { FlexModel, type GenerateOptions } from "../model";
import { TrainRecord } from "../records";
import type { EvalResult, GenerateResult } from "../results";


// ---------------------------------------------------------------------------------------------
// Inputs

/** Anything that is, or can give, a FlexModel: a FlexModel, the public model, a dense expert, an owner. */
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

/** The data a source evaluates on, when it knows (a FlexModel's, or a trainable object's lab's). */
export function dataOfSource(x: unknown): DataContext | undefined {
  if (x instanceof FlexModel) return x.data;
  const l = (x as { lab?: { data?: DataContext } } | null)?.lab;
  return l?.data;
}

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

// ---------------------------------------------------------------------------------------------
// Parameter arithmetic

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
export function ownedCopy(m: FlexModel, data: DataContext | undefined, label = m.label): FlexModel {
  return new FlexModel({
    config: m.config,
    params: cloneParams(m.params),
    owns: true,
    cards: { ...m.cards },
    provenance: m.provenance,
    view: m.view,
    label,
    data: data ?? m.data,
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
export function baselineCard(lab: Pick<LabContext, "data" | "preset" | "seed">, expert: string, domains: readonly string[], tokensSeen: number, training: Record<string, unknown>, owner: string): DataCard {
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
  /** Warm-up steps of a `train` call of n steps (default: the session's, 10 %). */
  warmup?: (steps: number) => number;
}

/**
 * A model a baseline trains, a few steps at a time (like `PublicModel`): `train({ steps })` again and
 * again continues one run. `model()` is a FlexModel view over the live weights.
 */
export abstract class TrainableBaseline {
  readonly config: ModelConfig;
  protected readonly paramsValue: ModelParams;
  private readonly session: TrainingSession;
  readonly createdAt = new Date().toISOString();

  constructor(
    readonly lab: LabContext,
    /** Short name for records ("dense expert math"). */
    readonly what: string,
    readonly label: string,
    config: ModelConfig,
    params: ModelParams,
    protected readonly recipe: TrainingRecipe,
  ) {
    this.config = config;
    this.paramsValue = params;
    this.session = new TrainingSession(what, async () => ({
      params: this.paramsValue,
      cfg: this.config,
      tc: this.recipe.tc,
      batches: resumable(await this.lab.batches(this.recipe.mix, this.recipe.seed, this.recipe.tc)),
      spec: this.recipe.spec,
    }));
  }

  get tokensSeen(): number {
    return this.session.tokensSeen;
  }

  get params(): ModelParams {
    return this.paramsValue;
  }

  get step(): number {
    return this.session.step;
  }

  /** Train `steps` more steps; each call has its own LR schedule unless `schedule` says otherwise. */
  async train(opts: TrainOptions): Promise<TrainRecord> {
    const warmup = this.recipe.warmup;
    const schedule = opts?.schedule ?? (warmup && Number.isInteger(opts?.steps) && opts.steps > 0 ? { warmupSteps: warmup(opts.steps) } : undefined);
    const run = await this.session.train({ ...opts, schedule });
    return TrainRecord.fromSteps(this.what, run.result, run.history);
  }

  /** A FlexModel view over the live weights (training this object further changes it). */
  abstract model(): FlexModel;

  evaluate(opts: WindowEvalOptions = {}): Promise<EvalResult> {
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
    this.session.dispose();
    disposeParams(this.paramsValue);
  }

  /** One line: what it is, its label and how far it trained. */
  toString(): string {
    return `${this.what} "${this.label}": ${this.step} step${this.step === 1 ? "" : "s"}, experts ${this.config.experts.join(", ")}`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field and tensor. */
  [inspect.custom](): string {
    return this.toString();
  }
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

/** A data context, or the shipped one (for tokenizing prompts and finding the corpus). */
export async function dataOf(data: DataContext | undefined): Promise<DataContext> {
  return data ?? (await defaultDataContext());
}
