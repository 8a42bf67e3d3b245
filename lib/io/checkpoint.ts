/**
 * Checkpoint directories in the Hugging Face layout, so a model trained here opens in
 * `transformers.FlexOlmoForCausalLM.from_pretrained(dir)` and a FlexOlmo checkpoint from elsewhere
 * opens here:
 *
 *   config.json              FlexOlmoConfig fields (lib/io/hf-config.ts)
 *   model.safetensors        the released FlexOlmo tensor names; Linear weights stored [out, in]
 *   flexolmo.json            our sidecar: what HF has no place for (expert names, data cards,
 *                            expert-bias values, provenance, training step, free-form metadata)
 *   optimizer.safetensors    optional AdamW moments `<name>.m` / `<name>.v`, step in __metadata__
 *
 * Saves are atomic: everything is written into a temporary sibling directory, fsynced, then swapped
 * into place (old aside → new in → old removed), so an interrupted save leaves the previous
 * checkpoint intact. Loads validate every tensor name, shape and dtype against config.json.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type ModelConfig, validateConfig } from "../model/config";
import { paramCount } from "../model/model";
import type { ModelParams } from "../model/params";
import { buildParams, paramEntries, paramSchema } from "../model/params";
import { type HfExtras, fromHfConfig, toHfConfig } from "./hf-config";
import { type LoadedTensor, type TensorInfo, type WriteEntry, readSafetensors, readSafetensorsHeader, writeSafetensors } from "./safetensors";

export const CHECKPOINT_FILES = {
  config: "config.json",
  weights: "model.safetensors",
  index: "model.safetensors.index.json",
  sidecar: "flexolmo.json",
  optimizer: "optimizer.safetensors",
} as const;

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** The sidecar, decoded. */
export interface CheckpointSidecar {
  /** Expert names in router-row order (index 0 = public). */
  experts: string[];
  /** One opaque JSON data card per expert (null when none). */
  dataCards: unknown[];
  /** [layer][expert] raw expert-bias values β (entry 0, the public expert, is never used). */
  expertBias: number[][];
  /** Where the weights came from (free-form: run id, parent checkpoints, git commit, …). */
  provenance: Record<string, unknown> | null;
  /** Training step the weights are from, when known. */
  step: number | null;
  metadata: Record<string, unknown>;
  /** false when the directory had no flexolmo.json (a checkpoint written by another program). */
  present: boolean;
}

/** What a caller may put in the sidecar; names and biases come from the config and params. */
export interface SidecarInput {
  /** By expert name, or an array in router-row order. */
  dataCards?: Record<string, unknown> | unknown[];
  provenance?: Record<string, unknown> | null;
  step?: number | null;
  metadata?: Record<string, unknown>;
}

export interface OptimizerState {
  step: number;
  /** AdamW moments keyed `<param name>.m` / `<param name>.v` (our [in, out] layout). */
  tensors: Record<string, tf.Tensor>;
}

export interface SaveOptions {
  config: ModelConfig;
  params: ModelParams;
  sidecar?: SidecarInput;
  /**
   * AdamW state to store next to the weights. When omitted, an optimizer.safetensors already in
   * `dir` is dropped: moments from other weights would silently corrupt a resumed run.
   */
  optimizer?: OptimizerState;
  /** config.json fields that do not affect the forward pass (token ids, …). */
  hf?: Partial<HfExtras>;
  /** On-disk dtype of model.safetensors. BF16 halves the size but rounds every weight. Default F32. */
  dtype?: "F32" | "BF16";
}

export interface SaveReport {
  dir: string;
  bytes: number;
  ms: number;
}

export interface LoadedCheckpoint {
  config: ModelConfig;
  params: ModelParams;
  sidecar: CheckpointSidecar;
  optimizer?: OptimizerState;
  hf: HfExtras;
  source: CheckpointSource;
}

export interface CheckpointSource {
  dir: string;
  /** Weight files read, relative to dir. */
  files: string[];
  /** How many tensors of each on-disk dtype. */
  dtypes: Record<string, number>;
  sharded: boolean;
  /** True when the experts were stored fused (transformers ≥ 5: `mlp.experts.gate_up_proj`). */
  fusedExperts: boolean;
}

