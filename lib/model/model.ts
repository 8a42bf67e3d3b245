/**
 * The FlexOlmo transformer in one file: pure functions over plain parameter objects.
 *
 * Semantics follow Hugging Face `FlexOlmoForCausalLM` (transformers `modular_flex_olmo.py`),
 * which is OLMoE with OLMo 2's "reordered" post-norm block:
 *
 *     h   = x + RMSNorm_attn( Attn(x) )          (no pre-norm: `input_layernorm` does not exist)
 *     out = h + RMSNorm_ffn( MoE(h) )            (the router sees the raw residual stream h)
 *
 * Attention: q/k/v/o without bias; QK-norm = RMSNorm over the *whole* q (and k) projection before
 * the head split; RoPE (rotate-half convention); causal softmax with scale head_dim^-0.5; grouped
 * KV heads repeated as in HF `repeat_kv`.
 * MoE: router logits h·Wᵀ (one row per expert) [+ min(β_e, 0) for owner experts e ≥ 1];
 * softmax in fp32 over the *included* experts only; top-k by probability; weights = those
 * probabilities (renormalised only if normTopkProb); experts are SwiGLU FFNs.
 *
 * Layout: activations are kept flat as [N, C] with N = B·T, so every product with a weight is a
 * plain 2-D `x @ W` (the fast path on every backend). Reshapes carry a shape comment.
 */
import * as tf from "../tf";
import { hasFused, installOps, rmsNormFused, rope, ropeAngles, routingPlace, RoutingPlace, topkMask, valuesIfOnHost } from "../ops";
import { headDim, ModelConfig, validateConfig } from "./config";
import { buildParams, checkParamsMatch, ExpertParams, LayerParams, ModelParams, paramSchema } from "./params";
import { hashString, Rng } from "./rng";

// ---------------------------------------------------------------------------------------------
// Public types (the contract the rest of the product builds on)

export interface ForwardOptions {
  /** length E: which experts take part (opt-in/opt-out mask). Default: all. */
  include?: boolean[];
  /** Experts per token. Default cfg.topK; an error (not a silent cap) if > number of included experts. */
  topK?: number;
  /** "keep": add min(β_e, 0) to owner experts' logits (paper); "drop": plain softmax(W h) (HF release). Default "keep". */
  bias?: "keep" | "drop";
  /** Collect full router telemetry (read to CPU after the pass). */
  telemetry?: boolean;
  /** Collect only per-layer routing shares and mean probabilities (cheap; used by the trainer). */
  routingStats?: boolean;
  /**
   * "auto" (default): when k < included experts, only the selected experts run on their tokens
   * (gather → expert → scale → scatter-add), the top-k read on the host — except on backends where
   * host reads stall (webgpu: lib/ops/host-reads.ts), which get "device". "dense": every included
   * expert runs on every token and non-selected weights are zero (top-k on the host). "device": the
   * top-k chosen on the device (tf.topk → one-hot mask) and dispatched densely: no host read at all.
   * Same result up to float rounding (and ties); "dense" is the reference the tests compare against
   * and a teaching aid.
   */
  dispatch?: "auto" | "dense" | "device";
}

export interface LayerTelemetry {
  logits: Float32Array; // [N*E] router logits incl. bias; excluded experts: -Infinity
  probs: Float32Array; // [N*E] softmax over included experts; excluded: 0
  topkIdx: Int32Array; // [N*k] expert indices (original numbering), best first
  topkWeight: Float32Array; // [N*k] mixing weights actually used (renormalised only if normTopkProb)
  hNorm: Float32Array; // [N] ‖h‖₂ of the router input (the raw residual stream)
}
export interface RouterTelemetry {
  n: number;
  e: number;
  k: number;
  include: boolean[];
  /** Per expert, the bias actually added to its logit (0 for the public expert and when bias = "drop"). */
  biasUsed: number[];
  layers: LayerTelemetry[];
}
/** Per layer, per expert (original numbering): share of top-k slots, and mean router probability. */
export interface RoutingStats {
  share: number[][];
  meanProb: number[][];
}
export interface ForwardResult {
  logits: tf.Tensor3D; // [B, T, V]
  routerLogits: tf.Tensor2D[]; // per layer [B*T, E_included], the logits the softmax saw (for the z-loss)
  telemetry?: RouterTelemetry;
  routingStats?: RoutingStats;
}

