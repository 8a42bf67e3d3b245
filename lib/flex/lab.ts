/**
 * The lab: one corpus, one tokenizer, one preset and one seed, and the factory of everything the
 * FlexOlmo pipeline trains from them:
 *
 *   const lab = await flex.lab({ preset: "cpu", seed: 0 });
 *   const pub = await lab.publicModel();             // the shipped, pretrained one (or { from: "scratch" })
 *   const math = lab.owner("math", { from: pub });   await math.train({ steps: 200 });
 *   const model = await flex.merge(pub, [math, code]);
 *   await model.without("math").evaluate();
 *
 * The lab keeps the per-process caches (token streams, domain embeddings, the domain classifier).
 * What it builds receives it as a plain `LabContext` record (./context.ts), never as this class.
 * Every object owns its tensors: an owner snapshots the public model when it is created (so training
 * the public model further cannot silently change an owner's trunk — the merge would catch it), and
 * a merge copies what it takes (so disposing or training an input never breaks a merged model).
 */
import { BackendReport, initBackend } from "../backend";
import { archDiffs, MODEL_PRESETS, ModelConfig, PresetName, validateConfig } from "../model/config";
import { disposeParams, initParams } from "../model/model";
import { TRAIN_PRESETS, TrainConfig, validateTrainConfig } from "../train/config";
import { trainerFromCheckpoint } from "../train/session";
import { TokenBatcher, tokenStreams, type TokenStreams, type DomainMix } from "../data/batcher";
import { trainDomainClassifier, type DomainClassifier } from "../data/classifier";
import { loadCheckpoint } from "../io/checkpoint";
import { DataContext, makeDataContext, type LabContext } from "./context";
import { DomainEmbeddings } from "./domain-embeddings";
import type { DomainEmbedding, EmbedOptions } from "./embed";
import { PublicModel, type Pretrained } from "./public";
import type { DataCard } from "./cards";
import { shippedPublicDir, whyNotShipped } from "./shipped";
import * as path from "node:path";
import { inspect } from "node:util";
import { OwnerExpert, type OwnerOptions } from "./owner";
import { flexRecipe, type FlexRecipe, type RecipeName } from "./recipes";

export { PublicModel } from "./public";
export type { Pretrained } from "./public";
export { OwnerExpert, loadOwnerArtifact } from "./owner";
export type { OwnerOptions } from "./owner";
export type { TrainOptions } from "../train/session";
export type { DomainEmbedding, EmbedOptions } from "./embed";
export type { Provenance } from "./cards";

export interface LabOptions {
  /** Model + training preset. Default: "gpu" when a GPU backend is active, else "cpu". */
  preset?: PresetName;
  /** One seed for everything random (inits, batches, document samples). */
  seed?: number;
  /** Corpus directory (default: the shipped FlexMix-mini). */
  corpus?: string;
  /** tokenizer.json (default: the corpus's). */
  tokenizer?: string;
  /** Force a TF.js backend (default: the fastest that works). */
  backend?: string;
  /** Overrides of the preset's model config (dModel, nLayers, …). */
  model?: Partial<ModelConfig>;
  /** Overrides of the preset's training config (lr, batchSize, …). */
  train?: Partial<TrainConfig>;
  /**
   * The FlexOlmo recipe owners and merges default to: "paper" (as published) or "lab" (router
   * calibration on public text, β₀ = −3, k = 2; docs/recipes.md). Default "lab": with "paper" the
   * merged model loses to its public model at laptop scale (docs/recipes.md measures both).
   */
  recipe?: RecipeName | FlexRecipe;
}