export interface CheckpointInfo {
  config: ModelConfig;
  sidecar: CheckpointSidecar;
  hf: HfExtras;
  source: CheckpointSource;
  /** Parameter counts implied by the config (`paramCount`): total, active per token, in the HF file. */
  params: { total: number; active: number; hf: number };
  /** Element counts from the safetensors headers (no tensor is read); hfParams equals params.hf. */
  counts: { hfTensors: number; hfParams: number; expertBias: number };
  optimizer: { step: number; tensors: number } | null;
}

// ---------------------------------------------------------------------------------------------
// The expected tensor list (single source: shapes derived from the config)
// ---------------------------------------------------------------------------------------------

export interface ExpectedTensor {
  name: string;
  /** Shape in our [in, out] layout (what `ModelParams` holds). */
  shape: number[];
  /** Shape on disk in the HF layout. */
  hfShape: number[];
  transposed: boolean;
  /** false: HF has no place for it (the expert bias lives in the sidecar). */
  hf: boolean;
}

/**
 * Every parameter the config implies, with names and order identical to `paramEntries` (both come
 * from the parameter schema), so loading can validate before allocating a single tensor.
 */
export function expectedTensors(cfg: ModelConfig): ExpectedTensor[] {
  return paramSchema(cfg).map((s) => {
    const shape = s.shape(cfg);
    return { name: s.name, shape, hfShape: s.transposed ? [shape[1], shape[0]] : shape, transposed: s.transposed, hf: s.hf };
  });
}

/** [rows, cols] row-major → [cols, rows] row-major. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c];
  }
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

// ---------------------------------------------------------------------------------------------
// Sidecar encoding
// ---------------------------------------------------------------------------------------------

/** JSON has no NaN/±Infinity/-0; spell those as strings so bias values round-trip bit-exactly. */
function encodeFloat(x: number): number | string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (Object.is(x, -0)) return "-0";
  return x; // a float32 printed as the shortest double that round-trips: exact
}

function decodeFloat(v: unknown, where: string): number {
  if (typeof v === "number") return v;
  const special: Record<string, number> = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, "-0": -0 };
  if (typeof v === "string" && v in special) return special[v];
  throw new CheckpointError(`${where}: expected a number, got ${JSON.stringify(v)}`);
}

interface SidecarFile {
  format: "flexolmo-sidecar";
  version: 1;
  experts: { name: string; data_card: unknown }[];
  expert_bias: (number | string)[][];
  provenance: Record<string, unknown> | null;
  step: number | null;
  metadata: Record<string, unknown>;
}

function dataCardsFor(experts: string[], input: SidecarInput["dataCards"]): unknown[] {
  if (input === undefined) return experts.map(() => null);
  if (Array.isArray(input)) {
    if (input.length !== experts.length) throw new CheckpointError(`sidecar.dataCards has ${input.length} entries but the model has ${experts.length} experts (${experts.join(", ")})`);
    return input.map((c) => c ?? null);
  }
  for (const k of Object.keys(input)) {
    if (!experts.includes(k)) throw new CheckpointError(`sidecar.dataCards names expert "${k}", which is not one of the model's experts (${experts.join(", ")})`);
  }
  return experts.map((n) => input[n] ?? null);
}

function parseSidecar(raw: unknown, file: string, cfg: ModelConfig): CheckpointSidecar {
  const fail = (m: string): never => {
    throw new CheckpointError(`${file}: ${m}`);
  };
  if (raw === null || typeof raw !== "object") fail("must contain a JSON object");
  const s = raw as Partial<SidecarFile>;
  if (s.format !== "flexolmo-sidecar") fail(`"format" must be "flexolmo-sidecar" (got ${JSON.stringify(s.format)})`);
  if (s.version !== 1) fail(`unsupported sidecar version ${JSON.stringify(s.version)} (this build reads version 1)`);
  if (!Array.isArray(s.experts) || s.experts.some((e) => !e || typeof e.name !== "string")) fail(`"experts" must be an array of { name, data_card }`);
  const names = s.experts!.map((e) => e.name);
  const E = names.length;
  const bias = s.expert_bias ?? [];
  if (!Array.isArray(bias) || (bias.length !== 0 && bias.length !== cfg.nLayers)) fail(`"expert_bias" must have one row per layer (${cfg.nLayers}), got ${Array.isArray(bias) ? bias.length : typeof bias}`);
  const expertBias = bias.length
    ? bias.map((row, l) => {
        if (!Array.isArray(row) || row.length !== E) fail(`"expert_bias"[${l}] must have ${E} values (one per expert), got ${Array.isArray(row) ? row.length : typeof row}`);
        return row.map((v, e) => decodeFloat(v, `${file}: expert_bias[${l}][${e}]`));
      })
    : Array.from({ length: cfg.nLayers }, () => new Array<number>(E).fill(0));
  if (s.step !== undefined && s.step !== null && !(typeof s.step === "number" && Number.isFinite(s.step))) fail(`"step" must be a number or null`);
  return {
    experts: names,
    dataCards: s.experts!.map((e) => e.data_card ?? null),
    expertBias,
    provenance: (s.provenance as Record<string, unknown> | null | undefined) ?? null,
    step: s.step ?? null,
    metadata: (s.metadata as Record<string, unknown> | undefined) ?? {},
    present: true,
  };
}