/** What `forwardHidden` returns: everything but the LM head. */
export interface HiddenResult {
  hidden: tf.Tensor2D; // [N, C] after the final RMSNorm
  routerLogits: tf.Tensor2D[];
  /** Per layer [N, E_included]: router probabilities (for the load-balancing loss). */
  routerProbs: tf.Tensor2D[];
  /** Per layer [N, C]: the router's input h, the raw residual stream (for the router margin loss). */
  routerInputs: tf.Tensor2D[];
  /** Per layer: the top-k selection as read on the CPU (sparse path or when stats were asked for). */
  topk: Array<{ idx: Int32Array; counts: number[] } | undefined>;
  /**
   * Device routing only: per layer [E_included], each expert's share of the top-k slots, a tensor
   * with no gradient (what `topk[l].counts / (N·k)` is on the host path).
   */
  shares?: tf.Tensor1D[];
  telemetry?: RouterTelemetry;
  routingStats?: RoutingStats;
  /**
   * Device routing with `routingStats`: [L, 2, E_included] shares and mean probabilities, to read with
   * the step's other numbers (`readRoutingStats`), instead of `routingStats`.
   */
  routingStatsTensor?: tf.Tensor3D;
  /** Original indices of the included experts, ascending (how to read `routingStatsTensor`). */
  included: number[];
  /** Device routing with `telemetry`: the router tensors for `forwardTelemetry` to read (internal). */
  telemetryTensors?: TelemetryTensors[];
  b: number;
  t: number;
}

// ---------------------------------------------------------------------------------------------
// Building blocks

/** RMSNorm over the last axis, in fp32: x * rsqrt(mean(x²) + eps) * w (fused kernel where available). */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  if (hasFused()) return rmsNormFused(x, w, eps) as tf.Tensor2D;
  return rmsNormComposite(x, w, eps);
}

/** The same from TF.js ops (any backend; the tests' second reference). */
export function rmsNormComposite(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true); // [N, 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/** Additive causal mask [T, T]: 0 where key ≤ query, −∞ above the diagonal. */
function causalMask(t: number): tf.Tensor2D {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -Infinity;
  return tf.tensor2d(m, [t, t]);
}

/** Self-attention with QK-norm, RoPE and grouped KV heads. x [N, C] → [N, C]. */
function attention(x: tf.Tensor2D, l: LayerParams, cfg: ModelConfig, b: number, t: number, tables: { cos: tf.Tensor2D; sin: tf.Tensor2D }, mask: tf.Tensor2D): tf.Tensor2D {
  const hd = headDim(cfg), nH = cfg.nHeads, nKv = cfg.nKvHeads, groups = nH / nKv;
  let q = rmsNorm(tf.matMul(x, l.q), l.qNorm, cfg.rmsNormEps); // [N, nH*hd]  QK-norm over the whole projection
  let k = rmsNorm(tf.matMul(x, l.k), l.kNorm, cfg.rmsNormEps); // [N, nKv*hd]
  const v = tf.matMul(x, l.v); // [N, nKv*hd]
  q = rope(q, tables.cos, tables.sin, t, hd); // RoPE (HF rotate_half convention), lib/ops/rope.ts
  k = rope(k, tables.cos, tables.sin, t, hd);
  // Scale q rather than the [B·nH, T, T] scores: same math, a quarter of the elements at T = 128.
  const qh = tf.reshape(tf.transpose(tf.reshape(tf.mul(q, 1 / Math.sqrt(hd)), [b, t, nH, hd]), [0, 2, 1, 3]), [b * nH, t, hd]); // [B*nH, T, hd]
  let kT = tf.transpose(tf.reshape(k, [b, t, nKv, hd]), [0, 2, 3, 1]); // [B, nKv, hd, T]  keys already transposed for q·kᵀ
  let vh = tf.transpose(tf.reshape(v, [b, t, nKv, hd]), [0, 2, 1, 3]); // [B, nKv, T, hd]
  if (groups > 1) {
    // repeat_kv: query head h reads kv head ⌊h / groups⌋.
    kT = tf.reshape(tf.tile(tf.expandDims(kT, 2), [1, 1, groups, 1, 1]), [b, nH, hd, t]); // [B, nH, hd, T]
    vh = tf.reshape(tf.tile(tf.expandDims(vh, 2), [1, 1, groups, 1, 1]), [b, nH, t, hd]); // [B, nH, T, hd]
  }
  const scores = tf.add(tf.matMul(qh, tf.reshape(kT, [b * nH, hd, t])), mask); // [B*nH, T, T]
  const probs = tf.softmax(scores); // [B*nH, T, T]
  const ctx = tf.matMul(probs, tf.reshape(vh, [b * nH, t, hd])); // [B*nH, T, hd]
  const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [b, nH, t, hd]), [0, 2, 1, 3]), [b * t, nH * hd]); // [N, nH*hd]
  return tf.matMul(merged, l.o); // [N, C]
}