export async function lab(opts: LabOptions = {}): Promise<Lab> {
  const backend = await initBackend(opts.backend);
  const preset: PresetName = opts.preset ?? (backend.gpu ? "gpu" : "cpu");
  if (!(preset in MODEL_PRESETS)) throw new Error(`Unknown preset "${preset}". Presets: ${Object.keys(MODEL_PRESETS).join(", ")}.`);
  const seed = opts.seed ?? 0;
  const trainConfig: TrainConfig = { ...TRAIN_PRESETS[preset], seed, ...opts.train };
  const data = await makeDataContext({ corpus: opts.corpus, tokenizer: opts.tokenizer, seqLen: trainConfig.seqLen });
  const modelConfig: ModelConfig = { ...MODEL_PRESETS[preset], vocabSize: data.tokenizer.vocabSize, ...opts.model, experts: ["public"], topK: 1 };
  if (modelConfig.vocabSize !== data.tokenizer.vocabSize) {
    throw new Error(`model.vocabSize ${modelConfig.vocabSize} does not match the tokenizer's ${data.tokenizer.vocabSize}; leave vocabSize unset to use the tokenizer's.`);
  }
  validateConfig(modelConfig);
  // Now, not at the first train() call minutes later: a bad lr or batch size is a typo in this cell.
  validateTrainConfig(trainConfig);
  if (trainConfig.seqLen > modelConfig.maxSeqLen) throw new Error(`train.seqLen ${trainConfig.seqLen} exceeds the model's maxSeqLen ${modelConfig.maxSeqLen}.`);
  return new Lab(preset, seed, backend, modelConfig, trainConfig, data, flexRecipe(opts.recipe));
}

export class Lab implements LabContext {
  private readonly embeddings: DomainEmbeddings;
  private classifierCache?: Promise<DomainClassifier>;

  constructor(
    readonly preset: PresetName,
    readonly seed: number,
    readonly backend: BackendReport,
    /** The dense public model's config (experts = ["public"]). */
    readonly modelConfig: ModelConfig,
    readonly trainConfig: TrainConfig,
    readonly data: DataContext,
    readonly recipe: FlexRecipe = flexRecipe("lab"),
  ) {
    this.embeddings = new DomainEmbeddings(data, seed, modelConfig.dModel, trainConfig.seqLen);
  }

  get domains(): readonly string[] {
    return this.data.domains;
  }

  /** Token streams of a split, one per domain (cached per process). */
  streams(split: "train" | "valid" | "test", domains: readonly string[]): Promise<TokenStreams> {
    domains.forEach((d) => this.data.checkDomain(d));
    return tokenStreams(this.data.corpus, this.data.tokenizer, { split, domains });
  }

  /** A seeded, resumable batcher over one domain or a weighted mix of the train split. */
  async batches(mix: DomainMix, seed: number, tc: TrainConfig = this.trainConfig): Promise<TokenBatcher> {
    const domains = typeof mix === "string" ? [mix] : Object.keys(mix);
    if (domains.length === 0) throw new Error("The data mix is empty: name at least one domain, e.g. { public: 1 }.");
    const streams = await this.streams("train", domains);
    return new TokenBatcher(streams, { batchSize: tc.batchSize, seqLen: tc.seqLen, seed, mix });
  }

  /**
   * The dense public model every owner starts from. By default the shipped, pretrained one where it
   * fits this lab (the cpu preset on the shipped corpus; `flex.shipped`), as the paper starts from a
   * trained OLMo-2; elsewhere a fresh seeded init. `{ from: "scratch" }` always gives a fresh one
   * (train it with `await pub.train({ steps })`); `{ from: "shipped" }` refuses, with the reason,
   * when the shipped model does not fit.
   */
  async publicModel(opts: { from?: "shipped" | "scratch"; seed?: number } = {}): Promise<PublicModel> {
    if (opts.from !== undefined && opts.from !== "shipped" && opts.from !== "scratch") throw new Error(`publicModel: from must be "shipped" or "scratch" (got ${JSON.stringify(opts.from)}).`);
    if (opts.from !== "scratch") {
      const why = await whyNotShipped(this);
      if (!why) {
        if (opts.seed !== undefined) throw new Error('publicModel: the shipped model has its own seed; pass { from: "scratch", seed } for a fresh model with another init.');
        return this.loadPublicModel(shippedPublicDir(this.preset));
      }
      if (opts.from === "shipped") throw new Error(`publicModel: cannot use the shipped public model: ${why}. Use { from: "scratch" } and train one.`);
    }
    return new PublicModel(this, initParams(this.modelConfig, opts.seed ?? this.seed));
  }

