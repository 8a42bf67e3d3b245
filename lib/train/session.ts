/**
 * A training session: one model trained a few steps at a time (`train({ steps })` again and again),
 * saved with its optimizer state and resumed exactly. The public model, owner experts, the trainable
 * baselines and router tuning all train through this one class, so what a `train` call means —
 * its learning-rate schedule, its abort signal, what a checkpoint keeps — is decided here once.
 *
 * The schedule is per call. Each `train({ steps })` lays out warm-up and cosine decay over exactly
 * the steps it was asked for, so a 100-step call ends at the decayed learning rate whatever preset
 * the lab has. To spread one schedule over several calls (a notebook that trains in chunks to show
 * progress), pass `schedule: { steps: total }` on the first call and `schedule: "continue"` after.
 *
 * Ownership: the session owns its Trainer (optimizer moments, masks) and frees it on `dispose()`;
 * the parameters belong to the caller, as with the Trainer itself.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import type { ModelParams } from "../model/params";
import { kernelAbortSignal } from "../display/kernel-signal";
import { saveCheckpoint, type SidecarInput } from "../io/checkpoint";
import type { HfTokenizerFiles } from "../io/hf-tokenizer";
import type { BatchSource, ResumableBatches } from "./batches";
import type { TrainConfig } from "./config";
import type { FreezeSpec } from "./freeze";
import type { LrSchedule } from "./schedule";
import { Trainer, disposeTrainerState, type StepProgress, type StepsOptions, type StepsResult, type TrainerState } from "./trainer";

/**
 * Warm-up of a per-call schedule as a fraction of its steps (at least one step). FlexOlmo warms up
 * 2 000 of about 12 500 expert-training steps (16 %); at toy scale 10 % reaches the peak quickly and
 * leaves most of a short run for the decay. The study's phases used the same rule.
 */
export const DEFAULT_WARMUP_FRACTION = 0.1;

/**
 * How a `train` call sets the learning rate:
 * - omitted: a new warm-up + cosine schedule over exactly this call's steps;
 * - `{ steps, warmupSteps | warmupFraction }`: a new schedule over `steps` updates starting now
 *   (may be longer than this call; continue it with `"continue"`);
 * - `"continue"`: carry on with the schedule of the previous call (or of a resumed checkpoint).
 */
export type ScheduleRequest = "continue" | { steps?: number; warmupSteps?: number; warmupFraction?: number };

export interface TrainOptions {
  steps: number;
  /** Stop at the next step boundary (default: the notebook kernel's interrupt). */
  signal?: AbortSignal;
  onProgress?: (p: StepProgress) => void;
  schedule?: ScheduleRequest;
  /**
   * Show progress while training (the public model and owners: lib/flex/train-view.ts): the live
   * view in the notebook kernel, a progress line on a terminal's stderr. Default: on unless
   * `onProgress` is given. The session itself ignores it.
   */
  live?: boolean;
}

/** What a session needs to start its trainer (built lazily: making batches or parameters can take a moment). */
export interface SessionSetup {
  params: ModelParams;
  cfg: ModelConfig;
  tc: TrainConfig;
  batches: BatchSource;
  spec?: FreezeSpec;
  /** Collect routing shares for progress events (default true). */
  routingStats?: boolean;
}

/** One `train` call's outcome, plus the loss history of the whole session. */
export interface SessionRun {
  result: StepsResult;
  history: number[];
  /** Per step, the last layer's expert shares (empty for dense models). */
  routing: number[][];
}

/** A saved trainer state and the tokens seen before it (restored from a checkpoint). */
export interface ResumePoint {
  state: TrainerState;
  tokensSeen: number;
}

/** Warm-up of a schedule over `steps` updates: `fraction` of them, at least one. */
export function warmupFor(steps: number, fraction: number): number {
  return Math.max(1, Math.round(steps * fraction));
}

/** The schedule a call asks for, placed at the trainer's current step. */
export function resolveSchedule(req: ScheduleRequest | undefined, callSteps: number, at: number, current: LrSchedule | undefined, what: string): LrSchedule | undefined {
  if (req === "continue") {
    if (!current) throw new Error(`${what}.train: schedule "continue" has no schedule to continue (nothing trained yet); pass schedule: { steps: N } on the first call.`);
    return undefined; // keep the trainer's
  }
  const steps = req?.steps ?? callSteps;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`${what}.train: schedule.steps must be a positive integer (got ${String(req?.steps)}).`);
  const fraction = req?.warmupFraction ?? DEFAULT_WARMUP_FRACTION;
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`${what}.train: schedule.warmupFraction must be in [0, 1) (got ${fraction}).`);
  const warmupSteps = req?.warmupSteps ?? warmupFor(steps, fraction);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || warmupSteps > steps) throw new Error(`${what}.train: schedule.warmupSteps must be an integer in [0, ${steps}] (got ${warmupSteps}).`);
  return { start: at, steps, warmupSteps };
}

