/**
 * An independent plain-JS (float64, explicit loops) implementation of the FlexOlmo forward pass,
 * written from the HF `FlexOlmoForCausalLM` description, for the tests to compare the TF.js model
 * against. It shares no code with lib/model except reading tensors by canonical name.
 */
import type { ModelConfig } from "../../lib/model/config";
import { ModelParams, paramEntries } from "../../lib/model/params";

export type Host = Map<string, { shape: number[]; data: Float32Array }>;

/** Copy every parameter to the host, keyed by canonical name (our [in, out] layout). */
export function toHost(p: ModelParams): Host {
  const m: Host = new Map();
  for (const e of paramEntries(p)) m.set(e.name, { shape: e.tensor.shape, data: e.tensor.dataSync() as Float32Array });
  return m;
}

/** y[n][j] = Σ_i x[n][i] · W[i][j] with W stored row-major [in, out]. */
export function matmul(x: number[][], W: { shape: number[]; data: ArrayLike<number> }): number[][] {
  const [inn, out] = W.shape;
  return x.map((row) => {
    const y = new Array(out).fill(0);
    for (let i = 0; i < inn; i++) {
      const xi = row[i];
      for (let j = 0; j < out; j++) y[j] += xi * W.data[i * out + j];
    }
    return y;
  });
}

export function rmsnorm(x: number[][], w: ArrayLike<number>, eps: number): number[][] {
  return x.map((row) => {
    let ms = 0;
    for (const v of row) ms += v * v;
    ms /= row.length;
    const r = 1 / Math.sqrt(ms + eps);
    return row.map((v, i) => v * r * w[i]);
  });
}

/** HF rotate_half RoPE on one [N, nH*hd] projection; rows ordered (b, t). */
export function ropeRef(x: number[][], t: number, hd: number, theta: number): number[][] {
  const half = hd / 2;
  return x.map((row, r) => {
    const pos = r % t;
    const out = row.slice();
    for (let h = 0; h < row.length; h += hd) {
      for (let i = 0; i < half; i++) {
        const ang = pos * Math.fround(1 / Math.pow(theta, (2 * i) / hd)); // HF: inv_freq in float32
        const c = Math.cos(ang), s = Math.sin(ang);
        const x1 = row[h + i], x2 = row[h + half + i];
        out[h + i] = x1 * c - x2 * s;
        out[h + half + i] = x2 * c + x1 * s;
      }
    }
    return out;
  });
}

export function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Causal multi-head attention with grouped KV heads; q [N, nH*hd], k/v [N, nKv*hd]. */
export function attentionRef(q: number[][], k: number[][], v: number[][], b: number, t: number, nH: number, nKv: number, hd: number): number[][] {
  const groups = nH / nKv;
  const out = q.map(() => new Array(nH * hd).fill(0));
  for (let bb = 0; bb < b; bb++) {
    for (let h = 0; h < nH; h++) {
      const kvh = Math.floor(h / groups);
      for (let i = 0; i < t; i++) {
        const qi = q[bb * t + i];
        const scores: number[] = [];
        for (let j = 0; j <= i; j++) {
          const kj = k[bb * t + j];
          let s = 0;
          for (let d = 0; d < hd; d++) s += qi[h * hd + d] * kj[kvh * hd + d];
          scores.push(s / Math.sqrt(hd));
        }
        const p = softmax(scores);
        for (let j = 0; j <= i; j++) for (let d = 0; d < hd; d++) out[bb * t + i][h * hd + d] += p[j] * v[bb * t + j][kvh * hd + d];
      }
    }
  }
  return out;
}

export interface RefOptions {
  include?: boolean[];
  topK?: number;
  bias?: "keep" | "drop";
}

export interface RefLayerRouting {
  logits: number[][]; // [N][E_included]
  probs: number[][]; // [N][E_included]
  topk: number[][]; // [N][k] original expert indices
  weights: number[][]; // [N][k]
}

