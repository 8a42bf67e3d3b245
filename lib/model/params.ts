/**
 * Plain parameter objects: the model is pure functions `(params, x) => y` over these.
 *
 * Layout NOTE: every projection is stored as [in, out] so the forward pass is `x @ W` with no
 * transpose flags (TF.js's wasm matMul is ~10× slower with transposeA/B set). The Hugging Face
 * checkpoint layout is [out, in] (torch `nn.Linear`); `lib/io` transposes on save and load.
 * The router is the exception: it is kept as [E, C], one router row per expert, exactly HF's
 * `mlp.gate.weight`, because "one row per expert" is the unit FlexOlmo trains, merges and removes.
 *
 * `PARAM_SCHEMA` below is the one description of this tree: for every tensor, its field, its
 * Hugging Face name, its shape rule, its layout and how it starts. Everything that walks the tree
 * (names, slots, expected shapes, init, clone, averaging, checkpoint load and save, freezing) is
 * derived from it, so adding a tensor means adding one schema line and one typed field.
 */
import * as tf from "../tf";
import { headDim, type ModelConfig } from "./config";

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

// ---------------------------------------------------------------------------------------------
// The schema

/** How a fresh tensor is filled by `initParams`: N(0, INIT_STD²) truncated at ±3σ, all ones, or all zeros. */
export type ParamInit = "normal" | "ones" | "zeros";

/** Field names of `O` that hold a tensor / an array of sub-objects (so a schema line cannot name a missing field). */
type TensorKey<O> = { [K in keyof O]-?: O[K] extends tf.Tensor ? K : never }[keyof O] & string;
type ListKey<O> = { [K in keyof O]-?: O[K] extends readonly object[] ? K : never }[keyof O] & string;

/** One tensor field of an object in the tree. */
export interface TensorNode {
  kind: "tensor";
  key: string;
  /** HF name relative to the enclosing object's prefix. */
  name: string;
  /** Shape in our layout, from the config. */
  shape: (cfg: ModelConfig) => number[];
  transposed: boolean;
  hf: boolean;
  init: ParamInit;
}

/** An array of sub-objects (the layers, a layer's experts), each described by `children`. */
export interface ListNode {
  kind: "list";
  key: string;
  /** HF name prefix of element i, e.g. `model.layers.3.`. */
  prefix: (i: number) => string;
  /** Length implied by the config (a params object's own array lengths are used when walking one). */
  count: (cfg: ModelConfig) => number;
  children: readonly SchemaNode[];
}

export type SchemaNode = TensorNode | ListNode;

interface TensorOpts {
  /** We store [in, out], HF stores [out, in] (every Linear weight). */
  transposed?: boolean;
  /** false: HF has no place for it. */
  hf?: boolean;
  init?: ParamInit;
}

function tensor<O>(key: TensorKey<O>, name: string, shape: (cfg: ModelConfig) => number[], opts: TensorOpts = {}): TensorNode {
  return { kind: "tensor", key, name, shape, transposed: opts.transposed ?? false, hf: opts.hf ?? true, init: opts.init ?? "normal" };
}

function list<O>(key: ListKey<O>, prefix: (i: number) => string, count: (cfg: ModelConfig) => number, children: readonly SchemaNode[]): ListNode {
  return { kind: "list", key, prefix, count, children };
}

const LINEAR: TensorOpts = { transposed: true };
const NORM: TensorOpts = { init: "ones" }; // RMSNorm weights start at 1: the norm begins as a pure rescale
const qDim = (c: ModelConfig) => c.nHeads * headDim(c);
const kvDim = (c: ModelConfig) => c.nKvHeads * headDim(c);

const EXPERT_SCHEMA: readonly SchemaNode[] = [
  tensor<ExpertParams>("gate", "gate_proj.weight", (c) => [c.dModel, c.dFf], LINEAR), // [C, F]
  tensor<ExpertParams>("up", "up_proj.weight", (c) => [c.dModel, c.dFf], LINEAR), // [C, F]
  tensor<ExpertParams>("down", "down_proj.weight", (c) => [c.dFf, c.dModel], LINEAR), // [F, C]
];