/** One SwiGLU expert: down(silu(x@gate) * (x@up)). x [n, C] → [n, C]. */
export function expertFfn(x: tf.Tensor2D, e: ExpertParams): tf.Tensor2D {
  const g = tf.matMul(x, e.gate); // [n, F]
  const u = tf.matMul(x, e.up); // [n, F]
  const act = tf.mul(tf.mul(g, tf.sigmoid(g)), u); // silu(g) * u
  return tf.matMul(act, e.down); // [n, C]
}

/**
 * Top-k over each row of a row-major [n, e] probability matrix, best first.
 * Ties: the lower expert index wins (stable order), so results never depend on a backend's TopK.
 */
export function topKRows(probs: Float32Array, n: number, e: number, k: number): Int32Array {
  const out = new Int32Array(n * k);
  const order = new Array<number>(e);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < e; j++) order[j] = j;
    const row = i * e;
    order.sort((a, c) => probs[row + c] - probs[row + a] || a - c);
    for (let j = 0; j < k; j++) out[i * k + j] = order[j];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Options

interface Routing {
  include: boolean[];
  included: number[]; // original indices of included experts, ascending
  k: number;
  bias: "keep" | "drop";
}

function resolveRouting(cfg: ModelConfig, opts: ForwardOptions): Routing {
  const e = cfg.experts.length;
  let include: boolean[];
  if (opts.include === undefined) include = new Array(e).fill(true);
  else {
    if (!Array.isArray(opts.include) || opts.include.length !== e) {
      throw new Error(`forward: include must be a boolean array of length ${e} (one per expert: ${cfg.experts.join(", ")}); got ${Array.isArray(opts.include) ? `length ${opts.include.length}` : typeof opts.include}`);
    }
    opts.include.forEach((v, i) => {
      if (typeof v !== "boolean") throw new Error(`forward: include[${i}] must be true or false (got ${JSON.stringify(v)})`);
    });
    include = [...opts.include];
  }
  const included = include.flatMap((v, i) => (v ? [i] : []));
  if (included.length === 0) throw new Error(`forward: include excludes every expert; keep at least one (usually the public expert, index 0)`);
  const k = opts.topK ?? cfg.topK; // the contract: no silent capping when experts are excluded
  if (!Number.isInteger(k) || k < 1) throw new Error(`forward: topK must be a positive integer (got ${k})`);
  if (k > included.length) {
    throw new Error(`forward: topK = ${k} but only ${included.length} expert(s) are included (${included.map((i) => cfg.experts[i]).join(", ")}); lower topK or include more experts`);
  }
  const bias = opts.bias ?? "keep";
  if (bias !== "keep" && bias !== "drop") throw new Error(`forward: bias must be "keep" or "drop" (got ${JSON.stringify(bias)})`);
  if (opts.dispatch !== undefined && opts.dispatch !== "auto" && opts.dispatch !== "dense" && opts.dispatch !== "device") throw new Error(`forward: dispatch must be "auto", "dense" or "device" (got ${JSON.stringify(opts.dispatch)})`);
  return { include, included, k, bias };
}

