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
 * checkpoint intact. The temporary siblings are `.<name>.saving-<host>-<pid>-<hex>` (the new
 * checkpoint being written) and `.<name>.old-<host>-<pid>-<hex>` (the previous one, during the
 * swap), <host> being 8 hex digits of a hash of this machine's name; the next save into the same
 * path tidies those of dead processes ON THIS MACHINE (restoring the previous checkpoint if the swap
 * was cut in half) and lists what it did in `SaveReport.notes`. A pid says nothing about another
 * machine sharing the disk (NFS), so another host's leftovers are only reported, never touched;
 * names without a host (older saves) count as this machine's. A load that finds no checkpoint but
 * such leftovers says where they are and what to do. A path that is a symbolic link is saved
 * through: the link stays and the directory it points to is replaced.
 *
 * Loads trust nothing in the directory: every file must be a regular file (a FIFO or a link to a
 * device is refused without blocking) of a size fit for its kind; config.json's sizes are bounded
 * and checked against the safetensors headers before anything sized by them is allocated; every
 * tensor name, shape and dtype is validated against config.json; weights must be finite.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "../tf";
import { type ModelConfig, validateConfig } from "../model/config";
import { paramCount } from "../model/model";
import { readBack } from "../ops";
import type { ModelParams } from "../model/params";
import { buildParams, paramEntries, paramSchema } from "../model/params";
import { type HfExtras, fromHfConfig, hfConfigText, toHfConfig } from "./hf-config";
import type { HfTokenizerFiles } from "./hf-tokenizer";
import { describeFsError, makeDirs, processAlive, readTextFile, writeFileDurable } from "../util/fs";
import { quoted } from "../util/text";
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
  /**
   * The tokenizer the weights were trained with: tokenizer.json + tokenizer_config.json are written
   * beside them and config.json gets its eos/pad ids, so transformers' AutoTokenizer and
   * `generate()` work on the folder (lib/io/hf-tokenizer.ts).
   */
  tokenizer?: HfTokenizerFiles;
}

