/**
 * `config.json` ↔ `ModelConfig`: the Hugging Face `FlexOlmoConfig` fields, both ways.
 *
 * Field names follow transformers' `configuration_flex_olmo.py`. HF has no place for expert names,
 * so `config.json` only carries `num_experts`; names live in our sidecar (`flexolmo.json`) and
 * default to `public, expert_1, …` for checkpoints written by other programs.
 *
 * Reading is strict about anything that would change the forward pass (a different activation,
 * attention bias, RoPE scaling, a head_dim that is not hidden/heads): silently ignoring those would
 * produce wrong numbers, so we refuse with a message that names the field.
 */
import { type ModelConfig, validateConfig } from "../model/config";
import { quoted } from "../util/text";

/** The config.json object, as transformers' FlexOlmoConfig writes and reads it. */
export interface HfFlexOlmoConfig {
  model_type: "flex_olmo";
  architectures: ["FlexOlmoForCausalLM"];
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: null;
  num_experts: number;
  num_experts_per_tok: number;
  norm_topk_prob: boolean;
  tie_word_embeddings: false;
  hidden_act: "silu";
  attention_bias: false;
  attention_dropout: number;
  output_router_logits: false;
  router_aux_loss_coef: number;
  pad_token_id: number | null;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  initializer_range: number;
  use_cache: boolean;
  torch_dtype: "float32" | "bfloat16";
}

/** The config.json fields that do not change the forward pass but must survive a load → save. */
export interface HfExtras {
  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  /** Std of HF's normal init; only used if HF re-initialises missing weights. */
  initializerRange: number;
  /** HF's load-balancing loss weight; inert unless output_router_logits is set (it is not). */
  routerAuxLossCoef: number;
  /** True when the file declared tied embeddings (we untie on load: lm_head = embed_tokens). */
  tieWordEmbeddings: boolean;
  /** The dtype the file says its weights are in. */
  torchDtype: string;
}

export const DEFAULT_HF_EXTRAS: HfExtras = {
  padTokenId: null, // our tokenizer decides; null tells HF there is no padding token
  bosTokenId: null, // FlexOlmo's HF default: no BOS token
  eosTokenId: null, // set from the tokenizer when one is known
  initializerRange: 0.02, // HF FlexOlmoConfig default
  routerAuxLossCoef: 0.01, // HF FlexOlmoConfig default (FlexOlmo trained with lb loss 0; inert here)
  tieWordEmbeddings: false, // FlexOlmo unties embeddings and LM head
  torchDtype: "float32", // we compute and store float32
};

/**
 * transformers' FlexOlmoConfig defaults (configuration_flex_olmo.py), applied to every field a
 * config.json leaves out, so a file means here what it means to `from_pretrained`.
 */
export const HF_FLEXOLMO_DEFAULTS = {
  vocab_size: 100352,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-6,
  rope_theta: 500_000, // FlexOlmoConfig.default_theta
  num_experts: 7,
  num_experts_per_tok: 5,
  norm_topk_prob: false,
  pad_token_id: 100277,
  bos_token_id: null,
  eos_token_id: 100257,
  initializer_range: 0.02,
  router_aux_loss_coef: 0.01,
  tie_word_embeddings: false,
} as const;

/**
 * Upper bounds for config.json's sizes, checked before anything is allocated from them: a file from
 * someone else saying `num_experts: 1e9` must be an error, not a heap exhausted by a billion expert
 * names. Each bound is far above any released model (FlexOlmo: 7 experts, 32 layers, 4096 wide;
 * the largest open MoEs: 256 experts, ~100 layers, 262k vocabularies) yet small enough that the
 * arrays sized by it are harmless. Tensor sizes are checked against the safetensors headers as well.
 */
export const HF_CONFIG_LIMITS = {
  vocab_size: 1 << 24,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 20,
  num_hidden_layers: 1024,
  num_attention_heads: 1 << 12,
  num_key_value_heads: 1 << 12,
  max_position_embeddings: 1 << 24,
  num_experts: 1024,
  num_experts_per_tok: 1024,
} as const;

/** Default expert names for a checkpoint without a sidecar: index 0 is the public expert. */
export function defaultExpertNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? "public" : `expert_${i}`));
}

