#!/usr/bin/env python3
"""An independent FlexOlmo forward pass in numpy, written from Hugging Face's modeling code.

It reads a checkpoint directory (config.json + model.safetensors, or a sharded index) with its own
tiny safetensors parser and prints JSON for one sequence:

    {"logits": [T][V], "router": [layer][T][E], "minTopkMargin": float}

router[l][t][e] is the softmax probability of expert e (0 for excluded experts), i.e. what the TS
engine reports as telemetry `probs`. Everything is computed in float64, so the difference to a
float32 engine measures that engine's rounding, not ours.

Semantics followed (transformers `modeling_flex_olmo.py`):
  * post-norm blocks:  h = x + RMSNorm(Attn(x));  out = h + RMSNorm(MoE(h))   (no input norm)
  * QK-norm: RMSNorm over the whole q / k projection (all heads at once), before RoPE
  * RoPE rotate-half with inv_freq = theta^(-2i/d), cos/sin of cat(freqs, freqs)
  * causal softmax attention, scale head_dim^-0.5, grouped KV heads repeated per query group
  * router: logits = h @ W_r^T, softmax over the *included* experts (excluding an expert = deleting
    its row and FFN, FlexOlmo's opt-out), top-k, renormalised only if norm_topk_prob
  * SwiGLU experts: down(silu(gate(h)) * up(h)), weighted by the (unrenormalised) top-k probs
  * final RMSNorm, untied lm_head
Extension beyond HF (FlexOlmo's training-time router bias, paper §3.3.2): with --bias keep, the
raw per-layer expert bias from flexolmo.json is added as min(beta_e, 0) to expert e's logit, e >= 1.

Usage: flexolmo_ref.py DIR --ids 1,2,3 [--include 1,0,1] [--top-k K] [--bias keep|drop]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2), "F64": ("<f8", 8)}


def read_safetensors(path):
    """Parse a safetensors file into {name: float64 ndarray}."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_dtype, size = DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype=np_dtype)
        if info["dtype"] == "BF16":  # bf16 = the upper half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr.astype(np.float64).reshape(info["shape"])
    return out


def load_weights(d):
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    w = {}
    for fn in files:
        w.update(read_safetensors(os.path.join(d, fn)))
    return w


def decode_float(v):
    return float(v)  # json floats, or the strings "NaN" / "Infinity" / "-Infinity" / "-0"


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    ez = np.exp(z)
    return ez / np.sum(ez, axis=axis, keepdims=True)


def silu(x):
    return x / (1.0 + np.exp(-x))


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(cfg, W, ids, include, k, bias):
    C = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    Hkv = cfg.get("num_key_value_heads") or H
    hd = C // H
    E = cfg["num_experts"]
    L = cfg["num_hidden_layers"]
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 500000.0)
    norm_topk = bool(cfg.get("norm_topk_prob", False))
    T = len(ids)

    inv_freq = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))  # [hd/2]
    freqs = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]  # [T, hd/2]
    emb = np.concatenate([freqs, freqs], axis=-1)  # [T, hd]
    cos, sin = np.cos(emb), np.sin(emb)
    causal = np.triu(np.full((T, T), -np.inf), k=1)  # [T, T], -inf above the diagonal
    inc = [e for e in range(E) if include[e]]

    x = W["model.embed_tokens.weight"][ids]  # [T, C]
    router_out = []
    min_margin = np.inf
    for l in range(L):
        p = f"model.layers.{l}."
        q = rms_norm(x @ W[p + "self_attn.q_proj.weight"].T, W[p + "self_attn.q_norm.weight"], eps)  # [T, H*hd]
        kk = rms_norm(x @ W[p + "self_attn.k_proj.weight"].T, W[p + "self_attn.k_norm.weight"], eps)  # [T, Hkv*hd]
        v = x @ W[p + "self_attn.v_proj.weight"].T  # [T, Hkv*hd]
        q = q.reshape(T, H, hd).transpose(1, 0, 2)  # [H, T, hd]
        kk = kk.reshape(T, Hkv, hd).transpose(1, 0, 2)  # [Hkv, T, hd]
        v = v.reshape(T, Hkv, hd).transpose(1, 0, 2)  # [Hkv, T, hd]
        q = q * cos + rotate_half(q) * sin
        kk = kk * cos + rotate_half(kk) * sin
        kk = np.repeat(kk, H // Hkv, axis=0)  # [H, T, hd]  (HF repeat_kv: each KV head serves a block of query heads)
        v = np.repeat(v, H // Hkv, axis=0)
        att = softmax(q @ kk.transpose(0, 2, 1) * hd**-0.5 + causal)  # [H, T, T]
        a = (att @ v).transpose(1, 0, 2).reshape(T, H * hd)  # [T, C]
        a = a @ W[p + "self_attn.o_proj.weight"].T
        h = x + rms_norm(a, W[p + "post_attention_layernorm.weight"], eps)

        logits = h @ W[p + "mlp.gate.weight"].T  # [T, E]
        if bias is not None:
            logits[:, 1:] += np.minimum(np.asarray(bias[l][1:], dtype=np.float64), 0.0)
        probs = np.zeros((T, E))
        probs[:, inc] = softmax(logits[:, inc])  # excluded experts: row deleted
        y = np.zeros_like(h)
        for t in range(T):
            order = sorted(inc, key=lambda e: -probs[t, e])
            chosen = order[:k]
            if len(order) > k:
                min_margin = min(min_margin, probs[t, order[k - 1]] - probs[t, order[k]])
            w = probs[t, chosen]
            if norm_topk:
                w = w / w.sum()
            for e, we in zip(chosen, w):
                pe = p + f"mlp.experts.{e}."
                g = h[t] @ W[pe + "gate_proj.weight"].T
                u = h[t] @ W[pe + "up_proj.weight"].T
                y[t] += we * ((silu(g) * u) @ W[pe + "down_proj.weight"].T)
        x = h + rms_norm(y, W[p + "post_feedforward_layernorm.weight"], eps)
        router_out.append(probs.tolist())

    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight")
    if head is None:
        head = W["model.embed_tokens.weight"]  # tied embeddings
    return {"logits": (x @ head.T).tolist(), "router": router_out, "minTopkMargin": None if min_margin == np.inf else float(min_margin)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--ids", required=True, help="comma-separated token ids")
    ap.add_argument("--include", help="comma-separated 0/1 per expert (default: all)")
    ap.add_argument("--top-k", type=int, help="default: num_experts_per_tok, capped at the included count")
    ap.add_argument("--bias", choices=["keep", "drop"], default="drop")
    a = ap.parse_args()
    with open(os.path.join(a.dir, "config.json")) as f:
        cfg = json.load(f)
    E = cfg["num_experts"]
    include = [True] * E if not a.include else [s.strip() == "1" for s in a.include.split(",")]
    if len(include) != E:
        sys.exit(f"--include has {len(include)} entries but the model has {E} experts")
    k = a.top_k if a.top_k else min(cfg["num_experts_per_tok"], sum(include))
    bias = None
    if a.bias == "keep":
        side = os.path.join(a.dir, "flexolmo.json")
        if os.path.exists(side):
            with open(side) as f:
                bias = [[decode_float(v) for v in row] for row in json.load(f)["expert_bias"]]
    ids = [int(s) for s in a.ids.split(",")]
    out = forward(cfg, load_weights(a.dir), ids, include, k, bias)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