export interface SaveReport {
  /** The path saved to, as given (resolved to absolute). */
  dir: string;
  /** Where the files are: `dir`, or the directory it links to when `dir` is a symbolic link (saves go through links). */
  target: string;
  bytes: number;
  ms: number;
  /**
   * Housekeeping the save did or could not do, one sentence each: leftovers of an earlier
   * interrupted save that were removed or restored, or a previous checkpoint it could not remove.
   */
  notes: string[];
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
  /**
   * True when config.json sets tie_word_embeddings: lm_head is the embedding matrix (as in
   * transformers), and an lm_head.weight stored in the file is not used.
   */
  tiedHead: boolean;
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
  const isObject = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (s.provenance !== undefined && s.provenance !== null && !isObject(s.provenance)) fail(`"provenance" must be an object or null (got ${quoted(JSON.stringify(s.provenance))})`);
  if (s.metadata !== undefined && !isObject(s.metadata)) fail(`"metadata" must be an object (got ${quoted(JSON.stringify(s.metadata))})`);
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

/** This machine in leftover names: 8 hex digits of sha256(hostname). */
export const HOST_TAG = crypto.createHash("sha256").update(os.hostname()).digest("hex").slice(0, 8);

/**
 * The temporary siblings of a save into `<parent>/<base>`: `.<base>.saving-<host>-<pid>-<hex>` and
 * `.<base>.old-<host>-<pid>-<hex>` (`<host>-` absent in names written before hosts were recorded).
 */
function leftoverPattern(base: string): RegExp {
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\.${escaped}\\.(saving|old)-(?:([0-9a-f]{8})-)?(\\d+)-[0-9a-f]+$`);
}

interface Leftover {
  path: string;
  kind: "saving" | "old";
  pid: number;
  /** The machine that wrote it (HOST_TAG), or undefined for an older name without one. */
  host?: string;
}

function leftoversOf(target: string): Leftover[] {
  const parent = path.dirname(target);
  const re = leftoverPattern(path.basename(target));
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const m = re.exec(n);
    return m ? [{ path: path.join(parent, n), kind: m[1] as "saving" | "old", host: m[2], pid: Number(m[3]) }] : [];
  });
}

/**
 * Tidy what an interrupted save into `target` left behind, before a new save starts. Only leftovers
 * of this machine's processes that are no longer running are touched (a live pid may be a save in
 * progress; another machine's pid cannot be checked from here, so its leftovers are only reported):
 *   - `.saving-*`: an unfinished new checkpoint; the previous one is intact elsewhere. Removed.
 *   - `.old-*` with `target` present: the swap completed and only the removal of the previous
 *     checkpoint was lost. Removed.
 *   - `.old-*` with `target` absent: the process died between "old aside" and "new in", so this
 *     is the only copy of the previous checkpoint. Moved back to `target` (then replaced atomically).
 * Returns one line per action, for the save report.
 */
function tidyLeftovers(target: string): string[] {
  const done: string[] = [];
  const all = leftoversOf(target);
  const mine = (l: Leftover) => l.host === undefined || l.host === HOST_TAG;
  for (const l of all.filter((x) => !mine(x))) {
    done.push(`left ${l.path} alone: another machine (host tag ${l.host}) wrote it, and whether that save is still running cannot be checked from here; delete it by hand if it is not`);
  }
  const stale = all.filter((l) => mine(l) && !processAlive(l.pid));
  for (const l of stale.filter((x) => x.kind === "old").sort((a, b) => fs.statSync(b.path).mtimeMs - fs.statSync(a.path).mtimeMs)) {
    if (!fs.existsSync(target)) {
      fs.renameSync(l.path, target);
      done.push(`restored the previous checkpoint from ${l.path} (a save had been interrupted after moving it aside)`);
    } else {
      fs.rmSync(l.path, { recursive: true, force: true });
      done.push(`removed ${l.path} (the previous checkpoint of a save that completed but was interrupted before removing it)`);
    }
  }
  for (const l of stale.filter((x) => x.kind === "saving")) {
    fs.rmSync(l.path, { recursive: true, force: true });
    done.push(`removed ${l.path} (an unfinished save that was interrupted)`);
  }
  return done;
}

/**
 * Where a save into `dir` writes. The rule for symbolic links (documented in the README, under "Command line"):
 * a checkpoint path that is a symbolic link is saved THROUGH: the link stays, and the directory it
 * points to is replaced atomically (its temporary siblings live next to the link's target, so the
 * final rename never crosses file systems). Replacing the link itself would leave the previous
 * checkpoint at the link's target, silently stale. A link to nothing is refused.
 */
function resolveSaveTarget(dir: string): string {
  const given = path.resolve(dir);
  let lst: fs.Stats | undefined;
  try {
    lst = fs.lstatSync(given);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") throw new CheckpointError(`cannot save a checkpoint to ${given}: ${describeFsError(e, "inspect", given).message.replace(/^cannot inspect [^:]*: /, "")}`);
  }
  if (!lst?.isSymbolicLink()) return given;
  try {
    return fs.realpathSync(given);
  } catch (e) {
    let to = "?";
    try {
      to = fs.readlinkSync(given);
    } catch {
      /* unreadable link: keep "?" */
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CheckpointError(`cannot save a checkpoint to ${given}: it is a symbolic link to ${to}, which does not exist. Create that directory (mkdir -p ${to}) or remove the link, then save again.`);
    throw new CheckpointError(`cannot save a checkpoint to ${given}: it is a symbolic link to ${to} that cannot be followed (${(e as Error).message}). Fix or remove the link.`);
  }
}

/** A file-system error during a save, said with the path the user gave and what to do. */
function saveFailure(target: string, e: unknown, stage: string): CheckpointError {
  if (e instanceof CheckpointError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== "string") return e as CheckpointError; // not a file-system error: rethrown unchanged by the caller
  const what = describeFsError(e, "x", target).message.replace(/^cannot x [^:]*: /, "");
  return new CheckpointError(
    `cannot save the checkpoint to ${target} (${stage}): ${what}. The previous checkpoint at that path, if any, is unchanged.`,
  );
}

/**
 * Fill a fresh temporary sibling of `target`, then swap it into place. On any error before the
 * swap the temporary directory is removed and `target` is untouched. Returns the lines of
 * housekeeping done on an earlier interrupted save's leftovers, and on this save's own (a previous
 * checkpoint that could not be removed after the swap is reported, not thrown: the save succeeded).
 */
function replaceDirAtomically(target: string, fill: (tmp: string) => void): string[] {
  if (path.dirname(target) === target) throw new CheckpointError(`cannot save a checkpoint to ${target}: that is the root of a file system; choose a directory inside it.`);
  const parent = path.dirname(target);
  const base = path.basename(target);
  try {
    makeDirs(parent);
  } catch (e) {
    throw new CheckpointError(`cannot save the checkpoint to ${target}: ${(e as Error).message}`);
  }
  let notes: string[];
  try {
    notes = tidyLeftovers(target);
  } catch (e) {
    throw saveFailure(target, e, "while tidying the leftovers of an interrupted save");
  }
  let existing: fs.Stats | undefined;
  try {
    existing = fs.statSync(target);
  } catch {
    existing = undefined;
  }
  if (existing && !existing.isDirectory()) throw new CheckpointError(`${target} exists and is not a directory; choose another checkpoint path`);
  if (existing && (existing.mode & 0o222) === 0) {
    // No write bit for anyone: someone marked this checkpoint read-only. Root could replace it anyway; respect the intent.
    throw new CheckpointError(`${target} is read-only (its permissions allow no writes); make it writable (chmod u+w ${target}) or save to another path`);
  }
  const oldEntries = existing ? fs.readdirSync(target) : [];
  if (existing && oldEntries.length > 0 && !oldEntries.includes(CHECKPOINT_FILES.config)) {
    throw new CheckpointError(
      `${target} is a non-empty directory without config.json; refusing to replace it with a checkpoint ` +
        `(that would delete its contents). Choose an empty or new directory.`,
    );
  }
  const tag = `${HOST_TAG}-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  const tmp = path.join(parent, `.${base}.saving-${tag}`);
  const old = path.join(parent, `.${base}.old-${tag}`);
  try {
    fs.mkdirSync(tmp);
  } catch (e) {
    throw saveFailure(target, e, `while creating a temporary folder in ${parent}`);
  }
  try {
    fill(tmp);
    // Keep files we do not own (README.md, generation_config.json, a tokenizer.json the save did not
    // write, …); what this save wrote (e.g. its tokenizer files) wins over the old copy.
    for (const name of oldEntries) {
      if (isOwnedFile(name) || fs.existsSync(path.join(tmp, name))) continue;
      try {
        fs.cpSync(path.join(target, name), path.join(tmp, name), { recursive: true, preserveTimestamps: true });
      } catch (e) {
        throw new CheckpointError(
          `cannot save the checkpoint to ${target}: ${quoted(name)} in the existing checkpoint cannot be carried over (${(e as Error).message}). ` +
            `Nothing was changed; move it out of ${target} and save again.`,
        );
      }
    }
    fsyncPath(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const err = saveFailure(target, e, "while writing the new files");
    throw err;
  }
  let movedOld = false;
  try {
    if (existing) {
      fs.renameSync(target, old);
      movedOld = true;
    }
    fs.renameSync(tmp, target);
  } catch (e) {
    let restored = !movedOld;
    if (movedOld && !fs.existsSync(target)) {
      try {
        fs.renameSync(old, target);
        restored = true;
      } catch {
        restored = false;
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    const why = saveFailure(target, e, "while moving the new checkpoint into place").message;
    throw new CheckpointError(restored ? why : `${why} The previous checkpoint could not be moved back: it is at ${old}; rename it to ${target}.`);
  }
  fsyncPath(parent);
  if (movedOld) {
    try {
      fs.rmSync(old, { recursive: true, force: true });
    } catch (e) {
      notes.push(`could not remove the previous checkpoint at ${old} (${(e as Error).message}); the new one is in place, remove the old one yourself`);
    }
  }
  return notes;
}

/** Leftovers of an interrupted save next to `dir`, and what to do about them (for load errors). */
function interruptedSaveHint(dir: string): string {
  const left = leftoversOf(dir);
  if (!left.length) return "";
  const old = left.filter((l) => l.kind === "old");
  const saving = left.filter((l) => l.kind === "saving");
  const parts = [" A save into this path was interrupted."];
  if (old.length) parts.push(` The previous checkpoint is at ${old.map((l) => l.path).join(", ")}: rename it to ${dir} to recover it (the next save into this path does that for you).`);
  if (saving.length) parts.push(` An unfinished new checkpoint (.saving-*) is at ${saving.map((l) => l.path).join(", ")}; it is incomplete, delete it.`);
  return parts.join("");
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
 * Every tensor is read with `dataSync` one at a time while the file is being written (on GPU
 * backends after one asynchronous read-back of all of them).
 */
export async function saveCheckpoint(dir: string, opts: SaveOptions): Promise<SaveReport> {
  const t0 = performance.now();
  const { config: cfg, params } = opts;
  validateConfig(cfg);
  checkParamsAgainstConfig(cfg, params);
  const dtype = opts.dtype ?? "F32";
  const entries = paramEntries(params);
  // On GPU backends, bring every tensor's values to the host first (asynchronously; a no-op on cpu/wasm):
  // the writer below reads them synchronously, one at a time.
  await readBack([...entries.map((e) => e.tensor), ...Object.values(opts.optimizer?.tensors ?? {})]);
  const tokIds = opts.tokenizer ? { eosTokenId: opts.tokenizer.eosTokenId, padTokenId: opts.tokenizer.padTokenId } : {};
  const hfConfig = toHfConfig(cfg, { ...tokIds, ...opts.hf }, dtype === "BF16" ? "bfloat16" : "float32");

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

  const given = path.resolve(dir);
  const target = resolveSaveTarget(given);
  const notes = replaceDirAtomically(target, (tmp) => {
    writeFileDurable(path.join(tmp, CHECKPOINT_FILES.config), hfConfigText(hfConfig));
    for (const [name, text] of Object.entries(opts.tokenizer?.files ?? {})) writeFileDurable(path.join(tmp, name), text);
    writeSafetensors(path.join(tmp, CHECKPOINT_FILES.weights), weights, { format: "pt" }); // "pt": what HF's loader expects
    writeFileDurable(path.join(tmp, CHECKPOINT_FILES.sidecar), JSON.stringify(sidecar, null, 2) + "\n");
    if (optEntries) {
      writeSafetensors(path.join(tmp, CHECKPOINT_FILES.optimizer), optEntries, { step: String(opts.optimizer!.step), layout: "flexolmo [in, out]" });
    }
  });
  const bytes = fs.readdirSync(target).reduce((acc, f) => acc + fs.statSync(path.join(target, f)).size, 0);
  return { dir: given, target, bytes, ms: performance.now() - t0, notes };
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

/**
 * Size limits per file kind, far above anything legitimate: a config.json is a few KB, a shard
 * index lists one line per tensor, a sidecar holds names, data cards and one bias row per layer.
 */
export const JSON_LIMITS = { config: 4 << 20, index: 64 << 20, sidecar: 64 << 20 } as const;

function readJson(file: string, what: string, maxBytes: number): unknown {
  let text: string;
  try {
    text = readTextFile(file, what, maxBytes);
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file}: ${what} is not valid JSON (${(e as Error).message}); fix or replace the file`);
  }
}

/** The checkpoint directory itself: exists, is a directory (links followed), with friendly errors. */
function checkCheckpointDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CheckpointError(`${dir}: checkpoint directory does not exist.${interruptedSaveHint(dir)}`);
    throw new CheckpointError(describeFsError(e, "open the checkpoint directory", dir).message);
  }
  if (!st.isDirectory()) throw new CheckpointError(`${dir}: not a directory (a checkpoint is a directory with config.json and model.safetensors)`);
}

/** config.json and the raw sidecar, before anything sized by them exists. */
function readConfigAndRawSidecar(dir: string): { config: ModelConfig; hf: HfExtras; rawSide: unknown } {
  checkCheckpointDir(dir);
  const cfgFile = path.join(dir, CHECKPOINT_FILES.config);
  if (!fs.existsSync(cfgFile) && !isDanglingLink(cfgFile)) {
    throw new CheckpointError(
      `${dir}: missing config.json, so this is not a checkpoint directory (expected config.json + model.safetensors, ` +
        `as written by saveCheckpoint or transformers' save_pretrained).${interruptedSaveHint(dir)}`,
    );
  }
  const rawCfg = readJson(cfgFile, "config.json", JSON_LIMITS.config);
  const sideFile = path.join(dir, CHECKPOINT_FILES.sidecar);
  let names: string[] | undefined;
  let rawSide: unknown;
  if (fs.existsSync(sideFile) || isDanglingLink(sideFile)) {
    rawSide = readJson(sideFile, "the flexolmo.json sidecar", JSON_LIMITS.sidecar);
    const exp = (rawSide as { experts?: { name?: unknown }[] } | null)?.experts;
    if (Array.isArray(exp)) {
      const bad = exp.findIndex((e) => !e || typeof e !== "object" || typeof (e as { name?: unknown }).name !== "string");
      if (bad >= 0) throw new CheckpointError(`${sideFile}: "experts"[${bad}] must be an object with a string "name" (got ${quoted(JSON.stringify(exp[bad]) ?? "undefined")})`);
      names = exp.map((e) => (e as { name: string }).name);
    }
  }
  let parsed: { config: ModelConfig; extras: HfExtras };
  try {
    parsed = fromHfConfig(rawCfg, cfgFile, names);
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  return { config: parsed.config, hf: parsed.extras, rawSide };
}

/** A symbolic link whose target is missing: existsSync says false, but the user must hear about the link. */
function isDanglingLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A shard file name from an index: a plain file name in the checkpoint directory, nothing else. */
function isPlainFileName(f: unknown): f is string {
  return typeof f === "string" && f.length > 0 && f !== "." && f !== ".." && !/[\\/\u0000]/.test(f) && !/^[A-Za-z]:/.test(f);
}

/** The weight files of a checkpoint: one model.safetensors, or the shards an index names. */
function weightFiles(dir: string): { files: string[]; sharded: boolean; weightMap?: Record<string, string> } {
  const single = path.join(dir, CHECKPOINT_FILES.weights);
  if (fs.existsSync(single) || isDanglingLink(single)) return { files: [CHECKPOINT_FILES.weights], sharded: false };
  const indexFile = path.join(dir, CHECKPOINT_FILES.index);
  if (fs.existsSync(indexFile) || isDanglingLink(indexFile)) {
    const idx = readJson(indexFile, "the safetensors shard index", JSON_LIMITS.index) as { weight_map?: Record<string, unknown> } | null;
    const map = idx?.weight_map;
    if (!map || typeof map !== "object" || Array.isArray(map)) throw new CheckpointError(`${indexFile}: missing "weight_map" object`);
    const files = [...new Set(Object.values(map))];
    if (!files.length) throw new CheckpointError(`${indexFile}: "weight_map" is empty; it must name the shard file of every tensor`);
    for (const f of files) {
      if (!isPlainFileName(f)) throw new CheckpointError(`${indexFile}: weight_map names an invalid shard file ${quoted(JSON.stringify(f) ?? "undefined")} (shards must be plain file names inside the checkpoint directory)`);
      if (!fs.existsSync(path.join(dir, f)) && !isDanglingLink(path.join(dir, f))) throw new CheckpointError(`${indexFile}: shard ${quoted(f)} is listed but missing from ${dir}`);
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
      if (out.has(name)) throw new CheckpointError(`${dir}: tensor ${quoted(name)} appears in both ${out.get(name)!.file} and ${f}`);
      out.set(name, { file: f, info });
    }
  }
  return out;
}

/**
 * The layer and expert counts config.json claims, against what the headers hold, before anything
 * sized by those counts (expected-tensor lists, bias rows, parameters) is built: a config saying
 * 1 000 layers over a 2-layer file gets one sentence, not a thousand "missing tensor" lines.
 */
function checkCountsAgainstHeaders(dir: string, cfg: ModelConfig, headers: Map<string, { file: string; info: TensorInfo }>): void {
  let maxLayer = -1;
  for (const name of headers.keys()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) maxLayer = Math.max(maxLayer, Number(m[1]));
  }
  const fileLayers = maxLayer + 1;
  if (fileLayers !== cfg.nLayers) {
    throw new CheckpointError(
      `${dir}: config.json says num_hidden_layers = ${cfg.nLayers} but the weight files hold ${fileLayers} layer${fileLayers === 1 ? "" : "s"} ` +
        `(model.layers.0 … ${fileLayers - 1}); config.json and the weights do not belong together.`,
    );
  }
  const router = headers.get("model.layers.0.mlp.gate.weight");
  if (router && router.info.shape.length === 2 && router.info.shape[0] !== cfg.experts.length) {
    throw new CheckpointError(
      `${dir}: config.json says num_experts = ${cfg.experts.length} but the router model.layers.0.mlp.gate.weight in ${router.file} has ${router.info.shape[0]} rows (one per expert); ` +
        `config.json and the weights do not belong together.`,
    );
  }
}

/**
 * Compare what the files hold with what the config implies, before reading any tensor data.
 * Returns whether the experts are stored fused (transformers ≥ 5 layout) and whether the head is
 * tied to the embedding (then any lm_head.weight in the file is not used, as in transformers).
 */
function validateHeaders(dir: string, cfg: ModelConfig, hf: HfExtras, headers: Map<string, { file: string; info: TensorInfo }>): { fused: boolean; tiedHead: boolean } {
  checkCountsAgainstHeaders(dir, cfg, headers);
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
  // transformers ties lm_head to embed_tokens whenever tie_word_embeddings is true (tie_weights()
  // after loading), whether or not the file also holds an lm_head.weight: that tensor is then never
  // used. Do the same, so logits here equal transformers' for the same directory. A stored
  // lm_head.weight is still checked (shape, dtype) but not read.
  const tiedHead = hf.tieWordEmbeddings;
  if (tiedHead && !headers.has("lm_head.weight")) want.delete("lm_head.weight");
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
    if (!want.has(name) && !IGNORABLE.test(name)) problems.push(`unexpected tensor ${quoted(name)} in ${h.file} (not part of a FlexOlmo model with this config.json)`);
  }
  if (problems.length) {
    const more = problems.length > 25 ? `\n  … and ${problems.length - 25} more` : "";
    throw new CheckpointError(`${dir}: checkpoint does not match its config.json:\n  - ${problems.slice(0, 25).join("\n  - ")}${more}`);
  }
  return { fused, tiedHead };
}

/** Everything but tensor data: the shared first half of `loadCheckpoint` and `readCheckpointInfo`. */
function openCheckpoint(root: string): {
  config: ModelConfig;
  hf: HfExtras;
  sidecar: CheckpointSidecar;
  wf: ReturnType<typeof weightFiles>;
  headers: Map<string, { file: string; info: TensorInfo }>;
  fused: boolean;
  tiedHead: boolean;
} {
  const { config, hf, rawSide } = readConfigAndRawSidecar(root);
  const wf = weightFiles(root);
  const headers = collectHeaders(root, wf.files);
  const { fused, tiedHead } = validateHeaders(root, config, hf, headers);
  // Only now, with the layer and expert counts matched against the files, build what they size.
  const sideFile = path.join(root, CHECKPOINT_FILES.sidecar);
  const sidecar = rawSide === undefined ? defaultSidecar(config) : parseSidecar(rawSide, sideFile, config);
  return { config, hf, sidecar, wf, headers, fused, tiedHead };
}

/**
 * Refuse a tensor holding NaN or ±Infinity: a model with them computes NaN logits everywhere, and
 * finding out at load names the tensor, instead of printing nulls later with exit code 0.
 */
function checkFinite(file: string, name: string, data: Float32Array | Int32Array | readonly number[]): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      throw new CheckpointError(
        `${file}: tensor ${quoted(name)} holds ${v} at index ${i}; weights must be finite numbers. ` +
          `The checkpoint is corrupt or its training diverged: load an earlier checkpoint or retrain.`,
      );
    }
  }
}

/** Load a checkpoint directory (ours, or any FlexOlmo checkpoint in the HF layout). */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const root = path.resolve(dir);
  const { config, hf, sidecar, wf, fused, tiedHead } = openCheckpoint(root);

