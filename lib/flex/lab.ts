/**
 * The FlexOlmo pipeline, one verb at a time:
 *
 *   const lab = await flex.lab({ preset: "cpu", seed: 0 });
 *   const pub = lab.publicModel();           await pub.train({ steps: 300 });
 *   const math = lab.owner("math", { from: pub });   await math.train({ steps: 200 });
 *   const model = await flex.merge(pub, [math, code]);
 *   await model.without("math").evaluate();
 *
 * Stateful things (a model being trained) are classes; everything a verb returns is a plain record.
 * Every object owns its tensors: an owner snapshots the public model when it is created (so training
 * the public model further cannot silently change an owner's trunk — the merge would catch it), and
 * a merge copies what it takes (so disposing or training an input never breaks a merged model).
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import { BackendReport, initBackend } from "../backend";
import { MODEL_PRESETS, ModelConfig, PresetName, validateConfig } from "../model/config";
import { cloneParams, disposeParams, forwardHidden, initParams } from "../model/model";
import type { ModelParams } from "../model/params";
import { paramEntries } from "../model/params";
import { TRAIN_PRESETS, TrainConfig, ownerTraining } from "../train/config";
import { Trainer, TrainerState, disposeTrainerState, StepProgress } from "../train/trainer";
import { ownerExpertSpec, FreezeSpec } from "../train/freeze";
import type { ResumableBatches } from "../train/batches";
import { TokenBatcher, tokenStreams, type TokenStreams, type DomainMix } from "../data/batcher";
import { trainDomainClassifier, type DomainClassifier } from "../data/classifier";
import { loadCheckpoint, saveCheckpoint, type SidecarInput } from "../io/checkpoint";
import { DataContext, makeDataContext } from "./context";
import { DataCard, Provenance } from "./cards";
import { EmbedderName, fitIdf, IdfTable, l2normalise, meanEmbedding, randomEmbedding } from "./embed";
import { FlexModel } from "./model";
import { isTrunkParam, tensorHash, trunkHashes, OwnerArtifact } from "./merge";
import { InvariantReport, TrainRecord } from "./records";
import { kernelAbortSignal } from "../display/kernel-signal";

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
}

export interface TrainOptions {
  steps: number;
  signal?: AbortSignal;
  onProgress?: (p: StepProgress) => void;
}

/** A domain embedding: the vector copied into a router row of every layer (spec §2.2). */
export interface DomainEmbedding {
  domain: string;
  embedder: EmbedderName;
  /** Documents it was averaged over. */
  documents: number;
  vector: Float32Array;
  /** sha256 of the vector's bytes: two owners with equal hashes used bit-identical rows. */
  sha256: string;
}

export interface EmbedOptions {
  embedder?: EmbedderName;
  /** Documents to average over (the paper samples 1 000). */
  docs?: number;
  /** The public model, for embedder "public". */
  from?: PublicModel;
}

export interface OwnerOptions {
  /** The public model this owner starts from (its trunk is snapshotted now). */
  from: PublicModel;
  /** Router-row initialisation: external embedder (paper), public hidden states, or random (ablation). */
  init?: EmbedderName;
  /** Initial β of the expert bias b = min(β, 0); `false` = no bias (the ablation: β fixed at 0). Default −1. */
  bias?: number | false;
  /** Expert name (default: the domain). */
  name?: string;
  /** Documents for the domain embedding (default 1 000, as in the paper). */
  docs?: number;
  /** Who owns it (for the data card). */
  owner?: string;
  /** Continue an owner saved with `owner.save(dir)` (weights and optimizer state), e.g. in another process. */
  resume?: string;
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
  if (trainConfig.seqLen > modelConfig.maxSeqLen) throw new Error(`train.seqLen ${trainConfig.seqLen} exceeds the model's maxSeqLen ${modelConfig.maxSeqLen}.`);
  return new Lab(preset, seed, backend, modelConfig, trainConfig, data);
}

export class Lab {
  private idf?: IdfTable;
  private readonly embeddings = new Map<string, Promise<DomainEmbedding>>();
  private classifierCache?: Promise<DomainClassifier>;