/**
 * Fields FlexOlmoConfig types as float. Python's json writes a float as `0.0` or `500000.0`, and
 * transformers' strict config classes have refused integers where floats are declared; JSON.stringify
 * would write `0` and `500000`.
 */
export const HF_FLOAT_FIELDS = ["rms_norm_eps", "rope_theta", "attention_dropout", "router_aux_loss_coef", "initializer_range"] as const;

/** config.json's text: as JSON.stringify, but every float field keeps a decimal point (as Python writes it). */
export function hfConfigText(c: object): string {
  // Integral floats go through a marked string (no value of ours starts with NUL), then lose the quotes.
  const MARK = "\u0000float:";
  const text = JSON.stringify(c, (k, v) => ((HF_FLOAT_FIELDS as readonly string[]).includes(k) && Number.isInteger(v) ? `${MARK}${Number.isSafeInteger(v) ? `${v}.0` : String(v)}` : v), 2);
  return text.replace(/"\\u0000float:([^"]*)"/g, "$1") + "\n";
}

/** ModelConfig → config.json object. */
export function toHfConfig(cfg: ModelConfig, extras: Partial<HfExtras> = {}, torchDtype: "float32" | "bfloat16" = "float32"): HfFlexOlmoConfig {
  validateConfig(cfg);
  const x = { ...DEFAULT_HF_EXTRAS, ...extras };
  return {
    model_type: "flex_olmo",
    architectures: ["FlexOlmoForCausalLM"],
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.dModel,
    intermediate_size: cfg.dFf,
    num_hidden_layers: cfg.nLayers,
    num_attention_heads: cfg.nHeads,
    num_key_value_heads: cfg.nKvHeads,
    max_position_embeddings: cfg.maxSeqLen,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling: null,
    num_experts: cfg.experts.length,
    num_experts_per_tok: cfg.topK,
    norm_topk_prob: cfg.normTopkProb,
    tie_word_embeddings: false,
    hidden_act: "silu",
    attention_bias: false,
    attention_dropout: 0,
    output_router_logits: false,
    router_aux_loss_coef: x.routerAuxLossCoef,
    pad_token_id: x.padTokenId,
    bos_token_id: x.bosTokenId,
    eos_token_id: x.eosTokenId,
    initializer_range: x.initializerRange,
    use_cache: true,
    torch_dtype: torchDtype,
  };
}

/**
 * config.json object → ModelConfig (+ the extras worth keeping). `file` names the source in errors.
 * `expertNames` (from the sidecar) replaces the default names when given.
 */
