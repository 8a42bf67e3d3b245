/**
 * A data owner's expert (docs/method.md §3): a 2-expert model [public FFN, own FFN] with router rows
 * [r_pub, r_i], upcycled from a snapshot of the public model and trained on the owner's data with
 * everything frozen but the own FFN, r_i and the expert bias. The only artefact that leaves the
 * owner's site is that 2-expert model plus its data card.
 *
 * Invariant (refused loudly by `merge`, reported by `invariants()`): after any amount of training,
 * every shared-trunk tensor, the public FFN and r_pub are bit-identical to the public model's.
 *
 * Ownership: an OwnerExpert owns its 2-expert parameters (or, before they are built, its snapshot of
 * the public model) and its sessions' optimizer state; `dispose()` frees all of it, once. `model()`
 * and `artifact()` borrow those tensors (a merge copies what it takes). `loadOwnerArtifact` hands
 * the caller the weights only and frees the checkpoint's optimizer state at once.
 */
import * as tf from "../tf";
import { archDiffs, type ModelConfig } from "../model/config";
import { inspect } from "node:util";
import { disposeParams } from "../model/model";
import type { ModelParams } from "../model/params";
import { paramEntries } from "../model/params";
import { ownerTraining } from "../train/config";
import { ownerExpertSpec, ownerRouterSpec } from "../train/freeze";
import { disposeTrainerState, type StepsOptions } from "../train/trainer";
import { checkOptionKeys } from "../util/options";
import { TRAIN_OPTION_KEYS, withTrainView } from "./train-view";
import { companionFromCheckpoint, resumable, trainerFromCheckpoint, TrainingSession, type TrainOptions } from "../train/session";
import { loadCheckpoint, type LoadedCheckpoint } from "../io/checkpoint";
import { sha256u32 } from "../util/hash";
import type { DataCard } from "./cards";
import type { LabContext } from "./context";
import type { DomainEmbedding, EmbedderName } from "./embed";
import { resolveRouterMargin, type RouterMargin } from "./recipes";

import { FlexModel } from "./model";
import { PublicModel, trainingCard } from "./public";
import { InvariantReport, TrainRecord } from "./records";
import { hostRow, isTrunkParam, tensorHash, vectorHash } from "./trunk";
import { hfTokenizerFiles } from "../io/hf-tokenizer";

/** The part of a domain embedding an owner keeps: enough to check r_pub and to write the data card. */
interface EmbeddingRecord {
  documents: number;
  sha256: string;
}
const embeddingRecord = (e: DomainEmbedding): EmbeddingRecord => ({ documents: e.documents, sha256: e.sha256 });

/** One owner's artefact: the only thing that leaves the owner's site (docs/method.md §3, step 5). */
export interface OwnerArtifact {
  /** Expert name, usually the domain ("math"). Must be unique within a merge. */
  name: string;
  /** The owner's 2-expert config: experts = ["public", name]. */
  config: ModelConfig;
  /** The owner's 2-expert parameters: expert 0 = public FFN (frozen), expert 1 = own FFN. */
  params: ModelParams;
}

export interface OwnerOptions {
  /** The public model this owner starts from (its trunk is snapshotted now). */
  from: PublicModel;
  /** Router-row initialisation: external embedder (paper), public hidden states, or random (ablation). Default: the lab's recipe ("external"). */
  init?: EmbedderName;
  /** Initial β of the expert bias b = min(β, 0); `false` = no bias (the ablation: β fixed at 0). Default: the lab's recipe (paper −1, lab −3). */
  bias?: number | false;
  /** Expert name (default: the domain). */
  name?: string;
  /** Documents for the domain embedding (default: the lab's recipe, 1 000 as in the paper). */
  docs?: number;
  /** Who owns it (for the data card). */
  owner?: string;
  /** Continue an owner saved with `owner.save(dir)` (weights and optimizer state), e.g. in another process. */
  resume?: string;
  /**
   * Router calibration on public text (the lab recipe; NOT in the paper, docs/method.md §12): after
   * each step on the owner's data, this many router-only steps (r_i and β_i; nothing else) on the
   * public split, so r_i also learns which tokens are not its own. Public data is public: the owner
   * still shares nothing and needs nothing from other owners, and opt-out stays exact. A fraction
   * interleaves less often (0.5 = one public step every other owner step). Default: the lab's recipe (paper 0 = off, lab 1).
   */
  calibration?: number;
  /**
   * Router margin loss (the lab recipe; NOT in the paper, docs/recipes.md): a logistic loss on the
   * margin d = z_own − z_pub that pushes it above `boundary` on the owner's text and, in the
   * calibration steps, below it on public text. It trains the router row and bias only (the router's
   * input is detached), so r_i becomes a classifier of "my domain vs public text" whose scores other
   * owners' rows can be compared with. `false` = off. Default: the lab's recipe (paper off).
   */
  routerMargin?: RouterMargin | false;
}