  constructor(
    readonly preset: PresetName,
    readonly seed: number,
    readonly backend: BackendReport,
    /** The dense public model's config (experts = ["public"]). */
    readonly modelConfig: ModelConfig,
    readonly trainConfig: TrainConfig,
    readonly data: DataContext,
  ) {}

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

  /** A fresh dense public model (seeded init). Train it with `await pub.train({ steps })`. */
  publicModel(opts: { seed?: number } = {}): PublicModel {
    return new PublicModel(this, initParams(this.modelConfig, opts.seed ?? this.seed));
  }

  /**
   * A public model saved with `pub.save(dir)` (or any dense FlexOlmo checkpoint of this lab's
   * architecture). Training resumes exactly when the checkpoint holds optimizer state.
   */
  async loadPublicModel(dir: string): Promise<PublicModel> {
    const ck = await loadCheckpoint(dir);
    if (ck.config.experts.length !== 1) {
      disposeParams(ck.params);
      throw new Error(`${dir} holds a ${ck.config.experts.length}-expert model; a public model is dense (one expert).`);
    }
    const diffs = (["vocabSize", "dModel", "nLayers", "nHeads", "nKvHeads", "dFf", "maxSeqLen", "ropeTheta", "rmsNormEps"] as const)
      .filter((f) => ck.config[f] !== this.modelConfig[f])
      .map((f) => `${f} ${ck.config[f]} (lab: ${this.modelConfig[f]})`);
    if (diffs.length) {
      disposeParams(ck.params);
      throw new Error(`${dir} does not match this lab's "${this.preset}" preset: ${diffs.join(", ")}. Open it with the preset it was trained with.`);
    }
    const resume = trainerFromCheckpoint(ck);
    return new PublicModel(this, ck.params, resume);
  }

  /** Documents of a domain's train split in a seeded order (the sample S_i of spec §2.2). */
  sampleDocuments(domain: string, n: number): { text: string; license: string }[] {
    this.data.checkDomain(domain);
    const docs = this.data.corpus.documents({ domain, split: "train" });
    const order = docs.map((d, i) => ({ i, key: createHash("sha256").update(`${this.seed}:${domain}:${d.id}`).digest().readUInt32BE(0) }));
    order.sort((a, b) => a.key - b.key || a.i - b.i);
    return order.slice(0, Math.min(n, docs.length)).map(({ i }) => docs[i]);
  }

  /**
   * The domain embedding of `domain` (spec §2.2): mean document embedding over `docs` documents.
   * The same call on any owner's machine gives bit-identical vectors (the embedder is public and
   * deterministic; the IDF table comes from the public split).
   */
  async embed(domain: string, opts: EmbedOptions = {}): Promise<DomainEmbedding> {
    const embedder = opts.embedder ?? "external";
    const n = opts.docs ?? 1000;
    // Cached: every owner embeds "public" too. The public-model embedder depends on that model's weights.
    const key = `${domain}|${embedder}|${n}|${embedder === "public" && opts.from ? opts.from.trunkFingerprint() : ""}`;
    let hit = this.embeddings.get(key);
    if (!hit) {
      hit = this.computeEmbedding(domain, embedder, n, opts.from);
      this.embeddings.set(key, hit);
      hit.catch(() => this.embeddings.delete(key));
    }
    const e = await hit;
    return { ...e, vector: e.vector.slice() };
  }