/** Check token ids: int32 [B, T], 1 ≤ T ≤ maxSeqLen, every id in [0, vocabSize). */
export function checkIds(ids: tf.Tensor, cfg: ModelConfig): void {
  if (!(ids instanceof tf.Tensor)) throw new Error(`forward: ids must be a tf.Tensor2D of int32 token ids`);
  if (ids.rank !== 2) throw new Error(`forward: ids must have shape [B, T] (got [${ids.shape}])`);
  if (ids.dtype !== "int32") throw new Error(`forward: ids must be int32 token ids (got ${ids.dtype}); use tf.tensor2d(values, shape, "int32")`);
  const [b, t] = ids.shape;
  if (b < 1 || t < 1) throw new Error(`forward: ids must be non-empty (got [${ids.shape}])`);
  if (t > cfg.maxSeqLen) throw new Error(`forward: sequence length ${t} exceeds maxSeqLen ${cfg.maxSeqLen}`);
  // On webgpu only ids still in host memory are checked (ids made on the device, e.g. by sampling,
  // are in range by construction); reading them back would stall the device.
  const v = valuesIfOnHost(ids);
  if (!v) return;
  for (let i = 0; i < v.length; i++) {
    if (v[i] < 0 || v[i] >= cfg.vocabSize) throw new Error(`forward: token id ${v[i]} at position ${i} is outside [0, ${cfg.vocabSize})`);
  }
}

// ---------------------------------------------------------------------------------------------
// MoE block

interface MoeOut {
  y: tf.Tensor2D; // [N, C]
  logits: tf.Tensor2D; // [N, Ei]
  probs: tf.Tensor2D; // [N, Ei]
  weights?: tf.Tensor2D; // [N, Ei] mixing weights (zero off the top-k)
  topk?: Int32Array; // [N*k] positions in `included` (not original indices)
  probsHost?: Float32Array;
  share?: tf.Tensor1D; // device routing: [Ei] share of the top-k slots, no gradient
}

/** Σ_j weights[:, j] · FFN_j(h): every included expert on every token. [N, C] */
function denseMixture(h: tf.Tensor2D, weights: tf.Tensor2D, l: LayerParams, r: Routing): tf.Tensor2D {
  const n = h.shape[0], ei = r.included.length;
  let y: tf.Tensor2D | undefined;
  for (let j = 0; j < ei; j++) {
    const wj = ei === 1 ? weights : tf.slice(weights, [0, j], [n, 1]); // [N, 1]
    const term = tf.mul(expertFfn(h, l.experts[r.included[j]]), wj) as tf.Tensor2D;
    y = y ? (tf.add(y, term) as tf.Tensor2D) : term;
  }
  return y!;
}

