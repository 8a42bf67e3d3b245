/**
 * Model configuration: typed data, one reason per default, named presets.
 *
 * Field names follow the paper and map one-to-one onto Hugging Face's `FlexOlmoConfig`
 * (see `lib/io/hf-config.ts` for the mapping). A dense model is the one-expert case.
 */

export interface ModelConfig {
  /** vocab_size. */
  vocabSize: number;
  /** hidden_size (d_model). The router rows and domain embeddings live in this space. */
  dModel: number;
  /** num_hidden_layers. */
  nLayers: number;
  /** num_attention_heads. head_dim = dModel / nHeads. */
  nHeads: number;
  /** num_key_value_heads (grouped-query attention when < nHeads; FlexOlmo uses nHeads). */
  nKvHeads: number;
  /** intermediate_size: the SwiGLU hidden width of ONE expert. */
  dFf: number;
  /** max_position_embeddings: longest sequence the RoPE tables are built for. */
  maxSeqLen: number;
  /** rope_theta. */
  ropeTheta: number;
  /** rms_norm_eps. */
  rmsNormEps: number;
  /**
   * Expert names, one per expert, in router-row order. Index 0 is always the public expert
   * (FlexOlmo's convention: the public FFN comes first in every merge). length = num_experts.
   */
  experts: string[];
  /** num_experts_per_tok: how many experts each token is sent to. */
  topK: number;
  /** norm_topk_prob: renormalise the top-k weights to sum to 1. FlexOlmo: false. */
  normTopkProb: boolean;
}

/** FlexOlmo's released defaults, scaled down. Each value says why. */
export const DEFAULT_MODEL: ModelConfig = {
  vocabSize: 4096, // FlexMix-mini's byte-level BPE; small enough that the head stays cheap on a laptop
  dModel: 128, // smallest width where owner experts still separate domains clearly at laptop scale
  nLayers: 4, // enough depth to see layer-dependent routing (paper Fig. 2) without slow steps
  nHeads: 4, // head_dim 32: large enough for RoPE to carry position well
  nKvHeads: 4, // FlexOlmo has no GQA (num_key_value_heads = num_attention_heads)
  dFf: 352, // ≈ 2.75 × dModel, OLMo's ratio 11008 / 4096, rounded to a multiple of 32
  maxSeqLen: 256, // twice the training context, so generation can run past it
  ropeTheta: 500_000, // OLMo 2 / FlexOlmo value; harmless at short context
  rmsNormEps: 1e-6, // OLMo 2 / FlexOlmo value
  experts: ["public"], // a dense public model is the one-expert case
  topK: 1, // with one expert, top-1 is the only choice
  normTopkProb: false, // FlexOlmo does not renormalise (HF FlexOlmoConfig default)
};

export type PresetName = "tiny" | "cpu" | "gpu";

/** Named model presets. Training-side presets with the same names live in `lib/train/config.ts`. */
export const MODEL_PRESETS: Record<PresetName, ModelConfig> = {
  // For tests: every op runs in milliseconds; keeps the real vocabulary so the shipped tokenizer works.
  tiny: { ...DEFAULT_MODEL, dModel: 32, nLayers: 2, nHeads: 2, nKvHeads: 2, dFf: 96, maxSeqLen: 64 },
  // For a 2-core laptop: ≈ 1.85 M parameters dense; the tutorials and the study run here.
  cpu: { ...DEFAULT_MODEL },
  // For a GPU: ≈ 30 M parameters dense; context 512.
  gpu: { ...DEFAULT_MODEL, dModel: 512, nLayers: 8, nHeads: 8, nKvHeads: 8, dFf: 1408, maxSeqLen: 1024 },
};

/** head_dim, checked: dModel must divide evenly into heads and heads into KV groups. */
export function headDim(cfg: ModelConfig): number {
  return cfg.dModel / cfg.nHeads;
}

/** Throws a clear error if a config cannot describe a real model. */
export function validateConfig(cfg: ModelConfig): void {
  const problems: string[] = [];
  const posInt = (name: keyof ModelConfig) => {
    const v = cfg[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) problems.push(`${name} must be a positive integer (got ${String(v)})`);
  };
  (["vocabSize", "dModel", "nLayers", "nHeads", "nKvHeads", "dFf", "maxSeqLen", "topK"] as const).forEach(posInt);
  if (cfg.dModel % cfg.nHeads !== 0) problems.push(`dModel (${cfg.dModel}) must be divisible by nHeads (${cfg.nHeads})`);
  if (cfg.nHeads % cfg.nKvHeads !== 0) problems.push(`nHeads (${cfg.nHeads}) must be divisible by nKvHeads (${cfg.nKvHeads})`);
  if ((cfg.dModel / cfg.nHeads) % 2 !== 0) problems.push(`head_dim (${cfg.dModel / cfg.nHeads}) must be even for RoPE`);
  if (!Array.isArray(cfg.experts) || cfg.experts.length === 0) problems.push("experts must name at least one expert (index 0 = public)");
  else {
    const seen = new Set<string>();
    for (const n of cfg.experts) {
      if (typeof n !== "string" || n.length === 0) problems.push(`expert names must be non-empty strings (got ${JSON.stringify(n)})`);
      if (seen.has(n)) problems.push(`duplicate expert name "${n}"`);
      seen.add(n);
    }
    if (cfg.topK > cfg.experts.length) problems.push(`topK (${cfg.topK}) cannot exceed the number of experts (${cfg.experts.length})`);
  }
  if (!(cfg.ropeTheta > 0)) problems.push(`ropeTheta must be > 0 (got ${cfg.ropeTheta})`);
  if (!(cfg.rmsNormEps > 0)) problems.push(`rmsNormEps must be > 0 (got ${cfg.rmsNormEps})`);
  if (problems.length) throw new Error(`Invalid model config:\n  - ${problems.join("\n  - ")}`);
}

/**
 * The fields two models must agree on to share a tokenizer and a trunk: everything but the expert
 * list, top-k and top-k renormalisation. One list for merge, resume, load and the baselines, so no
 * path checks less than another.
 */
export const ARCH_FIELDS = ["vocabSize", "dModel", "nLayers", "nHeads", "nKvHeads", "dFf", "maxSeqLen", "ropeTheta", "rmsNormEps"] as const;

/** The architectural fields where `a` differs from `b`, as "field a vs b" phrases (empty: same architecture). */
export function archDiffs(a: ModelConfig, b: ModelConfig): string[] {
  return ARCH_FIELDS.filter((f) => a[f] !== b[f]).map((f) => `${f} ${a[f]} vs ${b[f]}`);
}