  private async computeEmbedding(domain: string, embedder: EmbedderName, n: number, from: PublicModel | undefined): Promise<DomainEmbedding> {
    const opts = { from };
    if (!Number.isInteger(n) || n < 1) throw new Error(`embed: docs must be a positive integer (got ${n}).`);
    const d = this.modelConfig.dModel;
    let vector: Float32Array;
    let documents = 0;
    if (embedder === "external") {
      this.idf ??= fitIdf(this.data.corpus.documents({ domain: "public", split: "train" }).map((x) => x.text));
      const docs = this.sampleDocuments(domain, n);
      vector = meanEmbedding(docs.map((x) => x.text), d, this.idf);
      documents = docs.length;
    } else if (embedder === "public") {
      if (!opts.from) throw new Error('embed: embedder "public" needs the public model: embed(domain, { embedder: "public", from: pub }).');
      const docs = this.sampleDocuments(domain, n);
      vector = await publicHiddenEmbedding(opts.from, docs.map((x) => x.text), this);
      documents = docs.length;
    } else if (embedder === "random") {
      // The seed depends on the domain only through a public rule, so every owner draws the same r_pub.
      vector = randomEmbedding(d, (this.seed * 1_000_003 + hash32(`router-init:${domain}`)) >>> 0);
    } else {
      throw new Error(`Unknown embedder "${String(embedder)}". Embedders: external, public, random.`);
    }
    return { domain, embedder, documents, vector, sha256: createHash("sha256").update(Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength)).digest("hex") };
  }

  /** A data owner's expert for `domain`, initialised from the public model (spec §3). */
  owner(domain: string, opts: OwnerOptions): OwnerExpert {
    this.data.checkDomain(domain);
    if (domain === "public") throw new Error('"public" is the public expert; owners train closed domains (e.g. "math").');
    if (!(opts?.from instanceof PublicModel)) throw new Error('owner: pass the public model to start from: lab.owner("math", { from: pub }).');
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
}

function hash32(s: string): number {
  return createHash("sha256").update(s).digest().readUInt32BE(0);
}

/**
 * The public model's own representation of documents (spec §2.2, the paper's weaker alternative):
 * per document the mean final hidden state over its first `seqLen` tokens, L2-normalised, then
 * averaged. NOTE: the paper does not say which layer; we take the last (post final norm), the
 * usual "sentence embedding" of a decoder.
 */
async function publicHiddenEmbedding(pub: PublicModel, texts: string[], l: Lab): Promise<Float32Array> {
  const d = l.modelConfig.dModel;
  const acc = new Float64Array(d);
  let used = 0;
  for (const text of texts) {
    const ids = l.data.tokenizer.encode(text).slice(0, l.trainConfig.seqLen);
    if (ids.length === 0) continue;
    const meanT = tf.tidy(() => {
      const x = tf.tensor2d(Int32Array.from(ids), [1, ids.length], "int32");
      return tf.mean(forwardHidden(pub.params, pub.config, x).hidden, 0); // [C]
    });
    const v = l2normalise(Float64Array.from(await meanT.data()));
    meanT.dispose();
    for (let j = 0; j < d; j++) acc[j] += v[j];
    used++;
  }
  if (used === 0) throw new Error("embed: none of the sampled documents has any tokens.");
  return Float32Array.from(acc, (x) => x / used);
}

// ---------------------------------------------------------------------------------------------
// Training, shared by the public model and owners

/** Adapts the data batcher to the trainer's resumable-source interface. */
export function resumable(b: TokenBatcher): ResumableBatches {
  return { next: () => b.next(), getState: () => b.state(), setState: (s) => b.restore(s as ReturnType<TokenBatcher["state"]>) };
}

/** Wraps a Trainer so `train({ steps })` can be called again and again and returns a plain record. */
class StepwiseTraining {
  private trainer?: Trainer;
  private readonly history: number[] = [];
  tokensSeen = 0;

  constructor(
    private readonly what: string,
    private readonly make: () => Promise<{ params: ModelParams; cfg: ModelConfig; tc: TrainConfig; batches: ResumableBatches; spec?: FreezeSpec; resume?: TrainerState }>,
  ) {}

  get step(): number {
    return this.trainer?.step ?? 0;
  }

  async train(opts: TrainOptions): Promise<TrainRecord> {
    if (!opts || !Number.isInteger(opts.steps) || opts.steps < 0) throw new Error(`${this.what}.train: pass { steps: N } with N a non-negative integer.`);
    if (!this.trainer) {
      const m = await this.make();
      this.trainer = new Trainer(m.params, m.cfg, m.tc, m.batches, { ...(m.spec ?? {}), resume: m.resume });
      if (m.resume) disposeTrainerState(m.resume);
    }
    const routing: number[][] = [];
    const res = await this.trainer.steps(opts.steps, {
      // In the notebook kernel, "interrupt" aborts this signal: training stops at a step boundary.
      signal: opts.signal ?? kernelAbortSignal(),
      onProgress: (p) => {
        if (p.routing && p.routing.share.length) routing.push(p.routing.share[p.routing.share.length - 1]); // last layer's expert shares
        opts.onProgress?.(p);
      },
    });
    this.history.push(...res.losses);
    this.tokensSeen += res.tokens;
    return TrainRecord.fromSteps(this.what, res, [...this.history], routing);
  }

