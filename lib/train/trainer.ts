/**
 * The stepwise trainer: AdamW + warmup/cosine + global-norm clipping over an explicit trainable set
 * (down to single rows), driven a few steps at a time from a notebook or a CLI.
 *
 *     const trainer = new Trainer(params, cfg, TRAIN_PRESETS.cpu, batches, ownerExpertSpec(cfg, 1));
 *     const rec = await trainer.steps(50, { onProgress: (p) => console.log(p.step, p.loss) });
 *     const saved = trainer.state();           // everything needed to continue exactly
 *     const t2 = new Trainer(params, cfg, TRAIN_PRESETS.cpu, batches2, { ...spec, resume: saved });
 *
 * Ownership: the trainer updates `params` in place (each update makes new tensors and disposes the
 * old ones), so do not keep references to individual parameter tensors across steps; re-read them
 * from `params` (or `paramEntries(params)`).
 * Consistency: an update is computed completely before any parameter is replaced, and `steps()` only
 * stops (on abort) between steps, so the model is never half-updated.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import { checkParamsMatch, ForwardOptions, readRoutingStats, RoutingStats } from "../model/model";
import type { ModelParams } from "../model/params";
import { readBack } from "../ops";
import { adamwStep } from "./adamw";
import { BatchSource, checkBatch, drawBatch, isResumable, splitBatch } from "./batches";
import { TrainConfig, validateTrainConfig } from "./config";
import { FreezeSpec, globToRegExp, resolveTrainable, TrainableSlot } from "./freeze";
import { trainingLoss } from "./loss";
import { lrAt, type LrSchedule } from "./schedule";

export interface StepProgress {
  /** Updates done so far (1 after the first step). */
  step: number;
  loss: number;
  ce: number;
  /** Unweighted router z-loss (sum over layers). */
  zLoss: number;
  /** Unweighted load-balancing loss (0 unless enabled). */
  lbLoss: number;
  /** Unweighted router margin loss (0 unless enabled; lib/train/loss.ts). */
  marginLoss: number;
  /** LR used for this update. */
  lr: number;
  /** Global gradient norm before clipping (trainable elements only). */
  gradNorm: number;
  /** Tokens processed in this step and per second of this step's wall-clock. */
  tokens: number;
  tokensPerSec: number;
  /** Wall-clock seconds of this step. */
  seconds: number;
  /** Per layer, per expert: share of top-k slots and mean router probability. */
  routing?: RoutingStats;
}

export interface StepsOptions {
  /** Abort between steps; the current step finishes first. */
  signal?: AbortSignal;
  onProgress?: (p: StepProgress) => void;
  /**
   * Awaited after each completed step, before the next one (and before the abort check): work that
   * interleaves with this run, e.g. an owner's router calibration steps on public text.
   */
  afterStep?: (p: StepProgress) => Promise<void>;
}

export interface StepsResult {
  /** Steps completed in this call. */
  steps: number;
  /** Total updates done by this trainer (including resumed ones). */
  step: number;
  losses: number[];
  ces: number[];
  lrs: number[];
  tokens: number;
  seconds: number;
  tokensPerSec: number;
  /** True when the signal stopped the run before n steps. */
  aborted: boolean;
}

export interface TrainerState {
  version: 1;
  /** Updates done; also the schedule position: the next update uses lrAt(step) and bias-correction count step + 1. */
  step: number;
  tokens: number;
  /** Trainable tensor names, in order, and how many elements of each train (detects a changed freeze spec). */
  trainable: Array<{ name: string; trainableCount: number }>;
  /** AdamW first/second moments by canonical name (clones: the state owns them; dispose with disposeTrainerState). */
  moments: Record<string, { m: tf.Tensor; v: tf.Tensor }>;
  /** Batch position: a resumable source's own state, or how many batches were drawn. */
  batches: { kind: "resumable"; state: unknown; drawn: number } | { kind: "count"; drawn: number };
  trainConfig: TrainConfig;
  /**
   * The LR schedule in force (absent in states saved before schedules were per call: then the
   * schedule is the train config's, starting at step 0).
   */
  schedule?: LrSchedule;
}

export interface TrainerOptions extends FreezeSpec {
  /** Continue from `trainer.state()` exactly. */
  resume?: TrainerState;
  /** Collect routing shares for progress events (a small CPU read per layer). Default true. */
  routingStats?: boolean;
}

export function disposeTrainerState(s: TrainerState): void {
  for (const { m, v } of Object.values(s.moments)) {
    m.dispose();
    v.dispose();
  }
}