/**
 * The batch seed an owner of `domain` trains with. A dense expert of the same domain uses it too, so
 * both see exactly the same windows in the same order: the only difference is what trains.
 */
export function ownerBatchSeed(lab: Pick<LabContext, "seed">, domain: string): number {
  return (lab.seed + sha256u32(`owner:${domain}`)) >>> 0;
}

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
  /**
   * What the router rows started from: the hashes (and document counts) of the public and own domain
   * embeddings. Computed when the owner is built; a resumed owner reads them from its checkpoint's
   * data card (computing them again takes seconds per domain and gives the same bytes).
   */
  private embeddings?: { public: EmbeddingRecord; own: EmbeddingRecord };
  private readonly session: TrainingSession;
  /** Router-only steps on public text (undefined when calibration is off). */
  private readonly calibrationSession?: TrainingSession;
  /** Documents averaged into each domain embedding. */
  readonly docs: number;
  /** Public router-calibration steps per owner step (0 = off). */
  readonly calibration: number;
  /** The router margin loss (undefined = off). */
  readonly routerMargin?: RouterMargin;
  private readonly createdAt = new Date().toISOString();
  private readonly ownerName: string;
  private disposed = false;

  constructor(
    readonly lab: LabContext,
    domain: string,
    private readonly opts: OwnerOptions,
  ) {
    lab.data.checkDomain(domain);
    if (domain === "public") throw new Error('"public" is the public expert; owners train closed domains (e.g. "math").');
    if (!(opts?.from instanceof PublicModel)) throw new Error('owner: pass the public model to start from: lab.owner("math", { from: pub }).');
    this.domain = domain;
    this.name = opts.name ?? domain;
    const recipe = lab.recipe.owner;
    this.init = opts.init ?? recipe.init;
    this.biasInit = opts.bias === undefined ? recipe.bias : opts.bias;
    this.docs = opts.docs ?? recipe.docs;
    // Now rather than at the first train() call, when the domain embedding is built.
    if (!Number.isInteger(this.docs) || this.docs < 1) throw new Error(`owner "${this.name}": docs must be a positive integer (documents averaged into each domain embedding; got ${String(opts.docs)}).`);
    if (this.biasInit !== false && !(typeof this.biasInit === "number" && Number.isFinite(this.biasInit))) {
      throw new Error(`owner "${this.name}": bias must be a finite number (β init) or false (no bias); got ${String(opts.bias)}.`);
    }
    if (typeof this.biasInit === "number" && this.biasInit >= 0) {
      // min(β, 0) passes no gradient for β > 0 (docs/method.md §2.4): a non-negative start never becomes a bias.
      throw new Error(`owner "${this.name}": bias β must start below 0 (got ${this.biasInit}); b = min(β, 0) has no gradient for β ≥ 0. Use e.g. -1, or false for no bias.`);
    }
    this.ownerName = opts.owner ?? `${domain} owner`;
    this.config = { ...lab.modelConfig, experts: ["public", this.name], topK: 2 };
    this.base = opts.resume ? undefined : opts.from.snapshot();
    this.publicTrunk = opts.from.trunkFingerprint();
    const spec = ownerExpertSpec(this.config, 1);
    if (this.biasInit === false) spec.rows = { "model.layers.*.mlp.gate.weight": [1] }; // ablation: β stays 0
    this.routerMargin = resolveRouterMargin(opts.routerMargin, recipe, `owner "${this.name}"`);
    const margin = (side: "own" | "public") => (this.routerMargin ? { routerMargin: { expert: 1, side, ...this.routerMargin } } : {});
    this.session = new TrainingSession(`owner "${this.name}"`, async () => ({
      params: await this.ensureParams(),
      cfg: this.config,
      tc: { ...ownerTraining(this.lab.trainConfig), ...margin("own") },
      batches: resumable(await this.lab.batches(this.domain, ownerBatchSeed(this.lab, this.domain))),
      spec,
    }));
    this.calibration = opts.calibration ?? recipe.calibration ?? 0;
    if (!(Number.isFinite(this.calibration) && this.calibration >= 0)) throw new Error(`owner "${this.name}": calibration must be a number ≥ 0 (public router steps per owner step; got ${String(opts.calibration)}).`);
    if (this.calibration > 0) {
      // Its own batch seed: public windows in an order no other owner's calibration shares (nothing depends on that, but it keeps owners independent).
      this.calibrationSession = new TrainingSession(`owner "${this.name}" router calibration`, async () => ({
        params: await this.ensureParams(),
        cfg: this.config,
        tc: { ...ownerTraining(this.lab.trainConfig), ...margin("public") },
        batches: resumable(await this.lab.batches("public", (this.lab.seed + sha256u32(`calibration:${this.domain}`)) >>> 0)),
        spec: ownerRouterSpec(this.config, 1, this.biasInit !== false),
        routingStats: false,
      }));
    }
  }

  /** The 2-expert parameters (built on first use: the domain embedding takes a moment). */
  async ensureParams(): Promise<ModelParams> {
    this.assertLive("ensureParams");
    if (this.paramsValue) return this.paramsValue;
    // The public and own domain embeddings this owner's router rows start from (and their record).
    const embed = async () => {
      const opts = { embedder: this.init, docs: this.docs, from: this.opts.from };
      const [pub, own] = [await this.lab.embed("public", opts), await this.lab.embed(this.domain, opts)];
      this.embeddings = { public: embeddingRecord(pub), own: embeddingRecord(own) };
      return { pubEmb: pub, ownEmb: own };
    };
    if (this.opts.resume) {
      const ck = await loadCheckpoint(this.opts.resume);
      this.embeddings = this.recordedEmbeddings(ck.sidecar.dataCards[1]);
      if (!this.embeddings) await embed(); // saved by an older build, or with another embedder or document count
      return (this.paramsValue = this.restore(ck, this.opts.resume));
    }
    const { pubEmb, ownEmb } = await embed();
    const base = this.base!;
    const beta = this.biasInit === false ? 0 : this.biasInit;
    // Upcycle (docs/method.md §3 step 3): the public FFN copied into both experts; rows [e_pub; e_i] in every layer.
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

  /**
   * The embedding hashes a saved owner's data card records, when they are this owner's: same embedder
   * and document count (else undefined, and they are computed again).
   */
  private recordedEmbeddings(card: unknown): { public: EmbeddingRecord; own: EmbeddingRecord } | undefined {
    // Read from a file: typed as the card we write, but every field is checked.
    const e = (card as Partial<DataCard> | null)?.embedding;
    const hex = (x: unknown): x is string => typeof x === "string" && /^[0-9a-f]{64}$/.test(x);
    if (!e || e.embedder !== this.init || !hex(e.sha256) || !hex(e.public?.sha256) || typeof e.documents !== "number" || typeof e.public?.documents !== "number") return undefined;
    // The document counts must be what this owner would draw: DomainEmbeddings.sampleDocuments takes
    // min(docs, the domain's train documents); "random" draws none.
    const drawn = (domain: string) => (this.init === "random" ? 0 : Math.min(this.docs, this.lab.data.corpus.documents({ domain, split: "train" }).length));
    if (e.documents !== drawn(this.domain) || e.public.documents !== drawn("public")) return undefined;
    return { own: { documents: e.documents, sha256: e.sha256 }, public: { documents: e.public.documents, sha256: e.public.sha256 } };
  }

  /** Continue a saved owner, refusing one of another domain or another public model. */
  private restore(ck: LoadedCheckpoint, dir: string): ModelParams {
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
    const diffs = archDiffs(ck.config, this.config);
    if (diffs.length) fail(`its architecture differs (${diffs.join(", ")}).`);
    const cal = companionFromCheckpoint(ck, "calibration");
    if (cal && this.calibrationSession) this.calibrationSession.restore(cal);
    else if (cal) disposeTrainerState(cal.state); // saved with calibration, resumed without: nothing to continue
    const r = trainerFromCheckpoint(ck);
    if (r) this.session.restore(r);
    return ck.params;
  }

  get params(): ModelParams {
    this.assertLive("params");
    if (!this.paramsValue) throw new Error(`owner "${this.name}" has no parameters yet: call await owner.train({ steps }) (or await owner.ensureParams()) first.`);
    return this.paramsValue;
  }

  get step(): number {
    return this.session.step;
  }

  /**
   * Coordinated training (docs/method.md §3): only this owner's FFN, router row and bias change.
   * Each call has its own LR schedule unless told otherwise. With `calibration`, router-only steps
   * on public text run between its steps (one schedule over the call's public steps).
   */
  async train(opts: TrainOptions): Promise<TrainRecord> {
    this.assertLive("train");
    checkOptionKeys(opts, TRAIN_OPTION_KEYS, `${this.session.what}.train`);
    return withTrainView(this.session.what, opts, ["public", this.name], (o) => this.trainSteps(o));
  }

  private async trainSteps(opts: TrainOptions): Promise<TrainRecord> {
    const cal = this.calibrationSession;
    let calibrationAborted = false;
    const hooks: Pick<StepsOptions, "afterStep"> = {};
    if (cal && opts && Number.isInteger(opts.steps) && opts.steps > 0) {
      const n = opts.steps, rate = this.calibration;
      const totalPublic = Math.floor(n * rate);
      let i = 0, done = 0;
      hooks.afterStep = async () => {
        const k = Math.floor((i + 1) * rate) - Math.floor(i * rate); // public steps after owner step i
        i++;
        if (k === 0) return;
        // One schedule over this call's public steps, laid out on its first step (or continued, as the owner's is).
        const schedule = done > 0 || (opts.schedule === "continue" && cal.step > 0) ? "continue" : { steps: Math.max(1, totalPublic) };
        const c = (await cal.train({ steps: k, signal: opts.signal, schedule })).result;
        done += c.steps;
        if (c.aborted) calibrationAborted = true;
      };
    }
    const run = await this.session.train(opts, hooks);
    const result = calibrationAborted ? { ...run.result, aborted: true } : run.result;
    return TrainRecord.fromSteps(this.session.what, result, run.history, run.routing);
  }

  /** Router-calibration steps on public text done so far (0 when calibration is off). */
  get calibrationSteps(): number {
    return this.calibrationSession?.step ?? 0;
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
      const rowHash = vectorHash(hostRow(l.router, 0) as Float32Array);
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
      tokensSeen: this.session.tokensSeen,
      embedding: this.embeddings
        ? {
            embedder: this.init,
            documents: this.embeddings.own.documents,
            sha256: this.embeddings.own.sha256,
            public: { documents: this.embeddings.public.documents, sha256: this.embeddings.public.sha256 },
          }
        : undefined,
      training: {
        steps: this.step,
        preset: this.lab.preset,
        biasInit: this.biasInit,
        ...trainingCard(ownerTraining(this.lab.trainConfig)),
        ...(this.calibration > 0
          ? { routerCalibration: { publicStepsPerOwnerStep: this.calibration, publicSteps: this.calibrationSteps, trains: "router row and bias only", departure: "lab recipe, not in the paper (docs/method.md §12)" } }
          : {}),
        ...(this.routerMargin
          ? { routerMargin: { ...this.routerMargin, trains: "router row and bias only (router input detached)", departure: "lab recipe, not in the paper (docs/recipes.md)" } }
          : {}),
      },
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

  /**
   * Save the owner's artefact and its optimizer state — the router calibration's too — so that
   * `lab.owner(d, { from, resume: dir })` continues exactly, bit for bit.
   */
  async save(dir: string): Promise<void> {
    await this.session.save(
      dir,
      this.config,
      this.params,
      {
        dataCards: { public: null, [this.name]: this.card() },
        provenance: { kind: "owner", domain: this.domain, publicTrunk: this.publicTrunk, init: this.init, biasInit: this.biasInit, calibration: this.calibration, routerMargin: this.routerMargin ?? false },
        step: this.step,
      },
      { companions: this.calibrationSession ? { calibration: this.calibrationSession } : {}, tokenizer: hfTokenizerFiles(this.lab.data.tokenizer, this.config.maxSeqLen) },
    );
  }

  /** Throws a clear error once the owner was disposed (instead of a TF.js "tensor is disposed"). */
  assertLive(verb: string): void {
    if (this.disposed) throw new Error(`owner "${this.name}": ${verb} after dispose(); its weights were freed. Create it again (lab.owner(…, { resume: dir }) continues a saved one).`);
  }

  /** Free the weights, the public snapshot and both sessions' optimizer state. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.session.dispose();
    this.calibrationSession?.dispose();
    if (this.paramsValue) disposeParams(this.paramsValue);
    if (this.base) disposeParams(this.base);
    this.paramsValue = undefined;
    this.base = undefined;
  }

  /** One line: the owner, its domain, how far it trained, its router init and bias. */
  toString(): string {
    return `OwnerExpert "${this.name}" (${this.domain}): ${this.step} step${this.step === 1 ? "" : "s"}, init ${this.init}, bias ${this.biasInit === false ? "none" : this.biasInit}${this.calibration ? `, ${this.calibration} public router step(s) per step` : ""}${this.disposed ? " [disposed]" : ""}`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field and tensor. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** Read an owner's saved artefact (what `owner.save(dir)` wrote) for merging. */
export async function loadOwnerArtifact(dir: string): Promise<OwnerArtifact & { card?: DataCard; publicTrunk?: string }> {
  const ck = await loadCheckpoint(dir);
  // Merging needs the weights only: free the optimizer state (the owner's and its calibration's).
  if (ck.optimizer) Object.values(ck.optimizer.tensors).forEach((t) => t.dispose());
  const prov = (ck.sidecar.provenance ?? {}) as { kind?: string; publicTrunk?: string };
  if (ck.config.experts.length !== 2) {
    disposeParams(ck.params);
    throw new Error(`${dir} is not an owner artefact: it has ${ck.config.experts.length} experts (an owner saves a 2-expert model [public, owner]).`);
  }
  const name = ck.config.experts[1];
  const card = (ck.sidecar.dataCards[1] ?? undefined) as DataCard | undefined;
  return { name, config: ck.config, params: ck.params, card, publicTrunk: prov.publicTrunk };
}