  state(): TrainerState | undefined {
    return this.trainer?.state();
  }

  /** Save weights plus the optimizer state and batch position, so training can resume exactly. */
  async save(dir: string, config: ModelConfig, params: ModelParams, sidecar: SidecarInput): Promise<void> {
    const st = this.state();
    const parts = trainerToCheckpoint(st);
    try {
      await saveCheckpoint(dir, { config, params, optimizer: parts.optimizer, sidecar: { ...sidecar, metadata: { ...sidecar.metadata, ...parts.metadata } } });
    } finally {
      if (st) disposeTrainerState(st);
    }
  }

  dispose(): void {
    this.trainer?.dispose();
    this.trainer = undefined;
  }
}

/** Trainer state → the checkpoint's optimizer tensors (`<name>.m` / `.v`) and sidecar metadata. */
function trainerToCheckpoint(s: TrainerState | undefined): { optimizer?: { step: number; tensors: Record<string, tf.Tensor> }; metadata: Record<string, unknown> } {
  if (!s) return { metadata: { trainer: null } };
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, mv] of Object.entries(s.moments)) {
    tensors[`${name}.m`] = mv.m;
    tensors[`${name}.v`] = mv.v;
  }
  return { optimizer: { step: s.step, tensors }, metadata: { trainer: { tokens: s.tokens, batches: s.batches, trainable: s.trainable, trainConfig: s.trainConfig } } };
}

/** The inverse: a resumable trainer state from a loaded checkpoint, or undefined (then its tensors are freed). */
function trainerFromCheckpoint(ck: { optimizer?: { step: number; tensors: Record<string, tf.Tensor> }; sidecar: { metadata: Record<string, unknown> } }): { state: TrainerState; tokensSeen: number } | undefined {
  const meta = ck.sidecar.metadata?.trainer as { tokens: number; batches: TrainerState["batches"]; trainable: TrainerState["trainable"]; trainConfig: TrainConfig } | null | undefined;
  if (!ck.optimizer) return undefined;
  if (!meta) {
    Object.values(ck.optimizer.tensors).forEach((t) => t.dispose());
    return undefined;
  }
  const moments: TrainerState["moments"] = {};
  for (const t of meta.trainable) {
    const m = ck.optimizer.tensors[`${t.name}.m`], v = ck.optimizer.tensors[`${t.name}.v`];
    if (!m || !v) throw new Error(`The checkpoint's optimizer state has no moments for ${t.name}; it cannot resume training.`);
    moments[t.name] = { m, v };
  }
  return { state: { version: 1, step: ck.optimizer.step, tokens: meta.tokens, trainable: meta.trainable, moments, batches: meta.batches, trainConfig: meta.trainConfig }, tokensSeen: meta.tokens };
}

// ---------------------------------------------------------------------------------------------
// The public model

export class PublicModel {
  readonly config: ModelConfig;
  /** Live parameters: training replaces these tensors. Use `model()` for a view, `snapshot()` for a copy. */
  readonly params: ModelParams;
  private readonly training: StepwiseTraining;
  readonly createdAt = new Date().toISOString();

  constructor(
    readonly lab: Lab,
    params: ModelParams,
    resume?: { state: TrainerState; tokensSeen: number },
  ) {
    this.config = lab.modelConfig;
    this.params = params;
    this.training = new StepwiseTraining("public model", async () => ({
      params: this.params,
      cfg: this.config,
      tc: this.lab.trainConfig,
      batches: resumable(await this.lab.batches("public", this.lab.seed)),
      resume: resume?.state,
    }));
    if (resume) this.training.tokensSeen = resume.tokensSeen;
  }

  /** Steps trained so far. */
  get step(): number {
    return this.training.step;
  }

  /** Train on the public split; callable again and again (the LR schedule spans the preset's steps). */
  train(opts: TrainOptions): Promise<TrainRecord> {
    return this.training.train(opts);
  }