/** Full forward: logits [B*T][V] (row-major tokens) and per-layer routing. */
export function refForward(P: Host, cfg: ModelConfig, ids: number[][], opts: RefOptions = {}): { logits: number[][]; routing: RefLayerRouting[] } {
  const b = ids.length, t = ids[0].length;
  const C = cfg.dModel, hd = C / cfg.nHeads, E = cfg.experts.length;
  const include = opts.include ?? new Array(E).fill(true);
  const inc = include.flatMap((v, i) => (v ? [i] : []));
  const k = opts.topK ?? Math.min(cfg.topK, inc.length);
  const g = (n: string) => P.get(n)!;
  const emb = g("model.embed_tokens.weight");
  let x: number[][] = ids.flat().map((id) => Array.from(emb.data.subarray(id * C, (id + 1) * C)));
  const routing: RefLayerRouting[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `model.layers.${l}`;
    let q = rmsnorm(matmul(x, g(`${p}.self_attn.q_proj.weight`)), g(`${p}.self_attn.q_norm.weight`).data, cfg.rmsNormEps);
    let kk = rmsnorm(matmul(x, g(`${p}.self_attn.k_proj.weight`)), g(`${p}.self_attn.k_norm.weight`).data, cfg.rmsNormEps);
    const v = matmul(x, g(`${p}.self_attn.v_proj.weight`));
    q = ropeRef(q, t, hd, cfg.ropeTheta);
    kk = ropeRef(kk, t, hd, cfg.ropeTheta);
    const att = matmul(attentionRef(q, kk, v, b, t, cfg.nHeads, cfg.nKvHeads, hd), g(`${p}.self_attn.o_proj.weight`));
    const an = rmsnorm(att, g(`${p}.post_attention_layernorm.weight`).data, cfg.rmsNormEps);
    const h = x.map((row, n) => row.map((val, c) => val + an[n][c]));
    // Router
    const R = g(`${p}.mlp.gate.weight`), beta = g(`${p}.mlp.expert_bias`).data;
    const L: RefLayerRouting = { logits: [], probs: [], topk: [], weights: [] };
    const y = h.map(() => new Array(C).fill(0));
    h.forEach((hn, n) => {
      const lg = inc.map((e) => {
        let s = 0;
        for (let c = 0; c < C; c++) s += hn[c] * R.data[e * C + c];
        if ((opts.bias ?? "keep") === "keep" && e >= 1) s += Math.min(beta[e], 0);
        return s;
      });
      const pr = softmax(lg);
      const order = pr.map((_, j) => j).sort((a, c) => pr[c] - pr[a] || a - c);
      const sel = order.slice(0, k);
      let w = sel.map((j) => pr[j]);
      if (cfg.normTopkProb) {
        const s = w.reduce((a, c) => a + c, 0);
        w = w.map((z) => z / s);
      }
      L.logits.push(lg);
      L.probs.push(pr);
      L.topk.push(sel.map((j) => inc[j]));
      L.weights.push(w);
      sel.forEach((j, s) => {
        const e = inc[j];
        const pe = `${p}.mlp.experts.${e}`;
        const gt = matmul([hn], g(`${pe}.gate_proj.weight`))[0];
        const up = matmul([hn], g(`${pe}.up_proj.weight`))[0];
        const act = gt.map((z, i) => (z / (1 + Math.exp(-z))) * up[i]);
        const dn = matmul([act], g(`${pe}.down_proj.weight`))[0];
        for (let c = 0; c < C; c++) y[n][c] += w[s] * dn[c];
      });
    });
    routing.push(L);
    const yn = rmsnorm(y, g(`${p}.post_feedforward_layernorm.weight`).data, cfg.rmsNormEps);
    x = h.map((row, n) => row.map((val, c) => val + yn[n][c]));
  }
  const xf = rmsnorm(x, g("model.norm.weight").data, cfg.rmsNormEps);
  return { logits: matmul(xf, g("lm_head.weight")), routing };
}