const LAYER_SCHEMA: readonly SchemaNode[] = [
  tensor<LayerParams>("q", "self_attn.q_proj.weight", (c) => [c.dModel, qDim(c)], LINEAR), // [C, nHeads*hd]
  tensor<LayerParams>("k", "self_attn.k_proj.weight", (c) => [c.dModel, kvDim(c)], LINEAR), // [C, nKvHeads*hd]
  tensor<LayerParams>("v", "self_attn.v_proj.weight", (c) => [c.dModel, kvDim(c)], LINEAR), // [C, nKvHeads*hd]
  tensor<LayerParams>("o", "self_attn.o_proj.weight", (c) => [qDim(c), c.dModel], LINEAR), // [nHeads*hd, C]
  tensor<LayerParams>("qNorm", "self_attn.q_norm.weight", (c) => [qDim(c)], NORM), // [nHeads*hd]
  tensor<LayerParams>("kNorm", "self_attn.k_norm.weight", (c) => [kvDim(c)], NORM), // [nKvHeads*hd]
  tensor<LayerParams>("postAttnNorm", "post_attention_layernorm.weight", (c) => [c.dModel], NORM), // [C]
  tensor<LayerParams>("postFfnNorm", "post_feedforward_layernorm.weight", (c) => [c.dModel], NORM), // [C]
  // The router keeps HF's [E, C] (one row per expert), so it is not transposed.
  tensor<LayerParams>("router", "mlp.gate.weight", (c) => [c.experts.length, c.dModel]), // [E, C]
  // Starts at 0 so min(β, 0) adds nothing until trained; its values travel in our sidecar file.
  tensor<LayerParams>("expertBias", "mlp.expert_bias", (c) => [c.experts.length], { hf: false, init: "zeros" }), // [E]
  list<LayerParams>("experts", (j) => `mlp.experts.${j}.`, (c) => c.experts.length, EXPERT_SCHEMA),
];

/**
 * The parameter tree, in canonical order: the order of `paramEntries`, of checkpoint files and of
 * tensor creation. Each line's type argument checks that its field exists on the typed params.
 */
export const PARAM_SCHEMA: readonly SchemaNode[] = [
  tensor<ModelParams>("embed", "model.embed_tokens.weight", (c) => [c.vocabSize, c.dModel]), // [V, C]
  list<ModelParams>("layers", (i) => `model.layers.${i}.`, (c) => c.nLayers, LAYER_SCHEMA),
  tensor<ModelParams>("norm", "model.norm.weight", (c) => [c.dModel], NORM), // [C]
  tensor<ModelParams>("lmHead", "lm_head.weight", (c) => [c.dModel, c.vocabSize], LINEAR), // [C, V]  (HF [V, C])
];

/** One tensor of the tree, located: what every derived walk works from. */
export interface ParamSpec {
  /** Hugging Face name, e.g. `model.layers.0.mlp.experts.1.up_proj.weight`. */
  name: string;
  /** Shape in our layout for a config (the HF shape is its reverse when `transposed`). */
  shape: (cfg: ModelConfig) => number[];
  transposed: boolean;
  hf: boolean;
  init: ParamInit;
  /** Indices along the path: [] for top-level tensors, [layer] in a layer, [layer, expert] in an expert. */
  indices: readonly number[];
  get(p: ModelParams): tf.Tensor;
  set(p: ModelParams, t: tf.Tensor): void;
}

type Obj = Record<string, unknown>;
type Path = readonly (string | number)[];

/** A spec plus where its tensor lives (the object holding it, and the field). */
interface LocatedSpec extends ParamSpec {
  owner(p: ModelParams): Obj;
  key: string;
}

/** Follow a path of field names and array indices from the root. */
const resolve = (root: ModelParams, path: Path): unknown => path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], root);

function locate(n: TensorNode, prefix: string, path: Path, indices: readonly number[]): LocatedSpec {
  // `path` leads from the root to the object holding the tensor, e.g. ["layers", 2, "experts", 1].
  const owner = (p: ModelParams): Obj => resolve(p, path) as Obj;
  return {
    name: prefix + n.name,
    shape: n.shape,
    transposed: n.transposed,
    hf: n.hf,
    init: n.init,
    indices,
    key: n.key,
    owner,
    get: (p) => owner(p)[n.key] as tf.Tensor,
    set: (p, t) => void (owner(p)[n.key] = t),
  };
}

/** How long each list is: from a config, or from an existing params object's arrays. */
type LengthOf = (n: ListNode, path: Path) => number;
const lengthsOfConfig = (cfg: ModelConfig): LengthOf => (n) => n.count(cfg);
const lengthsOfParams = (p: ModelParams): LengthOf => (n, path) => (resolve(p, [...path, n.key]) as unknown[]).length;

/**
 * The one walk over the schema: builds a tree whose tensors are `leaf(spec)`, calling `leaf` in
 * canonical order. Objects get their fields in schema order, so built trees look like hand-written ones.
 */