  /** sha256 over every shared-trunk tensor hash: the public model's fingerprint. */
  trunkFingerprint(): string {
    const h = createHash("sha256");
    for (const [name, v] of trunkHashes(this.params)) h.update(`${name}=${v}\n`);
    return h.digest("hex");
  }

  card(): DataCard {
    const docs = this.lab.data.corpus.documents({ domain: "public", split: "train" });
    return {
      expert: "public",
      owner: "public",
      domain: "public",
      licenses: [...new Set(docs.map((d) => d.license))].sort(),
      documents: docs.length,
      tokensSeen: this.training.tokensSeen,
      training: { steps: this.step, preset: this.lab.preset, ...pickTraining(this.lab.trainConfig) },
      seed: this.lab.seed,
      createdAt: this.createdAt,
      updatedAt: new Date().toISOString(),
    };
  }

  /** A dense FlexModel view over the live parameters. */
  model(): FlexModel {
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
    return cloneParams(this.params);
  }

  /** Save as a Hugging Face–layout checkpoint (optimizer state included, so training can resume). */
  async save(dir: string): Promise<void> {
    await this.training.save(dir, this.config, this.params, {
      dataCards: { public: this.card() },
      provenance: { kind: "public", trunk: this.trunkFingerprint(), preset: this.lab.preset, seed: this.lab.seed },
      step: this.step,
    });
  }

  dispose(): void {
    this.training.dispose();
    disposeParams(this.params);
  }
}

function pickTraining(tc: TrainConfig): Record<string, unknown> {
  return { lr: tc.lr, batchSize: tc.batchSize, seqLen: tc.seqLen, warmupSteps: tc.warmupSteps, scheduleSteps: tc.steps, weightDecay: tc.weightDecay, zLossWeight: tc.zLossWeight };
}

// ---------------------------------------------------------------------------------------------
// Owner experts

export class OwnerExpert {
  readonly name: string;
  readonly domain: string;
  readonly init: EmbedderName;
  readonly biasInit: number | false;
  readonly config: ModelConfig;
  /** Fingerprint of the public model this owner started from. */
  readonly publicTrunk: string;
  private paramsValue?: ModelParams;
  private base?: ModelParams; // snapshot of the public model at creation
  private embeddings?: { public: DomainEmbedding; own: DomainEmbedding };
  private readonly training: StepwiseTraining;
  private readonly createdAt = new Date().toISOString();
  private readonly ownerName: string;
  private resumeState?: TrainerState;

  constructor(
    readonly lab: Lab,
    domain: string,
    private readonly opts: OwnerOptions,
  ) {
    this.domain = domain;
    this.name = opts.name ?? domain;
    this.init = opts.init ?? "external";
    this.biasInit = opts.bias === undefined ? -1 : opts.bias;
    if (this.biasInit !== false && !(typeof this.biasInit === "number" && Number.isFinite(this.biasInit))) {
      throw new Error(`owner "${this.name}": bias must be a finite number (β init) or false (no bias); got ${String(opts.bias)}.`);
    }
    if (typeof this.biasInit === "number" && this.biasInit >= 0) {
      // min(β, 0) passes no gradient for β > 0 (spec §2.4): a non-negative start never becomes a bias.
      throw new Error(`owner "${this.name}": bias β must start below 0 (got ${this.biasInit}); b = min(β, 0) has no gradient for β ≥ 0. Use e.g. -1, or false for no bias.`);
    }
    this.ownerName = opts.owner ?? `${domain} owner`;
    this.config = { ...lab.modelConfig, experts: ["public", this.name], topK: 2 };
    this.base = opts.resume ? undefined : opts.from.snapshot();
    this.publicTrunk = opts.from.trunkFingerprint();
    const spec = ownerExpertSpec(this.config, 1);
    if (this.biasInit === false) spec.rows = { "model.layers.*.mlp.gate.weight": [1] }; // ablation: β stays 0
    this.training = new StepwiseTraining(`owner "${this.name}"`, async () => ({
      params: await this.ensureParams(),
      cfg: this.config,
      tc: ownerTraining(this.lab.trainConfig),
      batches: resumable(await this.lab.batches(this.domain, (this.lab.seed + hash32(`owner:${this.domain}`)) >>> 0)),
      spec,
      resume: this.resumeState,
    }));
  }