function moe(h: tf.Tensor2D, l: LayerParams, cfg: ModelConfig, r: Routing, dense: boolean, needHostProbs: boolean, place: RoutingPlace): MoeOut {
  const n = h.shape[0], ei = r.included.length, k = r.k;
  const all = ei === cfg.experts.length;
  const idxT = all ? undefined : tf.tensor1d(r.included, "int32");
  const rows = idxT ? tf.gather(l.router, idxT) : l.router; // [Ei, C]
  let logits = tf.matMul(h, tf.transpose(rows)) as tf.Tensor2D; // [N, Ei]  (transpose the tiny [Ei, C], not h)
  if (r.bias === "keep" && r.included.some((i) => i >= 1)) {
    const beta = idxT ? tf.gather(l.expertBias, idxT) : l.expertBias; // [Ei]
    const owner = tf.tensor1d(r.included.map((i) => (i >= 1 ? 1 : 0)), "float32"); // public expert gets no bias
    logits = tf.add(logits, tf.mul(tf.minimum(beta, 0), owner));
  }
  const probs = tf.softmax(logits) as tf.Tensor2D; // [N, Ei] fp32 softmax over included experts only

  if (place === "device") {
    // Nothing leaves the device: the selection is a mask, every included expert runs on every token.
    let weights = probs;
    let share: tf.Tensor1D;
    if (k === ei) share = tf.fill([ei], 1 / ei) as tf.Tensor1D; // every expert holds every token's slot
    else {
      const sel = topkMask(probs, k); // [N, Ei] 1 on each row's top-k, no gradient
      weights = tf.mul(probs, sel) as tf.Tensor2D; // [N, Ei]  zero off the top-k
      share = tf.div(tf.sum(sel, 0), n * k) as tf.Tensor1D; // [Ei]
    }
    if (cfg.normTopkProb) weights = tf.div(weights, tf.sum(weights, 1, true)) as tf.Tensor2D;
    return { y: denseMixture(h, weights, l, r), logits, probs, weights, share };
  }

  if (k === ei) {
    // Every included expert sees every token: the dense soft mixture (FlexOlmo's expert training, top-2 of 2).
    let weights = probs;
    if (cfg.normTopkProb) weights = tf.div(probs, tf.sum(probs, 1, true)) as tf.Tensor2D;
    const y = denseMixture(h, weights, l, r);
    const probsHost = needHostProbs ? (probs.dataSync() as Float32Array) : undefined;
    return { y, logits, probs, weights, probsHost, topk: probsHost ? topKRows(probsHost, n, ei, k) : undefined };
  }

  // k < Ei: the selection is a discrete choice, made on the CPU (also needed to size each expert's batch).
  const probsHost = probs.dataSync() as Float32Array;
  const topk = topKRows(probsHost, n, ei, k);
  const sel = new Float32Array(n * ei);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) sel[i * ei + topk[i * k + j]] = 1;
  let weights = tf.mul(probs, tf.tensor2d(sel, [n, ei])) as tf.Tensor2D; // [N, Ei]  zero off the top-k
  if (cfg.normTopkProb) weights = tf.div(weights, tf.sum(weights, 1, true)) as tf.Tensor2D;

  if (dense) return { y: denseMixture(h, weights, l, r), logits, probs, weights, topk, probsHost };

  // Sparse dispatch: each expert computes only on the tokens that selected it. Order the N·k
  // (token, expert) pairs by expert, gather their rows of h once, split into one block per expert,
  // run each expert on its block, and scatter-add the weighted outputs back to their tokens.
  const counts = new Array<number>(ei).fill(0);
  for (let i = 0; i < n * k; i++) counts[topk[i]]++;
  const cursor = new Array<number>(ei).fill(0);
  for (let j = 1; j < ei; j++) cursor[j] = cursor[j - 1] + counts[j - 1];
  const pairRow = new Int32Array(n * k); // token index of each pair, grouped by expert
  const pairW = new Int32Array(n * k); // position of the pair's weight in the flat [N*Ei] weights
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < k; s++) {
      const j = topk[i * k + s];
      const pos = cursor[j]++;
      pairRow[pos] = i;
      pairW[pos] = i * ei + j;
    }
  }
  const active = counts.flatMap((c, j) => (c > 0 ? [j] : []));
  const rowsT = tf.tensor1d(pairRow, "int32");
  const xs = tf.gather(h, rowsT); // [N*k, C]
  const blocks = active.length === 1 ? [xs] : tf.split(xs, active.map((j) => counts[j]), 0); // per expert [n_j, C]
  const ys = blocks.map((xj, a) => expertFfn(xj as tf.Tensor2D, l.experts[r.included[active[a]]]));
  const yAll = ys.length === 1 ? ys[0] : tf.concat(ys, 0); // [N*k, C]
  const w = tf.reshape(tf.gather(tf.reshape(weights, [n * ei]), tf.tensor1d(pairW, "int32")), [n * k, 1]); // [N*k, 1]
  const y = tf.unsortedSegmentSum(tf.mul(yAll, w), rowsT, n) as tf.Tensor2D; // [N, C]
  return { y, logits, probs, weights, topk, probsHost };
}