  // Decode every weight file (upcasting BF16/F16 to float32).
  const raw = new Map<string, LoadedTensor>();
  const dtypes: Record<string, number> = {};
  for (const f of wf.files) {
    for (const [name, t] of readSafetensors(path.join(root, f)).tensors) {
      if (IGNORABLE.test(name)) continue;
      if (tiedHead && name === "lm_head.weight") continue; // not used: tied to the embedding (see validateHeaders)
      checkFinite(path.join(root, f), name, t.data);
      raw.set(name, t);
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    }
  }
  sidecar.expertBias.forEach((row, l) => checkFinite(path.join(root, CHECKPOINT_FILES.sidecar), `expert_bias[${l}]`, row));
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
  try {
    optimizer = readOptimizer(root);
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }

  return {
    config,
    params,
    sidecar,
    optimizer,
    hf,
    source: { dir: root, files: wf.files, dtypes, sharded: wf.sharded, fusedExperts: fused, tiedHead },
  };
}

/** optimizer.safetensors, when present: step from its metadata, every moment finite. */
function readOptimizer(root: string): OptimizerState | undefined {
  const optFile = path.join(root, CHECKPOINT_FILES.optimizer);
  if (!fs.existsSync(optFile) && !isDanglingLink(optFile)) return undefined;
  const { header, tensors } = readSafetensors(optFile);
  const step = optimizerStep(optFile, header.metadata.step);
  for (const [name, t] of tensors) checkFinite(optFile, name, t.data);
  const ts: Record<string, tf.Tensor> = {};
  for (const [name, t] of tensors) ts[name] = tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? "int32" : "float32");
  return { step, tensors: ts };
}