export class TrainingSession {
  private trainer?: Trainer;
  private readonly history: number[] = [];
  private resume?: TrainerState;
  /** True once a schedule was laid out (by a call or a resumed checkpoint): "continue" has something to continue. */
  private scheduled = false;
  tokensSeen = 0;

  constructor(
    /** Names the model in errors and records ("public model", `owner "math"`). */
    readonly what: string,
    private readonly setup: () => Promise<SessionSetup>,
    resume?: ResumePoint,
  ) {
    if (resume) {
      this.resume = resume.state;
      this.tokensSeen = resume.tokensSeen;
      this.scheduled = true;
    }
  }

  /** Continue from a saved state (before the first `train` call; e.g. found while building parameters). */
  restore(r: ResumePoint): void {
    if (this.trainer) throw new Error(`${this.what}: cannot restore a saved state into a session that has started training.`);
    if (this.resume) disposeTrainerState(this.resume);
    this.resume = r.state;
    this.tokensSeen = r.tokensSeen;
    this.scheduled = true;
  }

  /** Updates done so far (including resumed ones). */
  get step(): number {
    return this.trainer?.step ?? this.resume?.step ?? 0;
  }

  /** Start the trainer now (restores a resumed state) without training. */
  async open(): Promise<Trainer> {
    if (!this.trainer) {
      const m = await this.setup();
      this.trainer = new Trainer(m.params, m.cfg, m.tc, m.batches, { ...(m.spec ?? {}), resume: this.resume, routingStats: m.routingStats });
      if (this.resume) disposeTrainerState(this.resume);
      this.resume = undefined;
    }
    return this.trainer;
  }

  /** Train `opts.steps` steps; `afterStep` (internal) interleaves other work between them. */
  async train(opts: TrainOptions, hooks: Pick<StepsOptions, "afterStep"> = {}): Promise<SessionRun> {
    if (!opts || !Number.isInteger(opts.steps) || opts.steps < 0) throw new Error(`${this.what}.train: pass { steps: N } with N a non-negative integer.`);
    const trainer = await this.open();
    if (opts.steps > 0 || opts.schedule !== undefined) {
      const s = resolveSchedule(opts.schedule, Math.max(1, opts.steps), trainer.step, this.scheduled ? trainer.schedule : undefined, this.what);
      if (s) trainer.setSchedule(s);
      this.scheduled = true;
    }
    const routing: number[][] = [];
    const result = await trainer.steps(opts.steps, {
      // In the notebook kernel, "interrupt" aborts this signal: training stops at a step boundary.
      signal: opts.signal ?? kernelAbortSignal(),
      onProgress: (p) => {
        if (p.routing && p.routing.share.length) routing.push(p.routing.share[p.routing.share.length - 1]); // last layer's expert shares
        opts.onProgress?.(p);
      },
      afterStep: hooks.afterStep,
    });
    this.history.push(...result.losses);
    this.tokensSeen += result.tokens;
    return { result, history: [...this.history], routing };
  }

  /**
   * Save weights plus the optimizer state, schedule and batch position, so training can resume exactly.
   * `weightsOnly` leaves the optimizer state out (a third of the size; loading it starts a new run).
   * `companions`: other sessions over the same weights (an owner's router calibration) whose state is
   * saved beside this one, under `<key>/` in optimizer.safetensors; `companionFromCheckpoint` reads it.
   */
  async save(dir: string, config: ModelConfig, params: ModelParams, sidecar: SidecarInput, opts: { weightsOnly?: boolean; companions?: Record<string, TrainingSession>; tokenizer?: HfTokenizerFiles } = {}): Promise<void> {
    const { weightsOnly = false, companions = {} } = opts;
    // A resumed session that has not trained yet still holds its state: open it so the save keeps it.
    if (!weightsOnly && this.resume) await this.open();
    const st = weightsOnly ? undefined : this.trainer?.state();
    const parts = trainerToCheckpoint(st);
    const extra: Record<string, TrainerState> = {};
    if (st) for (const [key, c] of Object.entries(companions)) {
      if (c.resume) await c.open();
      const cs = c.trainer?.state();
      if (cs) extra[key] = cs;
    }
    try {
      const tensors = { ...parts.optimizer?.tensors };
      const meta: Record<string, unknown> = {};
      for (const [key, cs] of Object.entries(extra)) {
        const cp = trainerToCheckpoint(cs);
        for (const [name, t] of Object.entries(cp.optimizer!.tensors)) tensors[`${key}/${name}`] = t;
        meta[key] = { step: cs.step, trainer: cp.metadata.trainer };
      }
      const optimizer = parts.optimizer ? { step: parts.optimizer.step, tensors } : undefined;
      const metadata = { ...sidecar.metadata, ...parts.metadata, ...(Object.keys(meta).length ? { companions: meta } : {}) };
      await saveCheckpoint(dir, { config, params, optimizer, sidecar: { ...sidecar, metadata }, tokenizer: opts.tokenizer });
    } finally {
      if (st) disposeTrainerState(st);
      Object.values(extra).forEach(disposeTrainerState);
    }
  }

