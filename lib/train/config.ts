/**
 * Training configuration: typed data, one reason per default, named presets (same names as the
 * model presets in lib/model/config.ts). Values follow FlexOlmo / OLMo-core where they transfer to
 * toy scale (docs/method.md §3, §10 `common.py`) and say so; the rest are ours and say why.
 */
import type { PresetName } from "../model/config";
import type { RouterMargin } from "./loss";

export interface TrainConfig {
  /** Sequences per step. */
  batchSize: number;
  /** Tokens per sequence (the model sees seqLen inputs and predicts seqLen targets). */
  seqLen: number;
  /** Steps the LR schedule is laid out for (cosine reaches its floor here). */
  steps: number;
  /** Peak learning rate. */
  lr: number;
  /** Linear warmup steps from 0 to `lr`. */
  warmupSteps: number;
  /** Cosine floor as a fraction of `lr` (OLMo-core CosWithWarmup alpha_f). */
  minLrRatio: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled (AdamW) weight decay. */
  weightDecay: number;
  /** Glob patterns of parameters that never get weight decay. */
  noDecay: string[];
  /** Global gradient-norm clip. */
  gradClip: number;
  /** Router z-loss weight (per layer: mean over tokens of logsumexp(router logits)²; summed over layers). */
  zLossWeight: number;
  /** Switch-style load-balancing loss weight (summed over layers). */
  lbLossWeight: number;
  /** Seed for batch sampling (and anything else random in training). */
  seed: number;
  /** Routing during training: experts per token (default: the model's topK). */
  topK?: number;
  /** Routing during training: which experts take part (default: all). */
  include?: boolean[];
  /** Routing during training: use the expert bias (paper) or not. Default "keep". */
  bias?: "keep" | "drop";
  /** Router margin loss (the lab recipe's owners; not in the paper): see lib/train/loss.ts. Default: off. */
  routerMargin?: RouterMargin;
}

/** Defaults. Each value says why. */
export const DEFAULT_TRAIN: TrainConfig = {
  batchSize: 16, // 2048 tokens per step at seqLen 128: large enough for stable AdamW, ~2 s/step on one wasm core
  seqLen: 128, // the `cpu` model preset's training context (maxSeqLen 256 leaves room for generation)
  steps: 2000, // a few minutes to an hour on a laptop; the tutorials shorten it
  lr: 3e-3, // toy models tolerate a higher peak than FlexOlmo's 9e-4 (7B); 3e-3 is the usual nanoGPT-scale choice
  warmupSteps: 100, // FlexOlmo warms up 2000 of ~12k steps; 5% is the same spirit at toy scale
  minLrRatio: 0.1, // FlexOlmo: cosine to 0.1 × peak (OLMo-core CosWithWarmup alpha_f = 0.1)
  beta1: 0.9, // FlexOlmo AdamW β1
  beta2: 0.95, // FlexOlmo AdamW β2
  eps: 1e-8, // FlexOlmo AdamW eps
  weightDecay: 0.1, // FlexOlmo public-model pretraining; owner expert training uses 0 (see `ownerTraining`)
  noDecay: ["*norm.weight", "*layernorm.weight", "*.mlp.expert_bias", "model.embed_tokens.weight"], // OLMo 2 exempts embeddings; norms and the scalar bias are not "weights" to shrink
  gradClip: 1.0, // FlexOlmo / OLMo-core max_grad_norm
  zLossWeight: 1e-3, // FlexOlmo router z-loss weight (OLMoE-2x7B-anneal.py)
  lbLossWeight: 0, // FlexOlmo turns the load-balancing loss off in expert training and router tuning
  seed: 0, // any fixed seed: same seed ⇒ same batches ⇒ same weights
};

/** Named presets matching MODEL_PRESETS. */
export const TRAIN_PRESETS: Record<PresetName, TrainConfig> = {
  // Unit tests: a step in milliseconds.
  tiny: { ...DEFAULT_TRAIN, batchSize: 2, seqLen: 16, steps: 20, lr: 1e-2, warmupSteps: 2 },
  // Laptop (2 cores, wasm): the tutorials and the study.
  cpu: { ...DEFAULT_TRAIN },
  // GPU (30 M params): bigger batch, longer context, lower LR for the wider model.
  gpu: { ...DEFAULT_TRAIN, batchSize: 32, seqLen: 512, steps: 10000, lr: 1e-3, warmupSteps: 500 },
};

