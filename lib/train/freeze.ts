/**
 * Which parameters train, down to single rows inside a tensor.
 *
 * FlexOlmo trains, per data owner, only: expert i's FFN in every layer, router row i of
 * `mlp.gate.weight` (row 0, the public expert's, stays frozen), and the expert bias β_i. Everything
 * else is frozen and must stay *bit-identical*, because the merge asserts it (docs/method.md §1.2).
 *
 * A `FreezeSpec` names parameters by their canonical (Hugging Face) names from `paramEntries`:
 *   trainable: globs or a predicate — tensors that train (default: all).
 *   frozen:    globs or a predicate — removed from the trainable set (applied after `trainable`).
 *   rows:      glob → indices along the FIRST axis of our tensor that train; the other rows are
 *              frozen. Matching tensors become trainable. For the router [E, C] and expert bias [E]
 *              these are expert indices. (Our projections are stored [in, out], so a "row" there is
 *              an input feature, not HF's output row.)
 *   masks:     exact name → element mask (length = tensor size, row-major our layout; 1/true = trains).
 * Globs: `*` matches any run of characters (dots included), `?` one character.
 */
import * as tf from "../tf";
import type { ModelConfig } from "../model/config";
import { ModelParams, ParamSlot, paramSlots } from "../model/params";

export type ParamSelector = string | string[] | ((name: string) => boolean);

export interface FreezeSpec {
  trainable?: ParamSelector;
  frozen?: ParamSelector;
  rows?: Record<string, number[]>;
  masks?: Record<string, ArrayLike<number | boolean>>;
}

/** One trainable tensor: where it lives, and (if only part of it trains) its 0/1 element mask. */
export interface TrainableSlot extends ParamSlot {
  /** 1 where the element trains, 0 where frozen; undefined = the whole tensor trains. */
  mask?: Float32Array;
  /** Number of elements that train. */
  trainableCount: number;
}

