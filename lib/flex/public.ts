/**
 * The public model: the dense model every owner starts from (docs/method.md §1, §3 step 1). It trains
 * on the public split through a TrainingSession; `model()` is a FlexModel view over its live weights.
 *
 * Ownership: the PublicModel owns its parameters and its session (optimizer moments, or the
 * optimizer state loaded from a checkpoint until training starts); `dispose()` frees both, once.
 * `model()` borrows the live tensors (its dispose frees nothing), `snapshot()` hands out copies the
 * caller owns. After `dispose()` every method that needs the weights throws a clear error.
 */
import { inspect } from "node:util";
import type { ModelConfig } from "../model/config";
import { cloneParams, disposeParams } from "../model/model";
import type { ModelParams } from "../model/params";
import type { TrainConfig } from "../train/config";
import { checkOptionKeys } from "../util/options";
import { TRAIN_OPTION_KEYS, withTrainView } from "./train-view";
import { resumable, TrainingSession, type ResumePoint, type TrainOptions } from "../train/session";
import type { DataCard } from "./cards";
import type { LabContext } from "./context";
import { FlexModel } from "./model";
import { TrainRecord } from "./records";
import { trunkFingerprint } from "./trunk";
import { hfTokenizerFiles } from "../io/hf-tokenizer";

/** Where a loaded public model's earlier training came from (a checkpoint without optimizer state). */
export interface Pretrained {
  /** Steps and tokens trained before it was loaded. */
  steps: number;
  tokens: number;
  /** The checkpoint folder. */
  from: string;
  /** true for the model shipped with the package (data/public-<preset>). */
  shipped: boolean;
  /** The command that built it, when its card records one. */
  command?: string;
}

export class PublicModel {
  readonly config: ModelConfig;
  /** Live parameters: training replaces these tensors. Use `model()` for a view, `snapshot()` for a copy. */
  readonly params: ModelParams;
  private readonly session: TrainingSession;
  readonly createdAt = new Date().toISOString();
  private disposed = false;

  constructor(
    /** The lab this model belongs to (its data, settings and batches). */
    readonly lab: LabContext,
    params: ModelParams,
    resume?: ResumePoint,
    /** Set when loaded from weights without optimizer state: the training it already had. */
    readonly pretrained?: Pretrained,
  ) {
    this.config = lab.modelConfig;
    this.params = params;
    this.session = new TrainingSession(
      "public model",
      async () => ({ params: this.params, cfg: this.config, tc: this.lab.trainConfig, batches: resumable(await this.lab.batches("public", this.lab.seed)) }),
      resume,
    );
  }

  /** Steps trained in this session (after `pretrained.steps`, when it was loaded from trained weights). */
  get step(): number {
    return this.session.step;
  }

  /** All steps behind these weights: the pretrained ones plus this session's. */
  get totalSteps(): number {
    return (this.pretrained?.steps ?? 0) + this.step;
  }

  /**
   * Train on the public split; callable again and again. Each call lays out its own LR schedule over
   * its steps unless `schedule` says otherwise (`{ steps: total }` then `"continue"` spreads one over calls).
   */
  async train(opts: TrainOptions): Promise<TrainRecord> {
    this.assertLive("train");
    checkOptionKeys(opts, TRAIN_OPTION_KEYS, `${this.session.what}.train`);
    return withTrainView(this.session.what, opts, undefined, async (o) => {
      const run = await this.session.train(o);
      return TrainRecord.fromSteps(this.session.what, run.result, run.history, run.routing);
    });
  }

  /** sha256 over every shared-trunk tensor hash: the public model's fingerprint. */
  trunkFingerprint(): string {
    this.assertLive("trunkFingerprint");
    return trunkFingerprint(this.params);
  }

  card(): DataCard {
    const docs = this.lab.data.corpus.documents({ domain: "public", split: "train" });
    return {
      expert: "public",
      owner: "public",
      domain: "public",
      licenses: [...new Set(docs.map((d) => d.license))].sort(),
      documents: docs.length,
      tokensSeen: (this.pretrained?.tokens ?? 0) + this.session.tokensSeen,
      training: {
        steps: this.totalSteps,
        preset: this.lab.preset,
        ...trainingCard(this.lab.trainConfig),
        ...(this.pretrained ? { startedFrom: { ...this.pretrained, from: this.pretrained.shipped ? "the shipped public model" : this.pretrained.from }, stepsSinceLoad: this.step } : {}),
      },
      seed: this.lab.seed,
      createdAt: this.createdAt,
      updatedAt: new Date().toISOString(),
    };
  }

  /** A dense FlexModel view over the live parameters. */
  model(): FlexModel {
    this.assertLive("model");
    return new FlexModel({
      config: this.config,
      params: this.params,
      cards: { public: this.card() },
      provenance: { kind: "public", routerTuned: false, trunk: this.trunkFingerprint() },
      label: "public",
      data: this.lab.data,
    });
  }

  /** A deep copy of the current parameters (the caller owns them). */
  snapshot(): ModelParams {
    this.assertLive("snapshot");
    return cloneParams(this.params);
  }

  /**
   * Save as a Hugging Face–layout checkpoint, optimizer state included so training can resume
   * (`optimizer: false` saves the weights only). The step recorded is `totalSteps`; with optimizer
   * state, loading subtracts the optimizer's own step to recover the pretrained part.
   */
  async save(dir: string, opts: { optimizer?: boolean; provenance?: Record<string, unknown>; metadata?: Record<string, unknown> } = {}): Promise<void> {
    this.assertLive("save");
    const weightsOnly = opts.optimizer === false;
    await this.session.save(
      dir,
      this.config,
      this.params,
      {
        dataCards: { public: this.card() },
        provenance: opts.provenance ?? { kind: "public", trunk: this.trunkFingerprint(), preset: this.lab.preset, seed: this.lab.seed },
        step: this.totalSteps,
        metadata: opts.metadata,
      },
      { weightsOnly, tokenizer: hfTokenizerFiles(this.lab.data.tokenizer, this.config.maxSeqLen) },
    );
  }

  /** Throws a clear error once the model was disposed (instead of a TF.js "tensor is disposed"). */
  assertLive(verb: string): void {
    if (this.disposed) throw new Error(`public model: ${verb} after dispose(); its weights were freed. Load or create a new one (await lab.publicModel()).`);
  }

  /** Free the weights and the optimizer state. Idempotent. Views from `model()` stop working. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.session.dispose();
    disposeParams(this.params);
  }

  /** One line: where the weights come from, how far they trained, the model's size. */
  toString(): string {
    const steps = (n: number) => `${n} step${n === 1 ? "" : "s"}`;
    const origin = this.pretrained ? `${this.pretrained.shipped ? "shipped" : `loaded from ${this.pretrained.from}`} (${steps(this.pretrained.steps)})${this.step ? ` + ${steps(this.step)}` : ""}` : `from scratch, ${steps(this.step)}`;
    return `PublicModel: ${origin}; d_model ${this.config.dModel}, ${this.config.nLayers} layers${this.disposed ? " [disposed]" : ""}`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field and tensor. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** The training settings a data card records (the schedule is per call, so only its shape is here). */
export function trainingCard(tc: TrainConfig): Record<string, unknown> {
  return { lr: tc.lr, batchSize: tc.batchSize, seqLen: tc.seqLen, weightDecay: tc.weightDecay, zLossWeight: tc.zLossWeight, schedule: "per train call: warm-up + cosine" };
}