  /** Why `publicModel()` starts from scratch in this lab, or undefined when it loads the shipped model. */
  whyNotShipped(): Promise<string | undefined> {
    return whyNotShipped(this);
  }

  /**
   * A public model saved with `pub.save(dir)` (or any dense FlexOlmo checkpoint of this lab's
   * architecture). Training resumes exactly when the checkpoint holds optimizer state; weights
   * without it start a new run whose card records the steps they already had.
   */
  async loadPublicModel(dir: string): Promise<PublicModel> {
    const ck = await loadCheckpoint(dir);
    const refuse = (why: string): never => {
      disposeParams(ck.params);
      if (ck.optimizer) Object.values(ck.optimizer.tensors).forEach((t) => t.dispose());
      throw new Error(why);
    };
    if (ck.config.experts.length !== 1) refuse(`${dir} holds a ${ck.config.experts.length}-expert model; a public model is dense (one expert).`);
    const diffs = archDiffs(ck.config, this.modelConfig);
    if (diffs.length) refuse(`${dir} does not match this lab's "${this.preset}" preset (checkpoint vs lab): ${diffs.join(", ")}. Open it with the preset it was trained with.`);
    let resume: ReturnType<typeof trainerFromCheckpoint>;
    try {
      resume = trainerFromCheckpoint(ck); // frees the optimizer tensors itself when it throws
    } catch (e) {
      disposeParams(ck.params);
      throw e;
    }
    const card = (ck.sidecar.dataCards[0] ?? {}) as Partial<DataCard>;
    const prov = (ck.sidecar.provenance ?? {}) as Record<string, unknown>;
    const before = (ck.sidecar.step ?? 0) - (resume?.state.step ?? 0);
    const pretrained: Pretrained | undefined =
      before > 0
        ? {
            steps: before,
            tokens: Math.max(0, (card.tokensSeen ?? 0) - (resume?.tokensSeen ?? 0)),
            from: path.resolve(dir),
            shipped: prov.shipped === true,
            ...(typeof prov.command === "string" ? { command: prov.command } : {}),
          }
        : undefined;
    return new PublicModel(this, ck.params, resume, pretrained);
  }

  /** Documents of a domain's train split in a seeded order (the sample S_i of docs/method.md §2.2). */
  sampleDocuments(domain: string, n: number): { text: string; license: string }[] {
    return this.embeddings.sampleDocuments(domain, n);
  }

  /**
   * The domain embedding of `domain` (docs/method.md §2.2): mean document embedding over `docs`
   * documents. The same call on any owner's machine gives bit-identical vectors.
   */
  embed(domain: string, opts: EmbedOptions = {}): Promise<DomainEmbedding> {
    return this.embeddings.embed(domain, opts);
  }

  /** A data owner's expert for `domain`, initialised from the public model (docs/method.md §3). */
  owner(domain: string, opts: OwnerOptions): OwnerExpert {
    return new OwnerExpert(this, domain, opts);
  }

  /** The naive-Bayes domain classifier over the closed domains' train split (cached). */
  classifier(): Promise<DomainClassifier> {
    this.classifierCache ??= Promise.resolve().then(() => {
      const docs = this.data.domains.filter((d) => d !== "public").flatMap((d) => this.data.corpus.documents({ domain: d, split: "train" }));
      return trainDomainClassifier(docs.map((x) => ({ domain: x.domain, text: x.text })));
    });
    return this.classifierCache;
  }

  /** One line: preset, seed, recipe, backend and domains. */
  toString(): string {
    return `Lab: preset ${this.preset}, seed ${this.seed}, recipe ${this.recipe.name}, backend ${this.backend.name}; domains ${this.domains.join(", ")}`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field and tensor. */
  [inspect.custom](): string {
    return this.toString();
  }
}