export function fromHfConfig(json: unknown, file = "config.json", expertNames?: string[]): { config: ModelConfig; extras: HfExtras } {
  const fail = (msg: string): never => {
    throw new Error(`${file}: ${msg}`);
  };
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail("must contain a JSON object");
  const j = json as Record<string, unknown>;

  if (j.model_type !== "flex_olmo") {
    fail(
      `model_type is ${JSON.stringify(j.model_type)}, expected "flex_olmo". Only FlexOlmo checkpoints are supported ` +
        `(OLMoE uses pre-norm blocks and Olmo2 has no experts; their weights would compute different numbers here).`,
    );
  }
  const int = (key: keyof typeof HF_CONFIG_LIMITS, fallback: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) fail(`"${key}" must be a positive integer (got ${JSON.stringify(j[key])})`);
    const max = HF_CONFIG_LIMITS[key];
    if ((v as number) > max) fail(`"${key}" is ${v}, more than the ${max} this reader accepts (no FlexOlmo model comes close; the file is corrupt or not a FlexOlmo config)`);
    return v as number;
  };
  const num = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) fail(`"${key}" must be a number (got ${JSON.stringify(j[key])})`);
    return v as number;
  };
  const tokenId = (key: "pad_token_id" | "bos_token_id" | "eos_token_id"): number | null => {
    const v = j[key];
    if (v === undefined) return HF_FLEXOLMO_DEFAULTS[key]; // absent: transformers' default; an explicit null stays null
    if (v === null) return null;
    if (typeof v === "number" && Number.isInteger(v)) return v;
    return fail(`"${key}" must be an integer or null (got ${JSON.stringify(v)})`);
  };

  const D = HF_FLEXOLMO_DEFAULTS;
  const nHeads = int("num_attention_heads", D.num_attention_heads);
  const dModel = int("hidden_size", D.hidden_size);

  // Fields we do not implement: refuse rather than compute something else.
  const act = j.hidden_act ?? "silu";
  if (act !== "silu") fail(`hidden_act is ${JSON.stringify(act)}; only "silu" (SwiGLU experts) is implemented`);
  if (j.attention_bias === true) fail("attention_bias is true; FlexOlmo's attention has no biases and neither does this implementation");
  if (j.head_dim !== undefined && j.head_dim !== null && j.head_dim !== dModel / nHeads) {
    fail(`head_dim ${JSON.stringify(j.head_dim)} differs from hidden_size / num_attention_heads = ${dModel / nHeads}; only the default head_dim is implemented`);
  }
  // RoPE: transformers ≤ 4.x writes rope_theta + rope_scaling; 5.x writes rope_parameters.
  let ropeTheta = j.rope_theta as number | undefined;
  const rp = j.rope_parameters as Record<string, unknown> | null | undefined;
  if (rp && typeof rp === "object") {
    if (rp.rope_type !== undefined && rp.rope_type !== "default") fail(`rope_parameters.rope_type is ${JSON.stringify(rp.rope_type)}; only "default" RoPE is implemented`);
    if (typeof rp.rope_theta === "number") ropeTheta = rp.rope_theta;
  }
  if (j.rope_scaling !== undefined && j.rope_scaling !== null) {
    const rs = j.rope_scaling as Record<string, unknown>;
    const kind = rs.rope_type ?? rs.type;
    if (kind !== "default") fail(`rope_scaling ${JSON.stringify(j.rope_scaling)} is not supported; only unscaled (default) RoPE is implemented`);
  }
  if (ropeTheta === undefined || ropeTheta === null) ropeTheta = D.rope_theta;
  if (typeof ropeTheta !== "number" || !(ropeTheta > 0) || !Number.isFinite(ropeTheta)) fail(`rope_theta must be a positive finite number (got ${JSON.stringify(ropeTheta)})`);

  const nExperts = int("num_experts", D.num_experts); // bounded before the names below are made
  if (expertNames && expertNames.length !== nExperts) {
    const shown = expertNames.slice(0, 8).map(quoted).join(", ") + (expertNames.length > 8 ? ", …" : "");
    fail(`num_experts is ${nExperts} but the sidecar names ${expertNames.length} experts (${shown})`);
  }
  const experts = expertNames ?? defaultExpertNames(nExperts);
  const normTopk = j.norm_topk_prob ?? D.norm_topk_prob;
  if (typeof normTopk !== "boolean") return fail(`"norm_topk_prob" must be true or false (got ${JSON.stringify(normTopk)})`);
  const tie = j.tie_word_embeddings ?? D.tie_word_embeddings;
  if (typeof tie !== "boolean") return fail(`"tie_word_embeddings" must be true or false (got ${JSON.stringify(tie)})`);
  const eosRaw = j.eos_token_id;
  const eosTokenId =
    Array.isArray(eosRaw) && eosRaw.every((v) => Number.isInteger(v)) ? (eosRaw as number[]) : tokenId("eos_token_id");

  const config: ModelConfig = {
    vocabSize: int("vocab_size", D.vocab_size),
    dModel,
    nLayers: int("num_hidden_layers", D.num_hidden_layers),
    nHeads,
    nKvHeads: int("num_key_value_heads", nHeads), // HF: None means no grouped-query attention
    dFf: int("intermediate_size", D.intermediate_size),
    maxSeqLen: int("max_position_embeddings", D.max_position_embeddings),
    ropeTheta,
    rmsNormEps: num("rms_norm_eps", D.rms_norm_eps),
    experts,
    topK: int("num_experts_per_tok", D.num_experts_per_tok),
    normTopkProb: normTopk,
  };
  try {
    validateConfig(config);
  } catch (e) {
    fail((e as Error).message);
  }
  const extras: HfExtras = {
    padTokenId: tokenId("pad_token_id"),
    bosTokenId: tokenId("bos_token_id"),
    eosTokenId,
    initializerRange: num("initializer_range", D.initializer_range),
    routerAuxLossCoef: num("router_aux_loss_coef", D.router_aux_loss_coef),
    tieWordEmbeddings: tie,
    torchDtype: typeof (j.torch_dtype ?? j.dtype) === "string" ? String(j.torch_dtype ?? j.dtype) : "float32",
  };
  return { config, extras };
}