/**
 * FlexOlmo owner-expert training overrides (docs/method.md §3 step 4): weight decay 0 (so frozen halves cannot
 * drift even without masking), top-2 of the 2 experts (a dense soft mixture), bias kept.
 */
export function ownerTraining(base: TrainConfig): TrainConfig {
  return { ...base, weightDecay: 0, topK: 2, bias: "keep" };
}

/** Throws a clear error if a training config cannot be run. */
export function validateTrainConfig(tc: TrainConfig): void {
  const problems: string[] = [];
  const posInt = (k: keyof TrainConfig) => {
    const v = tc[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) problems.push(`${k} must be a positive integer (got ${String(v)})`);
  };
  (["batchSize", "seqLen", "steps"] as const).forEach(posInt);
  if (!Number.isInteger(tc.warmupSteps) || tc.warmupSteps < 0) problems.push(`warmupSteps must be an integer ≥ 0 (got ${tc.warmupSteps})`);
  // Finite, not only positive: lr = Infinity would pass "> 0" and turn the first update into NaN weights.
  if (!(tc.lr > 0 && Number.isFinite(tc.lr))) problems.push(`lr must be > 0 and finite (got ${tc.lr})`);
  if (!(tc.minLrRatio >= 0 && tc.minLrRatio <= 1)) problems.push(`minLrRatio must be in [0, 1] (got ${tc.minLrRatio})`);
  if (!(tc.beta1 >= 0 && tc.beta1 < 1)) problems.push(`beta1 must be in [0, 1) (got ${tc.beta1})`);
  if (!(tc.beta2 >= 0 && tc.beta2 < 1)) problems.push(`beta2 must be in [0, 1) (got ${tc.beta2})`);
  if (!(tc.eps > 0 && Number.isFinite(tc.eps))) problems.push(`eps must be > 0 and finite (got ${tc.eps})`);
  if (!(tc.weightDecay >= 0 && Number.isFinite(tc.weightDecay))) problems.push(`weightDecay must be ≥ 0 and finite (got ${tc.weightDecay})`);
  if (!(tc.gradClip > 0)) problems.push(`gradClip must be > 0 (use Infinity to disable; got ${tc.gradClip})`);
  if (!(tc.zLossWeight >= 0 && Number.isFinite(tc.zLossWeight))) problems.push(`zLossWeight must be ≥ 0 and finite (got ${tc.zLossWeight})`);
  if (!(tc.lbLossWeight >= 0 && Number.isFinite(tc.lbLossWeight))) problems.push(`lbLossWeight must be ≥ 0 and finite (got ${tc.lbLossWeight})`);
  if (!Number.isInteger(tc.seed)) problems.push(`seed must be an integer (got ${tc.seed})`);
  if (!Array.isArray(tc.noDecay)) problems.push(`noDecay must be an array of glob patterns`);
  const rm = tc.routerMargin;
  if (rm !== undefined) {
    if (typeof rm !== "object" || rm === null) problems.push(`routerMargin must be { expert, side, boundary, weight } or absent (got ${String(rm)})`);
    else {
      if (!Number.isInteger(rm.expert) || rm.expert < 1) problems.push(`routerMargin.expert must be an owner expert index ≥ 1 (got ${String(rm.expert)})`);
      if (rm.side !== "own" && rm.side !== "public") problems.push(`routerMargin.side must be "own" or "public" (got ${String(rm.side)})`);
      if (!Number.isFinite(rm.boundary)) problems.push(`routerMargin.boundary must be a finite number (got ${String(rm.boundary)})`);
      if (!(rm.weight >= 0 && Number.isFinite(rm.weight))) problems.push(`routerMargin.weight must be ≥ 0 and finite (got ${String(rm.weight)})`);
    }
  }
  if (problems.length) throw new Error(`Invalid training config:\n  - ${problems.join("\n  - ")}`);
}
