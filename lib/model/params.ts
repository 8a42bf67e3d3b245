/**
 * Plain parameter objects: the model is pure functions `(params, x) => y` over these.
 *
 * Layout NOTE: every projection is stored as [in, out] so the forward pass is `x @ W` with no
 * transpose flags (TF.js's wasm matMul is ~10× slower with transposeA/B set). The Hugging Face
 * checkpoint layout is [out, in] (torch `nn.Linear`); `lib/io` transposes on save and load.
 * The router is the exception: it is kept as [E, C], one router row per expert, exactly HF's
 * `mlp.gate.weight`, because "one row per expert" is the unit FlexOlmo trains, merges and removes.
 */
import type * as tf from "@tensorflow/tfjs";

/** One SwiGLU expert FFN: down(silu(x @ gate) * (x @ up)). */
export interface ExpertParams {
  gate: tf.Tensor2D; // [C, F]
  up: tf.Tensor2D; // [C, F]
  down: tf.Tensor2D; // [F, C]
}

export interface LayerParams {
  q: tf.Tensor2D; // [C, nHeads * headDim]
  k: tf.Tensor2D; // [C, nKvHeads * headDim]
  v: tf.Tensor2D; // [C, nKvHeads * headDim]
  o: tf.Tensor2D; // [nHeads * headDim, C]
  qNorm: tf.Tensor1D; // [nHeads * headDim]  QK-norm over the whole projection
  kNorm: tf.Tensor1D; // [nKvHeads * headDim]
  postAttnNorm: tf.Tensor1D; // [C]  post_attention_layernorm
  postFfnNorm: tf.Tensor1D; // [C]  post_feedforward_layernorm (shared, applied after the expert mixture)
  router: tf.Tensor2D; // [E, C]  router rows, HF mlp.gate.weight
  /**
   * [E] raw expert bias β. The forward pass adds min(β_e, 0) to expert e's logit for e ≥ 1;
   * entry 0 (the public expert) is never used. HF has no place for it (sidecar file).
   */
  expertBias: tf.Tensor1D;
  experts: ExpertParams[]; // length E, index 0 = public expert
}

export interface ModelParams {
  embed: tf.Tensor2D; // [V, C]  model.embed_tokens.weight
  layers: LayerParams[];
  norm: tf.Tensor1D; // [C]  model.norm.weight
  lmHead: tf.Tensor2D; // [C, V]  (HF lm_head.weight is [V, C])
}

/** Where a tensor sits in a checkpoint: its Hugging Face name and whether our layout is the transpose of HF's. */
export interface ParamEntry {
  /** Hugging Face FlexOlmo tensor name, e.g. `model.layers.0.mlp.experts.1.up_proj.weight`. */
  name: string;
  tensor: tf.Tensor;
  /** true when we store [in, out] and HF stores [out, in]. */
  transposed: boolean;
  /** false for tensors HF has no place for (the expert bias): they go to our sidecar file. */
  hf: boolean;
}

/**
 * Every parameter with its canonical name, in a fixed order. This is the single naming used by
 * checkpoints, freezing specs and invariant hashes, so a name means the same tensor everywhere.
 */
export function paramEntries(p: ModelParams): ParamEntry[] {
  const out: ParamEntry[] = [];
  const add = (name: string, tensor: tf.Tensor, transposed = false, hf = true) => out.push({ name, tensor, transposed, hf });
  add("model.embed_tokens.weight", p.embed);
  p.layers.forEach((l, i) => {
    const pre = `model.layers.${i}`;
    add(`${pre}.self_attn.q_proj.weight`, l.q, true);
    add(`${pre}.self_attn.k_proj.weight`, l.k, true);
    add(`${pre}.self_attn.v_proj.weight`, l.v, true);
    add(`${pre}.self_attn.o_proj.weight`, l.o, true);
    add(`${pre}.self_attn.q_norm.weight`, l.qNorm);
    add(`${pre}.self_attn.k_norm.weight`, l.kNorm);
    add(`${pre}.post_attention_layernorm.weight`, l.postAttnNorm);
    add(`${pre}.post_feedforward_layernorm.weight`, l.postFfnNorm);
    add(`${pre}.mlp.gate.weight`, l.router);
    add(`${pre}.mlp.expert_bias`, l.expertBias, false, false);
    l.experts.forEach((e, j) => {
      add(`${pre}.mlp.experts.${j}.gate_proj.weight`, e.gate, true);
      add(`${pre}.mlp.experts.${j}.up_proj.weight`, e.up, true);
      add(`${pre}.mlp.experts.${j}.down_proj.weight`, e.down, true);
    });
  });
  add("model.norm.weight", p.norm);
  add("lm_head.weight", p.lmHead, true);
  return out;
}

/** A named place in a parameter object that can be read and replaced (used by the trainer). */
export interface ParamSlot {
  name: string;
  get(): tf.Tensor;
  set(t: tf.Tensor): void;
}

/**
 * Every parameter as a readable/writable slot, same names and order as `paramEntries`. The trainer
 * replaces tensors through these (tensors are immutable; an update makes a new one).
 */
export function paramSlots(p: ModelParams): ParamSlot[] {
  const out: ParamSlot[] = [];
  // `obj[key]` is a tensor field of a plain params object; typed loosely so one helper serves all.
  const add = (name: string, obj: Record<string, unknown>, key: string) =>
    out.push({ name, get: () => obj[key] as tf.Tensor, set: (t) => void (obj[key] = t) });
  const P = p as unknown as Record<string, unknown>;
  add("model.embed_tokens.weight", P, "embed");
  p.layers.forEach((l, i) => {
    const pre = `model.layers.${i}`;
    const L = l as unknown as Record<string, unknown>;
    add(`${pre}.self_attn.q_proj.weight`, L, "q");
    add(`${pre}.self_attn.k_proj.weight`, L, "k");
    add(`${pre}.self_attn.v_proj.weight`, L, "v");
    add(`${pre}.self_attn.o_proj.weight`, L, "o");
    add(`${pre}.self_attn.q_norm.weight`, L, "qNorm");
    add(`${pre}.self_attn.k_norm.weight`, L, "kNorm");
    add(`${pre}.post_attention_layernorm.weight`, L, "postAttnNorm");
    add(`${pre}.post_feedforward_layernorm.weight`, L, "postFfnNorm");
    add(`${pre}.mlp.gate.weight`, L, "router");
    add(`${pre}.mlp.expert_bias`, L, "expertBias");
    l.experts.forEach((e, j) => {
      const X = e as unknown as Record<string, unknown>;
      add(`${pre}.mlp.experts.${j}.gate_proj.weight`, X, "gate");
      add(`${pre}.mlp.experts.${j}.up_proj.weight`, X, "up");
      add(`${pre}.mlp.experts.${j}.down_proj.weight`, X, "down");
    });
  });
  add("model.norm.weight", P, "norm");
  add("lm_head.weight", P, "lmHead");
  return out;
}