// ---------------------------------------------------------------------------------------------
// Forward

/** Everything up to and including the final RMSNorm. See `forward` for the options. */
export function forwardHidden(params: ModelParams, cfg: ModelConfig, ids: tf.Tensor2D, opts: ForwardOptions = {}): HiddenResult {
  installOps(); // idempotent; guarantees the fast/needed kernels even if initBackend was skipped
  validateConfig(cfg);
  checkParamsMatch(params, cfg);
  const r = resolveRouting(cfg, opts);
  checkIds(ids, cfg);
  const [b, t] = ids.shape;
  const n = b * t;
  const hd = headDim(cfg);
  const place: RoutingPlace = opts.dispatch === "device" ? "device" : opts.dispatch === "dense" ? "host" : routingPlace();
  const dense = opts.dispatch === "dense";
  const wantStats = Boolean(opts.routingStats || opts.telemetry);

  const ang = ropeAngles(t, hd, cfg.ropeTheta);
  const tables = { cos: tf.tensor2d(ang.cos, [t, hd / 2]), sin: tf.tensor2d(ang.sin, [t, hd / 2]) }; // [T, hd/2]
  const mask = causalMask(t);

  let x = tf.gather(params.embed, tf.reshape(ids, [n])) as tf.Tensor2D; // [N, C]
  const routerLogits: tf.Tensor2D[] = [];
  const routerProbs: tf.Tensor2D[] = [];
  const routerInputs: tf.Tensor2D[] = [];
  const topk: HiddenResult["topk"] = [];
  const shares: tf.Tensor1D[] = [];
  const tel: TelemetryTensors[] = [];
  const stats: RoutingStats = { share: [], meanProb: [] };

  for (const l of params.layers) {
    const h = tf.add(x, rmsNorm(attention(x, l, cfg, b, t, tables, mask), l.postAttnNorm, cfg.rmsNormEps)) as tf.Tensor2D; // [N, C]
    const m = moe(h, l, cfg, r, dense, wantStats && place === "host", place);
    x = tf.add(h, rmsNorm(m.y, l.postFfnNorm, cfg.rmsNormEps)) as tf.Tensor2D; // [N, C]
    routerLogits.push(m.logits);
    routerProbs.push(m.probs);
    routerInputs.push(h);
    if (m.share) shares.push(m.share);
    if (m.topk) {
      const counts = new Array(r.included.length).fill(0);
      for (let i = 0; i < m.topk.length; i++) counts[m.topk[i]]++;
      topk.push({ idx: m.topk, counts });
    } else topk.push(undefined);
    if (wantStats && m.probsHost && m.topk) {
      const e = cfg.experts.length;
      const share = new Array(e).fill(0), meanProb = new Array(e).fill(0);
      topk[topk.length - 1]!.counts.forEach((c, j) => (share[r.included[j]] = c / (n * r.k)));
      const ei = r.included.length;
      for (let i = 0; i < n; i++) for (let j = 0; j < ei; j++) meanProb[r.included[j]] += m.probsHost[i * ei + j] / n;
      stats.share.push(share);
      stats.meanProb.push(meanProb);
    }
    if (opts.telemetry) tel.push({ logits: m.logits, probs: m.probs, weights: m.weights, topk: m.topk, probsHost: m.probsHost, hNorm: tf.norm(h, "euclidean", 1) as tf.Tensor1D });
  }
  const hidden = rmsNorm(x, params.norm, cfg.rmsNormEps);

  const res: HiddenResult = { hidden, routerLogits, routerProbs, routerInputs, topk, b, t, included: r.included };
  if (place === "device") {
    res.shares = shares;
    if (wantStats) {
      // [L, 2, Ei]: per layer the shares and the mean probabilities, read later in one go.
      res.routingStatsTensor = tf.stack(routerProbs.map((p, li) => tf.stack([shares[li], tf.mean(p, 0)]))) as tf.Tensor3D;
    }
  } else if (wantStats) res.routingStats = stats;
  if (opts.telemetry) {
    // Device routing: the tensors are handed over for an asynchronous read (forwardTelemetry).
    if (place === "device") res.telemetryTensors = tel;
    else res.telemetry = buildTelemetry(tel, telemetryTensorList(tel, params, r).map((x) => x.dataSync() as Float32Array), cfg, r, n);
  }
  return res;
}