  /** The 2-expert parameters (built on first use: the domain embedding takes a moment). */
  async ensureParams(): Promise<ModelParams> {
    if (this.paramsValue) return this.paramsValue;
    const from = this.opts.from;
    const docs = this.opts.docs ?? 1000;
    const pubEmb = await this.lab.embed("public", { embedder: this.init, docs, from });
    const ownEmb = await this.lab.embed(this.domain, { embedder: this.init, docs, from });
    this.embeddings = { public: pubEmb, own: ownEmb };
    if (this.opts.resume) return (this.paramsValue = await this.loadResume(this.opts.resume));
    const base = this.base!;
    const beta = this.biasInit === false ? 0 : this.biasInit;
    // Upcycle (spec §3 step 3): the public FFN copied into both experts; rows [e_pub; e_i] in every layer.
    this.paramsValue = {
      ...base,
      layers: base.layers.map((l) => {
        const e0 = l.experts[0];
        const router = tf.tensor2d([Array.from(pubEmb.vector), Array.from(ownEmb.vector)], [2, this.config.dModel]); // [E=2, C]
        const expertBias = tf.tensor1d([0, beta]); // [E]
        l.router.dispose();
        l.expertBias.dispose();
        return { ...l, router, expertBias, experts: [e0, { gate: tf.clone(e0.gate), up: tf.clone(e0.up), down: tf.clone(e0.down) }] };
      }),
    };
    this.base = undefined;
    return this.paramsValue;
  }

  /** Load a saved owner to continue it, refusing one of another domain or another public model. */
  private async loadResume(dir: string): Promise<ModelParams> {
    const ck = await loadCheckpoint(dir);
    const prov = (ck.sidecar.provenance ?? {}) as { kind?: string; domain?: string; publicTrunk?: string };
    const fail = (why: string): never => {
      disposeParams(ck.params);
      if (ck.optimizer) Object.values(ck.optimizer.tensors).forEach((t) => t.dispose());
      throw new Error(`Cannot resume owner "${this.name}" from ${dir}: ${why}`);
    };
    if (prov.kind !== "owner" || ck.config.experts.length !== 2) fail("it is not an owner checkpoint (saved by owner.save).");
    if (prov.domain !== this.domain || ck.config.experts[1] !== this.name) {
      fail(`it is owner "${ck.config.experts[1]}" of domain "${prov.domain}", not "${this.name}" of "${this.domain}". Resume each owner from its own checkpoint.`);
    }
    if (prov.publicTrunk !== this.publicTrunk) fail("it was trained from a different public model (trunk fingerprints differ).");
    const diffs = (["vocabSize", "dModel", "nLayers", "nHeads", "nKvHeads", "dFf", "maxSeqLen"] as const).filter((f) => ck.config[f] !== this.config[f]);
    if (diffs.length) fail(`its architecture differs (${diffs.join(", ")}).`);
    const r = trainerFromCheckpoint(ck);
    if (r) {
      this.resumeState = r.state;
      this.training.tokensSeen = r.tokensSeen;
    }
    return ck.params;
  }

  get params(): ModelParams {
    if (!this.paramsValue) throw new Error(`owner "${this.name}" has no parameters yet: call await owner.train({ steps }) (or await owner.ensureParams()) first.`);
    return this.paramsValue;
  }

  get step(): number {
    return this.training.step;
  }

  /** Coordinated training (spec §3): only this owner's FFN, router row and bias change. */
  train(opts: TrainOptions): Promise<TrainRecord> {
    return this.training.train(opts);
  }