export class Trainer {
  readonly params: ModelParams;
  readonly cfg: ModelConfig;
  readonly trainConfig: TrainConfig;
  private readonly batches: BatchSource;
  private readonly slots: TrainableSlot[];
  private readonly masks: Array<tf.Tensor | undefined>; // bool, per slot
  private readonly decay: boolean[]; // weight decay applies, per slot
  private m: tf.Tensor[];
  private v: tf.Tensor[];
  private stepCount = 0;
  private tokenCount = 0;
  private drawn = 0;
  private running = false;
  private disposed = false;
  private readonly fwd: ForwardOptions;
  /** Where the LR comes from: the train config's schedule from step 0 unless `setSchedule` says otherwise. */
  private scheduleValue: LrSchedule;

  constructor(params: ModelParams, cfg: ModelConfig, trainConfig: TrainConfig, batches: BatchSource, opts: TrainerOptions = {}) {
    validateTrainConfig(trainConfig);
    checkParamsMatch(params, cfg);
    if (typeof batches !== "function" && (typeof batches !== "object" || batches === null || typeof (batches as { next?: unknown }).next !== "function")) {
      throw new Error("Trainer: batches must be a function returning { ids, batchSize, seqLen }, an iterator of such batches, or a ResumableBatches");
    }
    this.params = params;
    this.cfg = cfg;
    this.trainConfig = { ...trainConfig };
    this.scheduleValue = { start: 0, steps: trainConfig.steps, warmupSteps: trainConfig.warmupSteps };
    this.batches = batches;
    this.fwd = { include: trainConfig.include, topK: trainConfig.topK, bias: trainConfig.bias, routingStats: opts.routingStats ?? true };
    this.slots = resolveTrainable(params, opts);
    const noDecay = trainConfig.noDecay.map(globToRegExp);
    this.decay = this.slots.map((s) => !noDecay.some((re) => re.test(s.name)));
    this.masks = this.slots.map((s) => (s.mask ? tf.tidy(() => tf.cast(tf.tensor(s.mask!, s.get().shape, "float32"), "bool")) : undefined));

    const r = opts.resume;
    if (r) {
      if (r.version !== 1) throw new Error(`Trainer: unsupported state version ${String(r.version)}`);
      const want = this.slots.map((s) => `${s.name}:${s.trainableCount}`).join("\n");
      const got = r.trainable.map((s) => `${s.name}:${s.trainableCount}`).join("\n");
      if (want !== got) throw new Error("Trainer: the saved state was made with a different trainable set (freeze spec); resume with the same spec");
      this.m = this.slots.map((s) => {
        const mm = r.moments[s.name];
        if (!mm || mm.m.shape.join() !== s.get().shape.join()) throw new Error(`Trainer: saved moments for "${s.name}" are missing or have the wrong shape`);
        return tf.clone(mm.m);
      });
      this.v = this.slots.map((s) => tf.clone(r.moments[s.name].v));
      this.stepCount = r.step;
      this.tokenCount = r.tokens;
      if (r.schedule) this.scheduleValue = { ...r.schedule };
      if (r.batches.kind === "resumable") {
        if (!isResumable(batches)) throw new Error("Trainer: the saved state has a resumable batch position; pass a ResumableBatches source");
        batches.setState(r.batches.state);
        this.drawn = r.batches.drawn;
      } else {
        // A plain function/iterator: skip the batches the earlier run consumed (exact for deterministic sources).
        for (let i = 0; i < r.batches.drawn; i++) drawBatch(batches);
        this.drawn = r.batches.drawn;
      }
    } else {
      this.m = this.slots.map((s) => tf.zerosLike(s.get()));
      this.v = this.slots.map((s) => tf.zerosLike(s.get()));
    }
  }

  /**
   * Continue from a saved state with the same training config it was made with:
   * `Trainer.resume(params, cfg, batches, state, spec)` ≡ `new Trainer(params, cfg, state.trainConfig, batches, { ...spec, resume: state })`.
   * `params` must hold the weights as they were when the state was taken (e.g. reloaded from a checkpoint).
   */
  static resume(params: ModelParams, cfg: ModelConfig, batches: BatchSource, state: TrainerState, spec: Omit<TrainerOptions, "resume"> = {}): Trainer {
    return new Trainer(params, cfg, state.trainConfig, batches, { ...spec, resume: state });
  }

  /** Updates done so far. */
  get step(): number {
    return this.stepCount;
  }

  /** The LR schedule in force (a copy). */
  get schedule(): LrSchedule {
    return { ...this.scheduleValue };
  }