/** Shares and mean probabilities from a read `routingStatsTensor` ([L, 2, Ei]), in original expert numbering. */
export function readRoutingStats(host: Float32Array | ArrayLike<number>, nLayers: number, e: number, included: number[]): RoutingStats {
  const ei = included.length;
  const stats: RoutingStats = { share: [], meanProb: [] };
  for (let l = 0; l < nLayers; l++) {
    const share = new Array(e).fill(0), meanProb = new Array(e).fill(0);
    included.forEach((orig, j) => {
      share[orig] = host[(l * 2 + 0) * ei + j];
      meanProb[orig] = host[(l * 2 + 1) * ei + j];
    });
    stats.share.push(share);
    stats.meanProb.push(meanProb);
  }
  return stats;
}

/** The router tensors of one layer that telemetry reads. */
export interface TelemetryTensors {
  logits: tf.Tensor2D;
  probs: tf.Tensor2D;
  weights?: tf.Tensor2D;
  topk?: Int32Array;
  probsHost?: Float32Array;
  hNorm: tf.Tensor1D;
}

/** What telemetry reads to the host, in a fixed order: per layer logits, probs, weights, hNorm; then each layer's bias. */
function telemetryTensorList(tel: TelemetryTensors[], params: ModelParams, r: Routing): tf.Tensor[] {
  const list: tf.Tensor[] = [];
  for (const L of tel) list.push(L.logits, L.probs, L.weights ?? L.probs, L.hNorm);
  if (r.bias === "keep") for (const l of params.layers) list.push(l.expertBias);
  return list;
}

/**
 * Router telemetry of one forward pass, read asynchronously: works on every backend, webgpu
 * included. Same record as `forward(..., { telemetry: true }).telemetry`. Frees every tensor of the pass.
 */
export async function forwardTelemetry(params: ModelParams, cfg: ModelConfig, ids: tf.Tensor2D, opts: Omit<ForwardOptions, "telemetry"> = {}): Promise<RouterTelemetry> {
  const r = resolveRouting(cfg, opts);
  let tel: RouterTelemetry | undefined;
  let tensors: TelemetryTensors[] = [];
  let n = 0;
  // tidy frees the pass; the host path reads inside it (the same record as before device routing
  // existed), the device path keeps clones of what it will read.
  const kept = tf.tidy(() => {
    const hr = forwardHidden(params, cfg, ids, { ...opts, telemetry: true });
    n = hr.b * hr.t;
    tel = hr.telemetry;
    if (tel) return [];
    tensors = hr.telemetryTensors!;
    return telemetryTensorList(tensors, params, r).map((x) => tf.clone(x));
  });
  if (tel) return tel;
  try {
    const host = (await Promise.all(kept.map((x) => x.data()))) as Float32Array[];
    return buildTelemetry(tensors, host, cfg, r, n);
  } finally {
    kept.forEach((x) => x.dispose());
  }
}