function defaultSidecar(cfg: ModelConfig): CheckpointSidecar {
  return {
    experts: cfg.experts.slice(),
    dataCards: cfg.experts.map(() => null),
    expertBias: Array.from({ length: cfg.nLayers }, () => new Array<number>(cfg.experts.length).fill(0)),
    provenance: null,
    step: null,
    metadata: {},
    present: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Atomic directory replacement
// ---------------------------------------------------------------------------------------------

function fsyncPath(p: string): void {
  // Directory fsync makes the renames durable on Linux; some platforms refuse to open a directory.
  let fd: number | undefined;
  try {
    fd = fs.openSync(p, "r");
    fs.fsyncSync(fd);
  } catch {
    /* best effort: not supported on this platform / filesystem */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeFileDurable(file: string, text: string): void {
  const fd = fs.openSync(file, "w");
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Files a save writes or makes stale; anything else in an existing checkpoint dir is carried over. */
function isOwnedFile(name: string): boolean {
  return (
    name === CHECKPOINT_FILES.config ||
    name === CHECKPOINT_FILES.sidecar ||
    name === CHECKPOINT_FILES.optimizer ||
    name === CHECKPOINT_FILES.index ||
    /^model(-\d+-of-\d+)?\.safetensors$/.test(name)
  );
}

/**
 * Fill a fresh temporary sibling of `target`, then swap it into place. On any error before the
 * swap the temporary directory is removed and `target` is untouched.
 */
function replaceDirAtomically(target: string, fill: (tmp: string) => void): void {
  const parent = path.dirname(target);
  const base = path.basename(target);
  fs.mkdirSync(parent, { recursive: true });
  let existing: fs.Stats | undefined;
  try {
    existing = fs.statSync(target);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isDirectory()) throw new CheckpointError(`${target} exists and is not a directory; choose another checkpoint path`);
  const oldEntries = existing ? fs.readdirSync(target) : [];
  if (existing && oldEntries.length > 0 && !oldEntries.includes(CHECKPOINT_FILES.config)) {
    throw new CheckpointError(
      `${target} is a non-empty directory without config.json; refusing to replace it with a checkpoint ` +
        `(that would delete its contents). Choose an empty or new directory.`,
    );
  }
  const tag = `${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  const tmp = path.join(parent, `.${base}.saving-${tag}`);
  const old = path.join(parent, `.${base}.old-${tag}`);
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    // Keep files we do not own (tokenizer.json, README.md, generation_config.json, …).
    for (const name of oldEntries) {
      if (!isOwnedFile(name)) fs.cpSync(path.join(target, name), path.join(tmp, name), { recursive: true, preserveTimestamps: true });
    }
    fsyncPath(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  let movedOld = false;
  try {
    if (existing) {
      fs.renameSync(target, old);
      movedOld = true;
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    if (movedOld && !fs.existsSync(target)) fs.renameSync(old, target);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new CheckpointError(`could not move the new checkpoint into ${target}: ${(e as Error).message}`);
  }
  fsyncPath(parent);
  if (movedOld) fs.rmSync(old, { recursive: true, force: true });
}

/** Leftovers of an interrupted save next to `dir` (for error messages). */
function interruptedSaveHint(dir: string): string {
  const parent = path.dirname(dir);
  const base = path.basename(dir);
  let siblings: string[] = [];
  try {
    siblings = fs.readdirSync(parent);
  } catch {
    return "";
  }
  const old = siblings.filter((s) => s.startsWith(`.${base}.old-`));
  const saving = siblings.filter((s) => s.startsWith(`.${base}.saving-`));
  if (!old.length && !saving.length) return "";
  const list = [...old, ...saving].map((s) => path.join(parent, s)).join(", ");
  return ` A save into this path was interrupted; the previous checkpoint (.old-*) or the unfinished new one (.saving-*) is at: ${list}.`;
}

// ---------------------------------------------------------------------------------------------
// Save
// ---------------------------------------------------------------------------------------------

/** Check that params match the config exactly (shapes, expert count) before writing anything. */
function checkParamsAgainstConfig(cfg: ModelConfig, params: ModelParams): void {
  const expected = expectedTensors(cfg);
  const got = paramEntries(params);
  const problems: string[] = [];
  if (got.length !== expected.length) problems.push(`params have ${got.length} tensors but the config implies ${expected.length} (experts: ${cfg.experts.length}, layers: ${cfg.nLayers})`);
  for (let i = 0; i < Math.min(got.length, expected.length); i++) {
    const g = got[i];
    const e = expected[i];
    if (g.name !== e.name) {
      problems.push(`tensor #${i} is "${g.name}" but the config expects "${e.name}"`);
      break;
    }
    if (!sameShape(g.tensor.shape, e.shape)) problems.push(`${g.name}: shape [${g.tensor.shape}] but the config implies [${e.shape}]`);
    if (g.tensor.dtype !== "float32") problems.push(`${g.name}: dtype ${g.tensor.dtype}, expected float32`);
  }
  if (problems.length) throw new CheckpointError(`cannot save: params do not match the config:\n  - ${problems.slice(0, 20).join("\n  - ")}`);
}

/** Values of a tensor as Float32Array (throws the TF.js error if the tensor was disposed). */
function floatData(name: string, t: tf.Tensor): Float32Array {
  const d = t.dataSync();
  if (!(d instanceof Float32Array)) throw new CheckpointError(`${name}: expected float32 data, got ${t.dtype}`);
  return d;
}

/**
 * Save a checkpoint into `dir` (created if needed, replaced atomically if it exists).
 * Every tensor is read with `dataSync` one at a time while the file is being written.
 */
export async function saveCheckpoint(dir: string, opts: SaveOptions): Promise<SaveReport> {
  const t0 = performance.now();
  const { config: cfg, params } = opts;
  validateConfig(cfg);
  checkParamsAgainstConfig(cfg, params);
  const dtype = opts.dtype ?? "F32";
  const entries = paramEntries(params);
  const hfConfig = toHfConfig(cfg, opts.hf ?? {}, dtype === "BF16" ? "bfloat16" : "float32");

  const s = opts.sidecar ?? {};
  const cards = dataCardsFor(cfg.experts, s.dataCards);
  const sidecar: SidecarFile = {
    format: "flexolmo-sidecar",
    version: 1,
    experts: cfg.experts.map((name, i) => ({ name, data_card: cards[i] })),
    expert_bias: params.layers.map((l) => Array.from(floatData("expertBias", l.expertBias), encodeFloat)),
    provenance: s.provenance ?? null,
    step: s.step ?? null,
    metadata: s.metadata ?? {},
  };

  const weights: WriteEntry[] = entries
    .filter((e) => e.hf)
    .map((e) => {
      const shape = e.tensor.shape as number[];
      return {
        name: e.name,
        dtype,
        shape: e.transposed ? [shape[1], shape[0]] : shape.slice(), // HF Linear layout [out, in]
        data: () => {
          const d = floatData(e.name, e.tensor);
          return e.transposed ? transpose2d(d, shape[0], shape[1]) : d;
        },
      };
    });

  let optEntries: WriteEntry[] | undefined;
  if (opts.optimizer) {
    const { step, tensors } = opts.optimizer;
    if (!Number.isFinite(step)) throw new CheckpointError(`optimizer.step must be a finite number (got ${step})`);
    optEntries = Object.entries(tensors).map(([name, t]) => {
      if (t.dtype !== "float32" && t.dtype !== "int32") throw new CheckpointError(`optimizer tensor "${name}": dtype ${t.dtype} cannot be saved (float32 or int32 only)`);
      return { name, shape: t.shape.slice(), dtype: t.dtype === "int32" ? ("I32" as const) : ("F32" as const), data: () => t.dataSync() as Float32Array | Int32Array };
    });
  }

  const target = path.resolve(dir);
  replaceDirAtomically(target, (tmp) => {
    writeFileDurable(path.join(tmp, CHECKPOINT_FILES.config), JSON.stringify(hfConfig, null, 2) + "\n");
    writeSafetensors(path.join(tmp, CHECKPOINT_FILES.weights), weights, { format: "pt" }); // "pt": what HF's loader expects
    writeFileDurable(path.join(tmp, CHECKPOINT_FILES.sidecar), JSON.stringify(sidecar, null, 2) + "\n");
    if (optEntries) {
      writeSafetensors(path.join(tmp, CHECKPOINT_FILES.optimizer), optEntries, { step: String(opts.optimizer!.step), layout: "flexolmo [in, out]" });
    }
  });
  const bytes = fs.readdirSync(target).reduce((acc, f) => acc + fs.statSync(path.join(target, f)).size, 0);
  return { dir: target, bytes, ms: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf-8");
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read ${what} (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file}: ${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** config.json + sidecar, with the friendly errors for "this is not a checkpoint". */
function readConfigAndSidecar(dir: string): { config: ModelConfig; hf: HfExtras; sidecar: CheckpointSidecar } {
  if (!fs.existsSync(dir)) throw new CheckpointError(`${dir}: checkpoint directory does not exist.${interruptedSaveHint(dir)}`);
  if (!fs.statSync(dir).isDirectory()) throw new CheckpointError(`${dir}: not a directory (a checkpoint is a directory with config.json and model.safetensors)`);
  const cfgFile = path.join(dir, CHECKPOINT_FILES.config);
  if (!fs.existsSync(cfgFile)) {
    throw new CheckpointError(
      `${dir}: missing config.json, so this is not a checkpoint directory (expected config.json + model.safetensors, ` +
        `as written by saveCheckpoint or transformers' save_pretrained).${interruptedSaveHint(dir)}`,
    );
  }
  const rawCfg = readJson(cfgFile, "config.json");
  const sideFile = path.join(dir, CHECKPOINT_FILES.sidecar);
  let names: string[] | undefined;
  let rawSide: unknown;
  if (fs.existsSync(sideFile)) {
    rawSide = readJson(sideFile, "the flexolmo.json sidecar");
    const exp = (rawSide as { experts?: { name?: unknown }[] })?.experts;
    if (Array.isArray(exp)) names = exp.map((e) => String(e?.name));
  }
  let parsed: { config: ModelConfig; extras: HfExtras };
  try {
    parsed = fromHfConfig(rawCfg, cfgFile, names);
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  const sidecar = rawSide === undefined ? defaultSidecar(parsed.config) : parseSidecar(rawSide, sideFile, parsed.config);
  return { config: parsed.config, hf: parsed.extras, sidecar };
}

/** The weight files of a checkpoint: one model.safetensors, or the shards an index names. */
function weightFiles(dir: string): { files: string[]; sharded: boolean; weightMap?: Record<string, string> } {
  const single = path.join(dir, CHECKPOINT_FILES.weights);
  if (fs.existsSync(single)) return { files: [CHECKPOINT_FILES.weights], sharded: false };
  const indexFile = path.join(dir, CHECKPOINT_FILES.index);
  if (fs.existsSync(indexFile)) {
    const idx = readJson(indexFile, "the safetensors shard index") as { weight_map?: Record<string, unknown> };
    const map = idx?.weight_map;
    if (!map || typeof map !== "object") throw new CheckpointError(`${indexFile}: missing "weight_map" object`);
    const files = [...new Set(Object.values(map))];
    for (const f of files) {
      if (typeof f !== "string" || f.includes("/") || f.includes("\\")) throw new CheckpointError(`${indexFile}: weight_map names an invalid shard file ${JSON.stringify(f)}`);
      if (!fs.existsSync(path.join(dir, f))) throw new CheckpointError(`${indexFile}: shard "${f}" is listed but missing from ${dir}`);
    }
    return { files: files as string[], sharded: true, weightMap: map as Record<string, string> };
  }
  if (fs.existsSync(path.join(dir, "pytorch_model.bin"))) {
    throw new CheckpointError(`${dir}: only pytorch_model.bin found; this reader needs safetensors (re-save with save_pretrained(safe_serialization=True))`);
  }
  throw new CheckpointError(`${dir}: missing model.safetensors (and no model.safetensors.index.json for a sharded checkpoint)`);
}

/** Tensors the HF loader regenerates or ignores; a checkpoint may contain them harmlessly. */
const IGNORABLE = /\.rotary_emb\.inv_freq$/;

/** All tensor headers across the weight files: name → (file, info). */
function collectHeaders(dir: string, files: string[]): Map<string, { file: string; info: TensorInfo }> {
  const out = new Map<string, { file: string; info: TensorInfo }>();
  for (const f of files) {
    const h = readSafetensorsHeader(path.join(dir, f));
    for (const [name, info] of h.tensors) {
      if (out.has(name)) throw new CheckpointError(`${dir}: tensor "${name}" appears in both ${out.get(name)!.file} and ${f}`);
      out.set(name, { file: f, info });
    }
  }
  return out;
}

/**
 * Compare what the files hold with what the config implies, before reading any tensor data.
 * Returns whether the experts are stored fused (transformers ≥ 5 layout).
 */
function validateHeaders(dir: string, cfg: ModelConfig, hf: HfExtras, headers: Map<string, { file: string; info: TensorInfo }>): { fused: boolean; tiedHead: boolean } {
  const problems: string[] = [];
  const expected = expectedTensors(cfg).filter((e) => e.hf);
  const fused = headers.has("model.layers.0.mlp.experts.gate_up_proj");
  const E = cfg.experts.length;
  const want = new Map<string, number[]>();
  for (const e of expected) {
    if (fused && /\.mlp\.experts\.\d+\./.test(e.name)) continue;
    want.set(e.name, e.hfShape);
  }
  if (fused) {
    for (let i = 0; i < cfg.nLayers; i++) {
      want.set(`model.layers.${i}.mlp.experts.gate_up_proj`, [E, 2 * cfg.dFf, cfg.dModel]); // [E, 2F, C]: gate rows then up rows
      want.set(`model.layers.${i}.mlp.experts.down_proj`, [E, cfg.dModel, cfg.dFf]); // [E, C, F]
    }
  }
  let tiedHead = false;
  if (!headers.has("lm_head.weight") && hf.tieWordEmbeddings) {
    want.delete("lm_head.weight"); // tied: lm_head = embed_tokens (we untie on load)
    tiedHead = true;
  }
  const floatDtypes = new Set(["F32", "BF16", "F16", "F64"]);
  for (const [name, shape] of want) {
    const h = headers.get(name);
    if (!h) {
      problems.push(`missing tensor "${name}" (expected shape [${shape}])`);
      continue;
    }
    if (!floatDtypes.has(h.info.dtype)) problems.push(`tensor "${name}" in ${h.file} has dtype ${h.info.dtype}; expected a float dtype (F32, BF16, F16)`);
    if (!sameShape(h.info.shape, shape)) problems.push(`tensor "${name}" in ${h.file} has shape [${h.info.shape}] but config.json implies [${shape}] (HF [out, in] layout)`);
  }
  for (const [name, h] of headers) {
    if (!want.has(name) && !IGNORABLE.test(name)) problems.push(`unexpected tensor "${name}" in ${h.file} (not part of a FlexOlmo model with this config.json)`);
  }
  if (problems.length) {
    const more = problems.length > 25 ? `\n  … and ${problems.length - 25} more` : "";
    throw new CheckpointError(`${dir}: checkpoint does not match its config.json:\n  - ${problems.slice(0, 25).join("\n  - ")}${more}`);
  }
  return { fused, tiedHead };
}

/** Load a checkpoint directory (ours, or any FlexOlmo checkpoint in the HF layout). */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const root = path.resolve(dir);
  const { config, hf, sidecar } = readConfigAndSidecar(root);
  const wf = weightFiles(root);
  const headers = collectHeaders(root, wf.files);
  const { fused, tiedHead } = validateHeaders(root, config, hf, headers);

  // Decode every weight file (upcasting BF16/F16 to float32).
  const raw = new Map<string, LoadedTensor>();
  const dtypes: Record<string, number> = {};
  for (const f of wf.files) {
    for (const [name, t] of readSafetensors(path.join(root, f)).tensors) {
      raw.set(name, t);
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    }
  }
  if (fused) splitFusedExperts(raw, config);
  if (tiedHead) raw.set("lm_head.weight", raw.get("model.embed_tokens.weight")!);

  // Build tensors in our layout, in canonical order. Everything created here is owned by the returned params.
  const made: tf.Tensor[] = [];
  let params: ModelParams;
  try {
    params = buildParams(config, (s) => {
      const shape = s.shape(config);
      let data: Float32Array;
      if (!s.hf) {
        // The only tensor HF has no place for is the expert bias: one sidecar row per layer.
        data = Float32Array.from(sidecar.expertBias[s.indices[0]]);
      } else {
        const t = raw.get(s.name)!;
        data = s.transposed ? transpose2d(t.data as Float32Array, shape[1], shape[0]) : (t.data as Float32Array); // HF [out, in] → our [in, out]
      }
      const x = tf.tensor(data, shape, "float32");
      made.push(x);
      return x;
    });
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }

  let optimizer: OptimizerState | undefined;
  const optFile = path.join(root, CHECKPOINT_FILES.optimizer);
  if (fs.existsSync(optFile)) {
    const { header, tensors } = readSafetensors(optFile);
    const step = Number(header.metadata.step);
    if (!Number.isFinite(step)) throw new CheckpointError(`${optFile}: __metadata__.step must hold the optimizer step (got ${JSON.stringify(header.metadata.step)})`);
    const ts: Record<string, tf.Tensor> = {};
    for (const [name, t] of tensors) ts[name] = tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? "int32" : "float32");
    optimizer = { step, tensors: ts };
  }

  return {
    config,
    params,
    sidecar,
    optimizer,
    hf,
    source: { dir: root, files: wf.files, dtypes, sharded: wf.sharded, fusedExperts: fused },
  };
}

/** transformers ≥ 5 stores each layer's experts as two 3-D tensors; split them into per-expert names. */
function splitFusedExperts(raw: Map<string, LoadedTensor>, cfg: ModelConfig): void {
  const C = cfg.dModel;
  const F = cfg.dFf;
  for (let i = 0; i < cfg.nLayers; i++) {
    const pre = `model.layers.${i}.mlp.experts`;
    const gu = raw.get(`${pre}.gate_up_proj`)!.data as Float32Array; // [E, 2F, C]
    const dn = raw.get(`${pre}.down_proj`)!.data as Float32Array; // [E, C, F]
    raw.delete(`${pre}.gate_up_proj`);
    raw.delete(`${pre}.down_proj`);
    for (let j = 0; j < cfg.experts.length; j++) {
      const base = j * 2 * F * C;
      const mk = (name: string, shape: number[], data: Float32Array): LoadedTensor => ({ name, dtype: "F32", shape, data });
      raw.set(`${pre}.${j}.gate_proj.weight`, mk("gate", [F, C], gu.slice(base, base + F * C))); // [F, C]
      raw.set(`${pre}.${j}.up_proj.weight`, mk("up", [F, C], gu.slice(base + F * C, base + 2 * F * C))); // [F, C]
      raw.set(`${pre}.${j}.down_proj.weight`, mk("down", [C, F], dn.slice(j * C * F, (j + 1) * C * F))); // [C, F]
    }
  }
}

/** Config, sidecar and element counts without reading any tensor data (cheap for `flexolmo info`). */
export async function readCheckpointInfo(dir: string): Promise<CheckpointInfo> {
  const root = path.resolve(dir);
  const { config, hf, sidecar } = readConfigAndSidecar(root);
  const wf = weightFiles(root);
  const headers = collectHeaders(root, wf.files);
  const { fused } = validateHeaders(root, config, hf, headers);
  const dtypes: Record<string, number> = {};
  let hfParams = 0;
  for (const [name, { info }] of headers) {
    if (IGNORABLE.test(name)) continue;
    dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + 1;
    hfParams += info.shape.reduce((a, b) => a * b, 1);
  }
  let optimizer: CheckpointInfo["optimizer"] = null;
  const optFile = path.join(root, CHECKPOINT_FILES.optimizer);
  if (fs.existsSync(optFile)) {
    const h = readSafetensorsHeader(optFile);
    optimizer = { step: Number(h.metadata.step), tensors: h.tensors.size };
  }
  return {
    config,
    sidecar,
    hf,
    source: { dir: root, files: wf.files, dtypes, sharded: wf.sharded, fusedExperts: fused },
    params: paramCount(config),
    counts: { hfTensors: headers.size, hfParams, expertBias: config.nLayers * config.experts.length },
    optimizer,
  };
}

/** Dispose every tensor of a loaded checkpoint (params and optimizer state). */
export function disposeCheckpoint(ck: { params: ModelParams; optimizer?: OptimizerState }): void {
  for (const e of paramEntries(ck.params)) e.tensor.dispose();
  if (ck.optimizer) for (const t of Object.values(ck.optimizer.tensors)) t.dispose();
}