export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`);
}

function toPredicate(sel: ParamSelector, what: string, names: string[]): (name: string) => boolean {
  if (typeof sel === "function") return sel;
  const globs = Array.isArray(sel) ? sel : [sel];
  const res = globs.map((g) => {
    if (typeof g !== "string" || g.length === 0) throw new Error(`${what}: patterns must be non-empty strings (got ${JSON.stringify(g)})`);
    const re = globToRegExp(g);
    if (!names.some((n) => re.test(n))) {
      throw new Error(`${what}: pattern "${g}" matches no parameter. Names look like "${names[1] ?? names[0]}", "model.layers.0.mlp.experts.1.up_proj.weight", "model.layers.0.mlp.gate.weight"`);
    }
    return re;
  });
  return (name) => res.some((re) => re.test(name));
}

/** Resolve a spec against a parameter object into the list of trainable slots (in canonical order). */
export function resolveTrainable(params: ModelParams, spec: FreezeSpec = {}): TrainableSlot[] {
  const slots = paramSlots(params);
  const names = slots.map((s) => s.name);
  const isTrainable = spec.trainable === undefined ? () => true : toPredicate(spec.trainable, "trainable", names);
  const isFrozen = spec.frozen === undefined ? () => false : toPredicate(spec.frozen, "frozen", names);
  const rowRules = Object.entries(spec.rows ?? {}).map(([g, rows]) => {
    const re = globToRegExp(g);
    if (!names.some((n) => re.test(n))) throw new Error(`rows: pattern "${g}" matches no parameter`);
    if (!Array.isArray(rows)) throw new Error(`rows["${g}"] must be an array of row indices`);
    return { glob: g, re, rows };
  });
  for (const n of Object.keys(spec.masks ?? {})) if (!names.includes(n)) throw new Error(`masks: no parameter named "${n}" (masks take exact names)`);

  const out: TrainableSlot[] = [];
  for (const slot of slots) {
    const t = slot.get();
    const size = t.size;
    const rules = rowRules.filter((r) => r.re.test(slot.name));
    const elemMask = spec.masks?.[slot.name];
    const selected = (isTrainable(slot.name) || rules.length > 0 || elemMask !== undefined) && !isFrozen(slot.name);
    if (!selected) continue;
    let mask: Float32Array | undefined;
    if (rules.length) {
      mask = new Float32Array(size);
      const rowLen = size / t.shape[0];
      for (const r of rules) {
        for (const row of r.rows) {
          if (!Number.isInteger(row) || row < 0 || row >= t.shape[0]) {
            throw new Error(`rows["${r.glob}"]: row ${row} is out of range for "${slot.name}" with shape [${t.shape}] (rows index the first axis: 0..${t.shape[0] - 1})`);
          }
          mask.fill(1, row * rowLen, (row + 1) * rowLen);
        }
      }
    }
    if (elemMask !== undefined) {
      if (elemMask.length !== size) throw new Error(`masks["${slot.name}"] has ${elemMask.length} entries but the tensor has ${size} elements (shape [${t.shape}])`);
      const m = new Float32Array(size);
      for (let i = 0; i < size; i++) m[i] = elemMask[i] ? 1 : 0;
      if (mask) for (let i = 0; i < size; i++) mask[i] *= m[i]; // both given: an element trains only if both allow it
      else mask = m;
    }
    let count = size;
    if (mask) {
      count = 0;
      for (let i = 0; i < size; i++) count += mask[i];
      if (count === size) mask = undefined; // the whole tensor trains: skip the masking work
    }
    if (count === 0) continue; // nothing in it trains
    out.push({ ...slot, mask, trainableCount: count });
  }
  if (out.length === 0) throw new Error("No parameter is trainable under this freeze spec (check `trainable`, `frozen` and `rows`)");
  return out;
}

/**
 * FlexOlmo's owner-expert recipe (docs/method.md §2.3, §3 step 4): in every layer train expert `e`'s FFN, router
 * row `e` and expert-bias entry `e`; freeze everything else, including the public expert (index 0)
 * and its router row.
 */
export function ownerExpertSpec(cfg: ModelConfig, expert: number | string): FreezeSpec {
  const e = typeof expert === "number" ? expert : cfg.experts.indexOf(expert);
  if (!Number.isInteger(e) || e < 0 || e >= cfg.experts.length) throw new Error(`ownerExpertSpec: unknown expert ${JSON.stringify(expert)} (experts: ${cfg.experts.join(", ")})`);
  if (e === 0) throw new Error("ownerExpertSpec: expert 0 is the public expert, which FlexOlmo owners never train; pick an owner expert (index ≥ 1)");
  return {
    trainable: [`model.layers.*.mlp.experts.${e}.*`],
    rows: { "model.layers.*.mlp.gate.weight": [e], "model.layers.*.mlp.expert_bias": [e] },
  };
}

/**
 * An owner's router row `e` and bias entry `e` alone (the lab recipe's router calibration on public
 * text, docs/method.md §12): its FFN, r_pub and everything else frozen. `bias: false` keeps β fixed
 * (the no-bias ablation).
 */
export function ownerRouterSpec(cfg: ModelConfig, expert: number, bias = true): FreezeSpec {
  const base = ownerExpertSpec(cfg, expert);
  return bias
    ? { trainable: ["model.layers.*.mlp.gate.weight", "model.layers.*.mlp.expert_bias"], rows: base.rows }
    : { trainable: ["model.layers.*.mlp.gate.weight"], rows: { "model.layers.*.mlp.gate.weight": [expert] } };
}

/** Router-only tuning (docs/method.md §4.2 "RT"): every router row and bias trains; experts and trunk frozen. */
export function routerTuningSpec(): FreezeSpec {
  return { trainable: ["model.layers.*.mlp.gate.weight", "model.layers.*.mlp.expert_bias"] };
}

/** Mask tensors for the slots that have masks (caller disposes). */
export function maskTensors(slots: TrainableSlot[]): Map<string, tf.Tensor> {
  const m = new Map<string, tf.Tensor>();
  for (const s of slots) if (s.mask) m.set(s.name, tf.tensor(s.mask, s.get().shape, "float32"));
  return m;
}