/** Build the telemetry record from the host copies of `telemetryTensorList`, in original expert numbering. */
function buildTelemetry(tel: TelemetryTensors[], host: Float32Array[], cfg: ModelConfig, r: Routing, n: number): RouterTelemetry {
  const e = cfg.experts.length, ei = r.included.length, k = r.k;
  const layers: LayerTelemetry[] = tel.map((L, li) => {
    const lg = host[li * 4], pr = L.probsHost ?? host[li * 4 + 1];
    const w = host[li * 4 + 2];
    const sel = L.topk ?? topKRows(pr, n, ei, k);
    const logits = new Float32Array(n * e).fill(-Infinity), probs = new Float32Array(n * e);
    const topkIdx = new Int32Array(n * k), topkWeight = new Float32Array(n * k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < ei; j++) {
        logits[i * e + r.included[j]] = lg[i * ei + j];
        probs[i * e + r.included[j]] = pr[i * ei + j];
      }
      for (let s = 0; s < k; s++) {
        const j = sel[i * k + s];
        topkIdx[i * k + s] = r.included[j];
        topkWeight[i * k + s] = w[i * ei + j];
      }
    }
    return { logits, probs, topkIdx, topkWeight, hNorm: host[li * 4 + 3] };
  });
  // The bias is the same in every layer's formula but a separate parameter per layer; report layer 0's
  // per expert only if all layers agree, else NaN (look at the params for per-layer values).
  const biasUsed = new Array(e).fill(0);
  if (r.bias === "keep") {
    const per = host.slice(tel.length * 4);
    for (let j = 1; j < e; j++) {
      const v0 = Math.min(per[0][j], 0);
      biasUsed[j] = per.every((p) => Math.min(p[j], 0) === v0) ? v0 : NaN;
    }
  }
  return { n, e, k, include: r.include, biasUsed, layers };
}

/**
 * The full model: logits [B, T, V] for int32 token ids [B, T].
 * Call inside `tf.tidy` and dispose the result; do not return `telemetry` from a tidy (it holds
 * large typed arrays that tidy would walk element by element).
 */
export function forward(params: ModelParams, cfg: ModelConfig, ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
  const hr = forwardHidden(params, cfg, ids, opts);
  const logits = tf.reshape(tf.matMul(hr.hidden, params.lmHead), [hr.b, hr.t, cfg.vocabSize]) as tf.Tensor3D; // [B, T, V]
  const out: ForwardResult = { logits, routerLogits: hr.routerLogits };
  if (hr.telemetry) out.telemetry = hr.telemetry;
  if (hr.routingStats) out.routingStats = hr.routingStats;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parameters (the tree's bookkeeping — names, shapes, walks — lives in ./params)

export { checkParamsMatch, cloneParams, disposeParams, expectedShapes } from "./params";

/** Initialisation std for weight matrices and embeddings: OLMo 2 initialises every weight from N(0, 0.02²), truncated at ±3σ. */
export const INIT_STD = 0.02;

/**
 * Fresh parameters, deterministic for a seed and independent of the backend. Every tensor draws from
 * its own stream seeded by (seed, canonical name), so a 2-expert model's expert 0, attention and
 * embeddings equal the dense model's for the same seed. Norm weights start at 1; the expert bias at 0
 * (min(0, 0) = 0: no effect until trained; OLMo-core leaves it uninitialised). Which rule a tensor
 * gets is its `init` in the parameter schema.
 */
export function initParams(cfg: ModelConfig, seed: number): ModelParams {
  validateConfig(cfg);
  if (!Number.isInteger(seed)) throw new Error(`initParams: seed must be an integer (got ${seed})`);
  return buildParams(cfg, (s) => {
    const shape = s.shape(cfg);
    const size = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size); // zeros unless filled below
    if (s.init === "ones") v.fill(1);
    else if (s.init === "normal") {
      const rng = new Rng((hashString(s.name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0);
      for (let i = 0; i < size; i++) v[i] = rng.truncNormal(INIT_STD);
    }
    return tf.tensor(v, shape, "float32");
  });
}

/**
 * Parameter counts. total: every tensor we hold; hf: without the expert bias (what a Hugging Face
 * checkpoint holds); active: parameters touched per token, i.e. total minus the FFNs of the
 * (E − topK) experts a token does not use. Router rows all count as active (every logit is computed).
 */
export function paramCount(cfg: ModelConfig): { total: number; active: number; hf: number } {
  validateConfig(cfg);
  let total = 0, hf = 0;
  for (const s of paramSchema(cfg)) {
    const n = s.shape(cfg).reduce((a, b) => a * b, 1);
    total += n;
    if (s.hf) hf += n;
  }
  const E = cfg.experts.length;
  const ffn = 3 * cfg.dModel * cfg.dFf;
  const active = total - cfg.nLayers * (E - cfg.topK) * ffn;
  return { total, active, hf };
}