function optimizerStep(optFile: string, raw: string | undefined): number {
  const step = Number(raw);
  if (raw === undefined || raw.trim() === "" || !Number.isSafeInteger(step) || step < 0) {
    throw new CheckpointError(`${optFile}: __metadata__.step must hold the optimizer step, a non-negative integer (got ${quoted(JSON.stringify(raw) ?? "undefined")}); delete optimizer.safetensors to load the weights without optimizer state`);
  }
  return step;
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
  const { config, hf, sidecar, wf, headers, fused, tiedHead } = openCheckpoint(root);
  const dtypes: Record<string, number> = {};
  let hfParams = 0;
  let hfTensors = 0;
  for (const [name, { info }] of headers) {
    if (IGNORABLE.test(name) || (tiedHead && name === "lm_head.weight")) continue; // as loadCheckpoint: not used
    dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + 1;
    hfParams += info.shape.reduce((a, b) => a * b, 1);
    hfTensors++;
  }
  let optimizer: CheckpointInfo["optimizer"] = null;
  const optFile = path.join(root, CHECKPOINT_FILES.optimizer);
  if (fs.existsSync(optFile) || isDanglingLink(optFile)) {
    const h = readSafetensorsHeader(optFile);
    optimizer = { step: optimizerStep(optFile, h.metadata.step), tensors: h.tensors.size };
  }
  return {
    config,
    sidecar,
    hf,
    source: { dir: root, files: wf.files, dtypes, sharded: wf.sharded, fusedExperts: fused, tiedHead },
    params: paramCount(config),
    counts: { hfTensors, hfParams, expertBias: config.nLayers * config.experts.length },
    optimizer,
  };
}

/** Dispose every tensor of a loaded checkpoint (params and optimizer state). */
export function disposeCheckpoint(ck: { params: ModelParams; optimizer?: OptimizerState }): void {
  for (const e of paramEntries(ck.params)) e.tensor.dispose();
  if (ck.optimizer) for (const t of Object.values(ck.optimizer.tensors)) t.dispose();
}