  /**
   * Lay out a new LR schedule: warm-up then cosine over `steps` updates counted from `start`
   * (usually the current step). AdamW's moments and bias-correction count carry on unchanged:
   * only the learning rate follows the new schedule.
   */
  setSchedule(s: LrSchedule): void {
    if (!Number.isInteger(s.start) || s.start < 0) throw new Error(`setSchedule: start must be an integer ≥ 0 (got ${s.start}).`);
    if (!Number.isInteger(s.steps) || s.steps < 1) throw new Error(`setSchedule: steps must be a positive integer (got ${s.steps}).`);
    if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0 || s.warmupSteps > s.steps) throw new Error(`setSchedule: warmupSteps must be an integer in [0, steps] (got ${s.warmupSteps} of ${s.steps}).`);
    this.scheduleValue = { ...s };
  }

  /** Names of the trainable tensors and how many of their elements train. */
  trainable(): Array<{ name: string; trainableCount: number; size: number }> {
    return this.slots.map((s) => ({ name: s.name, trainableCount: s.trainableCount, size: s.get().size }));
  }

  /** Run up to n steps, yielding to the event loop after each. */
  async steps(n: number, opts: StepsOptions = {}): Promise<StepsResult> {
    if (!Number.isInteger(n) || n < 0) throw new Error(`steps(n): n must be an integer ≥ 0 (got ${n})`);
    if (this.disposed) throw new Error("This trainer has been disposed");
    if (this.running) throw new Error("steps() is already running on this trainer; await it (or abort it) first");
    this.running = true;
    const res: StepsResult = { steps: 0, step: this.stepCount, losses: [], ces: [], lrs: [], tokens: 0, seconds: 0, tokensPerSec: 0, aborted: false };
    try {
      for (let i = 0; i < n; i++) {
        if (opts.signal?.aborted) {
          res.aborted = true;
          break;
        }
        const p = await this.runStep();
        res.steps++;
        res.losses.push(p.loss);
        res.ces.push(p.ce);
        res.lrs.push(p.lr);
        res.tokens += p.tokens;
        res.seconds += p.seconds;
        opts.onProgress?.(p);
        if (opts.afterStep) await opts.afterStep(p);
        await new Promise((r) => setImmediate(r)); // let the notebook/UI breathe; abort lands here
      }
      // GPU backends: bring the new weights to the host once per call, so hashes and saves read them
      // synchronously (a no-op on cpu/wasm; lib/ops/host-reads.ts).
      await readBack(this.slots.map((s) => s.get()));
    } finally {
      this.running = false;
    }
    res.step = this.stepCount;
    res.tokensPerSec = res.seconds > 0 ? res.tokens / res.seconds : 0;
    return res;
  }

  /** One complete update. Throws (without changing the model) on a non-finite loss or gradient. */
  private async runStep(): Promise<StepProgress> {
    const t0 = performance.now();
    const tc = this.trainConfig;
    const batch = drawBatch(this.batches);
    this.drawn++;
    checkBatch(batch, this.cfg.vocabSize, this.cfg.maxSeqLen);
    const { inputs, targets } = splitBatch(batch);
    const B = batch.batchSize, T = batch.seqLen;
    const sch = this.scheduleValue;
    const lr = lrAt(this.stepCount - sch.start, { lr: tc.lr, minLrRatio: tc.minLrRatio, steps: sch.steps, warmupSteps: sch.warmupSteps });
    const t = this.stepCount + 1; // AdamW bias-correction count
    let ce = NaN, z = 0, lb = 0, margin = 0, loss = NaN, gradNorm = NaN;
    let routing: RoutingStats | undefined;

    const xs = this.slots.map((s) => s.get());
    // Phase 1: loss and gradients. Nothing is read on the host here: the step's numbers come back as
    // one small tensor, read once, asynchronously (a synchronous read stalls or fails on GPU backends).
    let included: number[] = [];
    const kept = tf.tidy(() => {
      const ids = tf.tensor2d(inputs, [B, T], "int32");
      // The gradient scope frees everything but the loss: the other numbers leave it in one kept tensor.
      let parts: tf.Tensor | undefined;
      const { value, grads } = tf.engine().gradients(
        () => {
          const r = trainingLoss(this.params, this.cfg, ids, targets, tc, this.fwd);
          const s = [r.ce, r.z, r.lb, r.margin].map((x) => tf.reshape(x, [1]));
          if (r.routingStatsTensor) s.push(tf.reshape(r.routingStatsTensor, [-1]));
          parts = tf.keep(tf.concat(s)); // [ce, z, lb, margin, (L·2·E_included routing stats)]
          routing = r.routingStats;
          included = r.included;
          return r.loss;
        },
        xs,
        undefined,
        true, // a trainable tensor may get no gradient (e.g. an excluded expert): see below
      );
      // A tensor with no gradient at all (e.g. an expert excluded from this forward pass) is skipped,
      // like PyTorch skips parameters whose .grad is None: no weight decay, moments unchanged.
      const gs = grads.map((g, i) => {
        if (!g) return undefined;
        const mk = this.masks[i];
        return mk ? tf.where(mk, g, tf.zerosLike(g)) : g;
      });
      const present = gs.filter((g): g is tf.Tensor => g !== undefined);
      const normSq = present.length ? tf.addN(present.map((g) => tf.sum(tf.square(g)))) : tf.scalar(0);
      // [loss, ‖g‖², ce, z, lb, margin] then, with device routing stats, the [L, 2, E_included] block.
      const numbers = tf.concat([tf.reshape(value, [1]), tf.reshape(normSq, [1]), parts!]);
      parts!.dispose();
      return { numbers, gs };
    });
    let next: Array<{ w: tf.Tensor; m: tf.Tensor; v: tf.Tensor } | null> | undefined;
    try {
      const h = await kept.numbers.data();
      [loss, ce, z, lb, margin] = [h[0], h[2], h[3], h[4], h[5]];
      gradNorm = Math.sqrt(h[1]);
      if (h.length > 6) routing = readRoutingStats(h.subarray(6), this.cfg.nLayers, this.cfg.experts.length, included);
      if (Number.isFinite(loss) && Number.isFinite(gradNorm)) {
        // Phase 2: the update, into new tensors (the old ones stay until every update is computed).
        const clip = Math.min(1, tc.gradClip / (gradNorm + 1e-6)); // torch.nn.utils.clip_grad_norm_
        tf.tidy(() => {
          next = kept.gs.map((g, i) => {
            if (!g) return null;
            const gc = clip < 1 ? tf.mul(g, clip) : g;
            const hp = { lr, beta1: tc.beta1, beta2: tc.beta2, eps: tc.eps, weightDecay: this.decay[i] ? tc.weightDecay : 0 };
            const u = adamwStep(xs[i], gc, this.m[i], this.v[i], hp, t, this.masks[i]);
            return { w: tf.keep(u.w), m: tf.keep(u.m), v: tf.keep(u.v) };
          });
        });
      }
    } finally {
      kept.numbers.dispose();
      kept.gs.forEach((g) => g?.dispose());
    }
    if (!next) {
      throw new Error(`Non-finite ${Number.isFinite(loss) ? "gradient norm" : "loss"} at step ${this.stepCount + 1} (loss ${loss}, grad norm ${gradNorm}); the update was NOT applied. Lower the learning rate or check the data.`);
    }
    // Swap in the new tensors only now that every update is computed.
    next.forEach((u, i) => {
      if (!u) return;
      xs[i].dispose();
      this.m[i].dispose();
      this.v[i].dispose();
      this.slots[i].set(u.w);
      this.m[i] = u.m;
      this.v[i] = u.v;
    });
    this.stepCount++;
    const tokens = B * T;
    this.tokenCount += tokens;
    const seconds = (performance.now() - t0) / 1000;
    return { step: this.stepCount, loss, ce, zLoss: z, lbLoss: lb, marginLoss: margin, lr, gradNorm, tokens, tokensPerSec: tokens / seconds, seconds, routing };
  }

  /** Everything needed to continue exactly (moments are cloned: dispose with disposeTrainerState). */
  state(): TrainerState {
    const moments: TrainerState["moments"] = {};
    this.slots.forEach((s, i) => (moments[s.name] = { m: tf.clone(this.m[i]), v: tf.clone(this.v[i]) }));
    return {
      version: 1,
      step: this.stepCount,
      tokens: this.tokenCount,
      trainable: this.slots.map((s) => ({ name: s.name, trainableCount: s.trainableCount })),
      moments,
      batches: isResumable(this.batches) ? { kind: "resumable", state: this.batches.getState(), drawn: this.drawn } : { kind: "count", drawn: this.drawn },
      trainConfig: { ...this.trainConfig },
      schedule: { ...this.scheduleValue },
    };
  }

  /** Free the optimizer state and masks (the parameters stay; they belong to the caller). */
  dispose(): void {
    if (this.disposed) return;
    this.m.forEach((t) => t.dispose());
    this.v.forEach((t) => t.dispose());
    this.masks.forEach((t) => t?.dispose());
    this.disposed = true;
  }
}