function walk(lengthOf: LengthOf, leaf: (s: LocatedSpec) => unknown): unknown {
  const build = (nodes: readonly SchemaNode[], prefix: string, path: Path, indices: readonly number[]): Obj => {
    const o: Obj = {};
    for (const n of nodes) {
      if (n.kind === "tensor") o[n.key] = leaf(locate(n, prefix, path, indices));
      else o[n.key] = Array.from({ length: lengthOf(n, path) }, (_, i) => build(n.children, prefix + n.prefix(i), [...path, n.key, i], [...indices, i]));
    }
    return o;
  };
  return build(PARAM_SCHEMA, "", [], []);
}

/** The flat spec list (the tree `walk` builds on the way is only a by-product here). */
function flatten(lengthOf: LengthOf): LocatedSpec[] {
  const out: LocatedSpec[] = [];
  walk(lengthOf, (s) => out.push(s));
  return out;
}

/** Every tensor a config implies, in canonical order. */
export function paramSchema(cfg: ModelConfig): ParamSpec[] {
  return flatten(lengthsOfConfig(cfg));
}

/** Every tensor a params object holds (its own layer and expert counts), in canonical order. */
function specsOf(p: ModelParams): LocatedSpec[] {
  return flatten(lengthsOfParams(p));
}

/** A new params object for a config; `make` is called once per tensor, in canonical order. */
export function buildParams(cfg: ModelConfig, make: (s: ParamSpec) => tf.Tensor): ModelParams {
  return walk(lengthsOfConfig(cfg), make) as ModelParams;
}

/**
 * A new params object whose every tensor is `f` of the same tensor in each input (same names and
 * order as `ps[0]`; the inputs must share its structure). Averaging, cloning and any other
 * tensor-wise arithmetic over parameter trees go through here.
 */
export function mapParams(ps: readonly ModelParams[], f: (ts: tf.Tensor[], s: ParamSpec) => tf.Tensor): ModelParams {
  if (ps.length === 0) throw new Error("mapParams: no parameter sets given.");
  return walk(lengthsOfParams(ps[0]), (s) => f(ps.map((p) => s.get(p)), s)) as ModelParams;
}

// ---------------------------------------------------------------------------------------------
// Derived views

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
  return specsOf(p).map((s) => ({ name: s.name, tensor: s.get(p), transposed: s.transposed, hf: s.hf }));
}

/** A named place in a parameter object that can be read and replaced (used by the trainer). */
export interface ParamSlot {
  name: string;
  get(): tf.Tensor;
  set(t: tf.Tensor): void;
}

/**
 * Every parameter as a readable/writable slot, same names and order as `paramEntries`. The trainer
 * replaces tensors through these (tensors are immutable; an update makes a new one). A slot is bound
 * to the object holding its tensor when the slots are made.
 */
export function paramSlots(p: ModelParams): ParamSlot[] {
  return specsOf(p).map((s) => {
    const o = s.owner(p);
    return { name: s.name, get: () => o[s.key] as tf.Tensor, set: (t: tf.Tensor) => void (o[s.key] = t) };
  });
}

/** Expected shape of every canonical parameter, for checking loaded or hand-built params. */
export function expectedShapes(cfg: ModelConfig): Map<string, number[]> {
  return new Map(paramSchema(cfg).map((s) => [s.name, s.shape(cfg)]));
}

/** Throw a clear error if params do not match the config (layer count, expert count, shapes, dtype). */
export function checkParamsMatch(params: ModelParams, cfg: ModelConfig): void {
  if (params.layers.length !== cfg.nLayers) throw new Error(`params have ${params.layers.length} layers but the config says nLayers = ${cfg.nLayers}`);
  const want = expectedShapes(cfg);
  for (const { name, tensor } of paramEntries(params)) {
    const s = want.get(name);
    if (!s) throw new Error(`params have a tensor "${name}" that the config does not describe (experts: ${cfg.experts.length})`);
    if (tensor.isDisposed) throw new Error(`parameter "${name}" has been disposed`);
    if (tensor.shape.join() !== s.join()) throw new Error(`parameter "${name}" has shape [${tensor.shape}] but the config implies [${s}] (our layout is [in, out])`);
    if (tensor.dtype !== "float32") throw new Error(`parameter "${name}" must be float32 (got ${tensor.dtype})`);
    want.delete(name);
  }
  if (want.size) throw new Error(`params are missing ${want.size} tensor(s), e.g. "${[...want.keys()][0]}"`);
}

/** Dispose every tensor in a parameter object. */
export function disposeParams(p: ModelParams): void {
  for (const e of paramEntries(p)) if (!e.tensor.isDisposed) e.tensor.dispose();
}

/** Deep copy (new tensors), e.g. to keep a snapshot before training. */
export function cloneParams(p: ModelParams): ModelParams {
  return mapParams([p], ([t]) => tf.clone(t));
}