  /**
   * The coordination invariant: every frozen tensor (trunk, public FFN, r_pub) is bit-identical to
   * the public model this owner started from — and, if it is still the same, to its live weights.
   */
  invariants(pub: PublicModel = this.opts.from): InvariantReport {
    const p = this.params;
    const checks: InvariantReport["checks"] = [];
    const livePub = new Map(paramEntries(pub.params).map((e) => [e.name, e.tensor]));
    for (const e of paramEntries(p)) {
      if (isTrunkParam(e.name)) checks.push({ name: e.name, part: "trunk", identical: tensorHash(e.tensor) === tensorHash(livePub.get(e.name)!) });
    }
    p.layers.forEach((l, i) => {
      const pe = pub.params.layers[i].experts[0];
      const same = ["gate", "up", "down"].every((k) => tensorHash(l.experts[0][k as "gate"]) === tensorHash(pe[k as "gate"]));
      checks.push({ name: `model.layers.${i}.mlp.experts.0.*`, part: "public expert", identical: same });
      const row = tf.tidy(() => l.router.slice([0, 0], [1, -1]).reshape([-1]));
      const rowData = row.dataSync() as Float32Array;
      const rowHash = createHash("sha256").update(Buffer.from(rowData.buffer, rowData.byteOffset, rowData.byteLength)).digest("hex");
      row.dispose();
      checks.push({ name: `model.layers.${i}.mlp.gate.weight[0]`, part: "public router row", identical: rowHash === this.embeddings!.public.sha256 });
    });
    return new InvariantReport({ owner: this.name, publicTrunk: this.publicTrunk, livePublicTrunk: pub.trunkFingerprint(), checks });
  }

  card(): DataCard {
    const docs = this.lab.data.corpus.documents({ domain: this.domain, split: "train" });
    return {
      expert: this.name,
      owner: this.ownerName,
      domain: this.domain,
      licenses: [...new Set(docs.map((d) => d.license))].sort(),
      documents: docs.length,
      tokensSeen: this.training.tokensSeen,
      embedding: this.embeddings ? { embedder: this.init, documents: this.embeddings.own.documents, sha256: this.embeddings.own.sha256 } : undefined,
      training: { steps: this.step, preset: this.lab.preset, biasInit: this.biasInit, ...pickTraining(ownerTraining(this.lab.trainConfig)) },
      seed: this.lab.seed,
      createdAt: this.createdAt,
      updatedAt: new Date().toISOString(),
    };
  }

  /** The only artefact that leaves the owner's site: a 2-expert model plus its data card. */
  artifact(): OwnerArtifact & { card: DataCard; publicTrunk: string } {
    return { name: this.name, config: this.config, params: this.params, card: this.card(), publicTrunk: this.publicTrunk };
  }

  /** This owner's 2-expert model as a FlexModel (for evaluation before merging). */
  model(): FlexModel {
    return new FlexModel({
      config: this.config,
      params: this.params,
      cards: { public: this.opts.from.card(), [this.name]: this.card() },
      provenance: { kind: "owner", routerTuned: false, trunk: this.publicTrunk },
      label: `owner:${this.name}`,
      data: this.lab.data,
    });
  }

  /** Save the owner's artefact (and its optimizer state, so `lab.owner(d, { from, resume: dir })` continues exactly). */
  async save(dir: string): Promise<void> {
    await this.training.save(dir, this.config, this.params, {
      dataCards: { public: null, [this.name]: this.card() },
      provenance: { kind: "owner", domain: this.domain, publicTrunk: this.publicTrunk, init: this.init, biasInit: this.biasInit },
      step: this.step,
    });
  }

  dispose(): void {
    this.training.dispose();
    if (this.paramsValue) disposeParams(this.paramsValue);
    if (this.base) disposeParams(this.base);
  }
}

/** Read an owner's saved artefact (what `owner.save(dir)` wrote) for merging. */
export async function loadOwnerArtifact(dir: string): Promise<OwnerArtifact & { card?: DataCard; publicTrunk?: string }> {
  const ck = await loadCheckpoint(dir);
  const prov = (ck.sidecar.provenance ?? {}) as { kind?: string; publicTrunk?: string };
  if (ck.config.experts.length !== 2) {
    throw new Error(`${dir} is not an owner artefact: it has ${ck.config.experts.length} experts (an owner saves a 2-expert model [public, owner]).`);
  }
  const name = ck.config.experts[1];
  const card = (ck.sidecar.dataCards[1] ?? undefined) as DataCard | undefined;
  return { name, config: ck.config, params: ck.params, card, publicTrunk: prov.publicTrunk };
}

export type { Provenance };