  dispose(): void {
    this.trainer?.dispose();
    this.trainer = undefined;
    if (this.resume) disposeTrainerState(this.resume);
    this.resume = undefined;
  }
}

/** Adapts anything with next/state/restore (the data batcher) to the trainer's resumable-source interface. */
export function resumable<S>(b: { next(): ReturnType<ResumableBatches["next"]>; state(): S; restore(s: S): void }): ResumableBatches {
  return { next: () => b.next(), getState: () => b.state(), setState: (s) => b.restore(s as S) };
}

/** Trainer state → the checkpoint's optimizer tensors (`<name>.m` / `.v`) and sidecar metadata. */
export function trainerToCheckpoint(s: TrainerState | undefined): { optimizer?: { step: number; tensors: Record<string, tf.Tensor> }; metadata: Record<string, unknown> } {
  if (!s) return { metadata: { trainer: null } };
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, mv] of Object.entries(s.moments)) {
    tensors[`${name}.m`] = mv.m;
    tensors[`${name}.v`] = mv.v;
  }
  return { optimizer: { step: s.step, tensors }, metadata: { trainer: { tokens: s.tokens, batches: s.batches, trainable: s.trainable, trainConfig: s.trainConfig, schedule: s.schedule } } };
}

/**
 * The inverse: a resume point from a loaded checkpoint, or undefined (then its optimizer tensors are
 * freed). The resume point takes the moments it needs; any other optimizer tensor left in `ck` (a
 * companion's state that nobody asked for: take those first with `companionFromCheckpoint`) is freed
 * too, so the caller owns exactly the returned state. On error every optimizer tensor is freed.
 */
export function trainerFromCheckpoint(ck: { optimizer?: { step: number; tensors: Record<string, tf.Tensor> }; sidecar: { metadata: Record<string, unknown> } }): ResumePoint | undefined {
  const meta = ck.sidecar.metadata?.trainer as { tokens: number; batches: TrainerState["batches"]; trainable: TrainerState["trainable"]; trainConfig: TrainConfig; schedule?: LrSchedule } | null | undefined;
  if (!ck.optimizer) return undefined;
  if (!meta) {
    Object.values(ck.optimizer.tensors).forEach((t) => t.dispose());
    return undefined;
  }
  const moments: TrainerState["moments"] = {};
  const all = ck.optimizer.tensors;
  for (const t of meta.trainable) {
    const m = all[`${t.name}.m`], v = all[`${t.name}.v`];
    if (!m || !v) {
      Object.values(all).forEach((x) => x.dispose());
      throw new Error(`The checkpoint's optimizer state has no moments for ${t.name}; it cannot resume training.`);
    }
    moments[t.name] = { m, v };
  }
  const kept = new Set(Object.values(moments).flatMap((mv) => [mv.m, mv.v]));
  for (const x of Object.values(all)) if (!kept.has(x)) x.dispose();
  const state: TrainerState = { version: 1, step: ck.optimizer.step, tokens: meta.tokens, trainable: meta.trainable, moments, batches: meta.batches, trainConfig: meta.trainConfig, ...(meta.schedule ? { schedule: meta.schedule } : {}) };
  return { state, tokensSeen: meta.tokens };
}

/**
 * A companion session's resume point saved by `save(…, companions)` under `key`, or undefined. Its
 * tensors are taken out of `ck.optimizer` (so `trainerFromCheckpoint` sees only the main state);
 * without a saved companion state they are freed.
 */
export function companionFromCheckpoint(ck: { optimizer?: { step: number; tensors: Record<string, tf.Tensor> }; sidecar: { metadata: Record<string, unknown> } }, key: string): ResumePoint | undefined {
  if (!ck.optimizer) return undefined;
  const prefix = `${key}/`;
  const tensors: Record<string, tf.Tensor> = {};
  for (const name of Object.keys(ck.optimizer.tensors)) {
    if (!name.startsWith(prefix)) continue;
    tensors[name.slice(prefix.length)] = ck.optimizer.tensors[name];
    delete ck.optimizer.tensors[name];
  }
  const meta = (ck.sidecar.metadata?.companions as Record<string, { step: number; trainer: unknown }> | undefined)?.[key];
  if (!meta) {
    Object.values(tensors).forEach((t) => t.dispose());
    return undefined;
  }
  return trainerFromCheckpoint({ optimizer: { step: meta.step, tensors }, sidecar: { metadata: { trainer: meta.trainer } } });
}
