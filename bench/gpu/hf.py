#!/usr/bin/env python3
"""GPU benchmark, transformers' side: FlexOlmoForCausalLM on the same configs, batch and sequence
length as bench/gpu/ours.ts, on the same GPU; prints a side-by-side table with our numbers.

    python3 bench/gpu/hf.py --checkpoints DIR [--ours ours-webgpu.json ...] [--out hf.json] [--table compare.md]

DIR holds one checkpoint per model (dense/, moe8/) written by `ours.js --export DIR`: config.json
(FlexOlmoConfig fields, lib/io/hf-config.ts), model.safetensors (HF names and layout) and bench.json
(batch, sequence length, AdamW settings). Loading our weights also checks that lib/io's export loads
in transformers without missing or unexpected tensors (reported as `load_info`).

Measured per model, in fp32 and (extra information) bf16 autocast:
  forward: logits for B x T tokens under torch.no_grad(), synchronised by reading their sum;
  train:   forward, cross-entropy, backward, clip_grad_norm_(1.0), AdamW step, zero_grad; the
           step ends with loss.item(). Our step also adds the router z-loss (1e-3 x a logsumexp^2
           per layer), a few elementwise ops; HF's FlexOlmo has no z-loss, so it is left out here.
tokens/s = B*T / median seconds, after one warm-up (CUDA context, kernel selection).

Written for a GPU machine with torch + transformers and no network. Untested where it was written
(no torch there): only its syntax and the table code were checked.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from datetime import datetime, timezone

GOAL = 0.3  # the issue's target: our tokens/s >= 0.3 x transformers' (fp32, same GPU)


def fmt(x, digits=0):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def side_by_side(hf: dict, ours_reports: list[dict]) -> str:
    """Markdown table: per model, ours (each backend) vs HF fp32 (and bf16), with ratios to HF fp32."""
    lines = []
    gpu = hf.get("gpu", "?")
    lines.append(f"GPU: {gpu}; torch {hf.get('torch', '?')}, transformers {hf.get('transformers', '?')}; {hf.get('date', '')}")
    lines.append("")
    lines.append("| model | B×T | what | HF fp32 tok/s | HF bf16 tok/s | ours tok/s (backend) | ours / HF fp32 |")
    lines.append("|---|---|---|---|---|---|---|")
    for m in hf.get("models", []):
        name = m["model"]
        for what in ("forward", "train"):
            h32 = (m.get("fp32") or {}).get(what) or {}
            h16 = (m.get("bf16") or {}).get(what) or {}
            h32v = h32.get("tokens_per_sec")
            h16v = h16.get("tokens_per_sec")
            cells = []
            for rep in ours_reports:
                backend = (rep.get("backend") or {}).get("name", "?")
                om = next((x for x in rep.get("models", []) if x.get("model") == name), None)
                if om is None:
                    continue
                meas = om.get(what)
                if meas:
                    r = ratio(meas["tokensPerSec"], h32v)
                    mark = "" if r is None else (" ✓" if r >= GOAL else " ✗")
                    cells.append((f"{fmt(meas['tokensPerSec'])} ({backend})", f"{fmt(r, 3)}{mark}"))
                else:
                    err = om.get(f"{what}Error", "not measured")
                    cells.append((f"failed on {backend}: {err[:60]}", "—"))
            if not cells:
                cells = [("not run", "—")]
            hcell32 = fmt(h32v) if h32v is not None else f"failed: {h32.get('error', '?')[:60]}"
            hcell16 = fmt(h16v) if h16v is not None else ("—" if not h16 else f"failed: {h16.get('error', '?')[:40]}")
            for i, (oc, rc) in enumerate(cells):
                first = i == 0
                lines.append(
                    f"| {name + ' (E=' + str(m['experts']) + ', k=' + str(m['top_k']) + ')' if first else ''} "
                    f"| {str(m['batch_size']) + '×' + str(m['seq_len']) if first else ''} | {what} "
                    f"| {hcell32 if first else ''} | {hcell16 if first else ''} | {oc} | {rc} |"
                )
    lines.append("")
    lines.append(f"✓ / ✗: at least / below the goal of {GOAL}× transformers' fp32 tokens/s.")
    return "\n".join(lines) + "\n"


def measure(fn, reps, torch):
    """Median and min milliseconds of fn() over reps calls after one warm-up; fn must end synchronised."""
    fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(ms), min(ms)


def bench_one(ckpt_dir: str, name: str, batch: int | None, seq: int | None, reps: int, dtypes: list[str], device: str):
    import torch
    import torch.nn.functional as F
    from transformers import FlexOlmoForCausalLM

    with open(os.path.join(ckpt_dir, "config.json")) as f:
        cfg = json.load(f)
    bench = {}
    bpath = os.path.join(ckpt_dir, "bench.json")
    if os.path.exists(bpath):
        with open(bpath) as f:
            bench = json.load(f)
    B = batch or bench.get("batchSize")
    T = seq or bench.get("seqLen")
    if not B or not T:
        raise SystemExit(f"{ckpt_dir}: no bench.json with batchSize/seqLen; pass --batch and --seq")
    V = cfg["vocab_size"]
    out = {
        "model": name,
        "experts": cfg["num_experts"],
        "top_k": cfg["num_experts_per_tok"],
        "batch_size": B,
        "seq_len": T,
    }
    model, info = FlexOlmoForCausalLM.from_pretrained(
        ckpt_dir, torch_dtype=torch.float32, attn_implementation="sdpa", output_loading_info=True
    )
    out["load_info"] = {k: list(v) for k, v in info.items() if v}
    model.to(device)
    out["params"] = sum(p.numel() for p in model.parameters())
    out["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
    gen = torch.Generator(device=device).manual_seed(7)

    for dt in dtypes:
        res = {}
        ctx = (lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)) if dt == "bf16" else (lambda: torch.autocast(device_type="cuda", enabled=False))
        ids = torch.randint(0, V, (B, T), device=device, generator=gen)

        def fwd():
            with torch.no_grad(), ctx():
                logits = model(input_ids=ids, use_cache=False).logits
                logits.float().sum().item()

        try:
            model.eval()
            med, mn = measure(fwd, reps, torch)
            res["forward"] = {"tokens_per_sec": B * T / med * 1000.0, "ms_median": med, "ms_min": mn}
        except Exception as e:  # noqa: BLE001 — report, keep going
            res["forward"] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
        torch.cuda.empty_cache()

        opt = torch.optim.AdamW(
            model.parameters(),
            lr=bench.get("lr", 1e-3),
            betas=(bench.get("beta1", 0.9), bench.get("beta2", 0.95)),
            eps=bench.get("eps", 1e-8),
            weight_decay=bench.get("weightDecay", 0.1),
        )
        clip = bench.get("gradClip", 1.0)
        losses = []

        def step():
            x = torch.randint(0, V, (B, T + 1), device=device, generator=gen)
            inp, tgt = x[:, :-1], x[:, 1:]
            with ctx():
                logits = model(input_ids=inp, use_cache=False).logits
            loss = F.cross_entropy(logits.float().reshape(-1, V), tgt.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())

        try:
            model.train()
            torch.cuda.reset_peak_memory_stats()
            med, mn = measure(step, reps, torch)
            res["train"] = {
                "tokens_per_sec": B * T / med * 1000.0,
                "ms_median": med,
                "ms_min": mn,
                "first_loss": losses[0],  # ≈ ln(V) at initialisation
                "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30,
            }
        except Exception as e:  # noqa: BLE001
            res["train"] = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
        del opt
        torch.cuda.empty_cache()
        out[dt] = res
    del model
    torch.cuda.empty_cache()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", required=True, help="folder with dense/ and moe8/ from ours.js --export")
    ap.add_argument("--models", default="dense,moe8")
    ap.add_argument("--ours", action="append", default=[], help="ours-<backend>.json to compare with (repeatable)")
    ap.add_argument("--preset", default="gpu", help="recorded in the output only (the configs come from --checkpoints)")
    ap.add_argument("--batch", type=int, help="override bench.json's batch size")
    ap.add_argument("--seq", type=int, help="override bench.json's sequence length")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", help="write the JSON here")
    ap.add_argument("--table", help="write the side-by-side markdown table here")
    a = ap.parse_args(argv)

    try:
        import torch
        import transformers
    except ImportError as e:
        raise SystemExit(f"hf.py needs torch and transformers: {e}")
    try:
        from transformers import FlexOlmoForCausalLM  # noqa: F401
    except ImportError:
        raise SystemExit(
            f"transformers {transformers.__version__} has no FlexOlmoForCausalLM (model_type flex_olmo); "
            "it needs a release with FlexOlmo support"
        )
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible to torch")

    dtypes = [d.strip() for d in a.dtypes.split(",") if d.strip()]
    for d in dtypes:
        if d not in ("fp32", "bf16"):
            raise SystemExit(f"--dtypes: unknown dtype {d!r} (fp32, bf16)")
    # fp32 means fp32: no TF32 tensor-core shortcut (TF.js computes in fp32 too).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    report = {
        "tool": "flexolmo-lab bench/gpu/hf.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "preset": a.preset,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else a.device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "tf32": False,
        "models": [],
    }
    for name in [m.strip() for m in a.models.split(",") if m.strip()]:
        d = os.path.join(a.checkpoints, name)
        if not os.path.isdir(d):
            print(f"hf.py: {d} missing; skipping {name}", file=sys.stderr)
            continue
        print(f"hf.py: measuring {name}", file=sys.stderr)
        report["models"].append(bench_one(d, name, a.batch, a.seq, a.reps, dtypes, a.device))

    if a.out:
        tmp = f"{a.out}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, a.out)
    ours = []
    for p in a.ours:
        with open(p) as f:
            ours.append(json.load(f))
    table = side_by_side(report, ours)
    print(table)
    if a.table:
        with open(a.table, "w") as f:
            f.write(table)
    return report


if __name__ == "__main__":
    main()
