/**
 * safetensors, read and written in pure TypeScript (no native code, no Python).
 *
 * File layout (https://github.com/huggingface/safetensors, "Format"):
 *   [8 bytes]  N, unsigned 64-bit little-endian: the header length
 *   [N bytes]  UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, …,
 *                            "__metadata__"?: { "<key>": "<string value>" } }
 *              padded at the end with spaces (0x20) so the data starts 8-byte aligned
 *   [rest]     the byte buffer; data_offsets are relative to its start, little-endian values
 *
 * Reading upcasts every float dtype to float32 (BF16, F16, F64) and every integer dtype we accept
 * (I32, I64) to int32, because those are the only dtypes TF.js computes in. Writing produces F32
 * (bit-exact), BF16 (round-to-nearest-even) or I32.
 */
import * as fs from "node:fs";
import { FileError, type OpenedFile, openRegularFile, readExactly } from "../util/fs";
import { quoted } from "../util/text";

/** Every dtype the safetensors spec names, with its size in bytes. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
};

/** The dtypes this reader decodes. The others are valid safetensors but have no TF.js equivalent here. */
export const READABLE_DTYPES = ["F32", "BF16", "F16", "F64", "I32", "I64"] as const;
export type ReadableDtype = (typeof READABLE_DTYPES)[number];
export type WritableDtype = "F32" | "BF16" | "I32";

/**
 * Header larger than this is refused: the reference Rust implementation uses the same 100 MB cap,
 * and a corrupt length field would otherwise make us allocate gigabytes.
 */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "SafetensorsError";
  }
}

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** [begin, end) in bytes, relative to the start of the data buffer. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Tensors in header order. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Absolute byte offset where the data buffer starts (8 + N). */
  dataStart: number;
  /** Length of the data buffer in bytes. */
  dataLength: number;
}

export interface LoadedTensor {
  name: string;
  /** The dtype on disk. Floats are returned as float32, integers as int32. */
  dtype: ReadableDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface WriteEntry {
  name: string;
  shape: number[];
  /** Default F32. BF16 rounds to nearest even; I32 requires an Int32Array. */
  dtype?: WritableDtype;
  /**
   * The values, row-major. A function is called only when this tensor's bytes are written, so a
   * large checkpoint never needs every tensor's copy in memory at once.
   */
  data: Float32Array | Int32Array | (() => Float32Array | Int32Array);
}

const prod = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Header parsing and validation
// ---------------------------------------------------------------------------------------------

/** Header length N from the first 8 bytes, checked against what the file can hold. */
function readHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(file, `truncated file: ${fileSize} bytes, but a safetensors file starts with an 8-byte header length`);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `bad header: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (is this a safetensors file?)`);
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new SafetensorsError(file, `truncated file: header says ${len} header bytes but only ${fileSize - 8} bytes follow the length field`);
  }
  if (len < 2) throw new SafetensorsError(file, `bad header: header length ${len} is too small to hold a JSON object`);
  return len;
}

/** Parse and validate the JSON header. `dataLength` is the number of bytes after the header. */
function parseHeaderJson(headerBytes: Uint8Array, dataStart: number, dataLength: number, file: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, "bad header: the header is not valid UTF-8");
  }
  if (!text.startsWith("{")) throw new SafetensorsError(file, `bad header: expected a JSON object starting with "{", got ${JSON.stringify(text.slice(0, 20))}`);
  let json: unknown;
  try {
    json = JSON.parse(text); // trailing space padding is valid JSON whitespace
  } catch (e) {
    throw new SafetensorsError(file, `bad header: JSON does not parse (${(e as Error).message})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new SafetensorsError(file, "bad header: the header must be a JSON object");
  // JSON.parse keeps the last of two equal keys; another reader may keep the first. Two tensors
  // with one name are ambiguous, so they are refused rather than resolved silently.
  const dup = firstDuplicateKey(text);
  if (dup !== undefined) throw new SafetensorsError(file, `bad header: tensor name ${quoted(dup)} appears twice in the header (the file is corrupt or was hand-edited; re-export it)`);

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new SafetensorsError(file, "bad header: __metadata__ must be an object of strings");
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") throw new SafetensorsError(file, `bad header: __metadata__["${k}"] must be a string (got ${typeof v})`);
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, validateTensorInfo(name, raw, dataLength, file));
  }

  // Offsets must not overlap (the spec also forbids holes; we tolerate them, since they lose nothing).
  const spans = [...tensors.entries()].filter(([, t]) => t.dataOffsets[1] > t.dataOffsets[0]).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [prevName, prev] = spans[i - 1];
    const [name, cur] = spans[i];
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsError(file, `bad header: tensor "${name}" bytes [${cur.dataOffsets}] overlap tensor "${prevName}" bytes [${prev.dataOffsets}]`);
    }
  }
  return { tensors, metadata, dataStart, dataLength };
}

/**
 * The first key that occurs twice at the top level of a JSON object text, or undefined. A single
 * pass that tracks strings and nesting depth; only called on text that JSON.parse accepted.
 */
function firstDuplicateKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return undefined;
}

function validateTensorInfo(name: string, raw: unknown, dataLength: number, file: string): TensorInfo {
  const where = `tensor "${name}"`;
  if (raw === null || typeof raw !== "object") throw new SafetensorsError(file, `bad header: ${where} must be an object with dtype, shape, data_offsets`);
  const r = raw as Record<string, unknown>;
  const dtype = r.dtype;
  if (typeof dtype !== "string") throw new SafetensorsError(file, `bad header: ${where} has no string "dtype"`);
  const size = DTYPE_BYTES[dtype];
  if (size === undefined) throw new SafetensorsError(file, `unknown dtype "${dtype}" for ${where} (safetensors dtypes: ${Object.keys(DTYPE_BYTES).join(", ")})`);
  const shape = r.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, `bad header: ${where} shape must be an array of non-negative integers (got ${JSON.stringify(shape)})`);
  }
  const off = r.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, `bad header: ${where} data_offsets must be [begin, end] non-negative integers (got ${JSON.stringify(off)})`);
  }
  const [b, e] = off as [number, number];
  if (b > e) throw new SafetensorsError(file, `bad header: ${where} data_offsets [${b}, ${e}] has begin > end`);
  if (e > dataLength) {
    throw new SafetensorsError(file, `truncated file or bad header: ${where} ends at data byte ${e} but the data buffer has only ${dataLength} bytes`);
  }
  const want = prod(shape as number[]) * size;
  if (e - b !== want) {
    throw new SafetensorsError(file, `bad header: ${where} has ${e - b} bytes but shape [${shape}] of ${dtype} needs ${want}`);
  }
  return { dtype, shape: shape as number[], dataOffsets: [b, e] };
}

/** Parse a whole safetensors file held in memory. */
export function parseSafetensorsHeader(bytes: Uint8Array, file = "<buffer>"): SafetensorsHeader {
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length, file);
  return parseHeaderJson(bytes.subarray(8, 8 + n), 8 + n, bytes.length - 8 - n, file);
}

/**
 * Open a safetensors file: only a regular file (after following symbolic links; a FIFO or a device
 * is refused without blocking), and read its header, which is bounded by MAX_HEADER_BYTES and by
 * the file's size. The caller closes `f.fd`.
 */
function openSafetensors(path: string): { f: OpenedFile; header: SafetensorsHeader } {
  let f: OpenedFile;
  try {
    f = openRegularFile(path, "safetensors file", Number.MAX_SAFE_INTEGER); // tensor data is bounded by the header instead
  } catch (e) {
    if (e instanceof FileError && e.code === "ENOENT") throw new SafetensorsError(path, "file not found");
    if (e instanceof FileError) throw new SafetensorsError(path, e.message.replace(`cannot read safetensors file ${path}: `, ""));
    throw e;
  }
  try {
    const first8 = Buffer.alloc(8);
    if (f.size >= 8) readExactly(f, first8, 0);
    const n = readHeaderLength(first8, f.size, path);
    const hdr = Buffer.alloc(n);
    readExactly(f, hdr, 8);
    return { f, header: parseHeaderJson(hdr, 8 + n, f.size - 8 - n, path) };
  } catch (e) {
    fs.closeSync(f.fd);
    if (e instanceof FileError) throw new SafetensorsError(path, e.message);
    throw e;
  }
}

/** Read only the header of a file on disk (cheap: never touches the tensor bytes). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const { f, header } = openSafetensors(path);
  fs.closeSync(f.fd);
  return header;
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

let f16Table: Float32Array | undefined;

/** IEEE 754 half → float: sign, 5-bit exponent (bias 15), 10-bit mantissa, subnormals below 2^-14. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24; // zero and subnormals: man · 2^-24
  if (exp === 31) return man === 0 ? sign * Infinity : NaN; // NaN payloads are not preserved
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** bfloat16 → float: bf16 is exactly the upper 16 bits of a float32, so this is a shift. */
export function bf16ToF32(b: number): number {
  const u = new Uint32Array([(b & 0xffff) << 16]);
  return new Float32Array(u.buffer)[0];
}

/** float → bfloat16 bits, round to nearest even; NaN stays NaN (quiet bit forced). */
export function f32ToBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return f32BitsToBf16(u);
}

function f32BitsToBf16(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A fresh, aligned copy of `len` bytes at `start` (Buffer slices can start at odd offsets). */
function alignedCopy(bytes: Uint8Array, start: number, len: number): ArrayBuffer {
  const out = new ArrayBuffer(len);
  new Uint8Array(out).set(bytes.subarray(start, start + len));
  return out;
}

function decode(bytes: Uint8Array, info: TensorInfo, name: string, dataStart: number, file: string): LoadedTensor {
  const n = prod(info.shape);
  const start = dataStart + info.dataOffsets[0];
  const len = info.dataOffsets[1] - info.dataOffsets[0];
  if (!isLittleEndian) throw new SafetensorsError(file, "this reader only runs on little-endian machines");
  const dtype = info.dtype as ReadableDtype;
  switch (info.dtype) {
    case "F32":
      return { name, dtype, shape: info.shape, data: new Float32Array(alignedCopy(bytes, start, len)) };
    case "BF16": {
      const src = new Uint16Array(alignedCopy(bytes, start, len));
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return { name, dtype, shape: info.shape, data: new Float32Array(bits.buffer) };
    }
    case "F16": {
      if (!f16Table) {
        f16Table = new Float32Array(65536);
        for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
      }
      const src = new Uint16Array(alignedCopy(bytes, start, len));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16Table[src[i]];
      return { name, dtype, shape: info.shape, data: out };
    }
    case "F64":
      return { name, dtype, shape: info.shape, data: Float32Array.from(new Float64Array(alignedCopy(bytes, start, len))) };
    case "I32":
      return { name, dtype, shape: info.shape, data: new Int32Array(alignedCopy(bytes, start, len)) };
    case "I64": {
      const src = new BigInt64Array(alignedCopy(bytes, start, len));
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v > 2147483647n || v < -2147483648n) {
          throw new SafetensorsError(file, `tensor "${name}" (I64) holds ${v} at index ${i}, outside the int32 range TF.js can represent`);
        }
        out[i] = Number(v);
      }
      return { name, dtype, shape: info.shape, data: out };
    }
    default:
      throw new SafetensorsError(file, `tensor "${name}" has dtype ${info.dtype}, which is valid safetensors but not supported here (supported: ${READABLE_DTYPES.join(", ")})`);
  }
}

/** Decode one tensor of a parsed in-memory file. */
export function decodeTensor(bytes: Uint8Array, header: SafetensorsHeader, name: string, file = "<buffer>"): LoadedTensor {
  const info = header.tensors.get(name);
  if (!info) throw new SafetensorsError(file, `no tensor named "${name}"`);
  return decode(bytes, info, name, header.dataStart, file);
}

/**
 * Read a whole safetensors file: every tensor decoded, in header order. Each tensor's bytes are
 * read on their own, at the offsets the (validated) header gives, so nothing beyond what the header
 * describes is read and a file larger than one Node buffer (2–4 GiB) still loads.
 */
export function readSafetensors(path: string): { header: SafetensorsHeader; tensors: Map<string, LoadedTensor> } {
  const { f, header } = openSafetensors(path);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const [name, info] of header.tensors) {
      const len = info.dataOffsets[1] - info.dataOffsets[0];
      const bytes = new Uint8Array(len);
      try {
        readExactly(f, bytes, header.dataStart + info.dataOffsets[0]);
      } catch (e) {
        if (e instanceof FileError) throw new SafetensorsError(path, `tensor ${quoted(name)}: ${e.message}`);
        throw e;
      }
      tensors.set(name, decode(bytes, { ...info, dataOffsets: [0, len] }, name, 0, path));
    }
    return { header, tensors };
  } finally {
    fs.closeSync(f.fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** The header bytes (length field + space-padded JSON) for these entries. */
function buildHeader(entries: WriteEntry[], metadata: Record<string, string> | undefined): { head: Uint8Array; dataLength: number } {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") throw new Error(`safetensors metadata "${k}" must be a string (got ${typeof v})`);
    obj.__metadata__ = metadata;
  }
  let offset = 0;
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.name === "__metadata__") throw new Error(`"__metadata__" is reserved and cannot name a tensor`);
    if (seen.has(e.name)) throw new Error(`duplicate tensor name "${e.name}"`);
    seen.add(e.name);
    if (!e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`tensor "${e.name}": shape must be non-negative integers (got [${e.shape}])`);
    const dtype = e.dtype ?? "F32";
    const bytes = prod(e.shape) * DTYPE_BYTES[dtype];
    obj[e.name] = { dtype, shape: e.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(obj), "utf-8");
  const padded = Math.ceil(json.length / 8) * 8; // 8-byte aligned data start, as the Rust writer does
  const head = Buffer.alloc(8 + padded, 0x20);
  new DataView(head.buffer, head.byteOffset, 8).setBigUint64(0, BigInt(padded), true);
  json.copy(head, 8);
  return { head, dataLength: offset };
}

/** The bytes of one entry, in its on-disk dtype, checked against its declared shape. */
function entryBytes(e: WriteEntry): Uint8Array {
  const data = typeof e.data === "function" ? e.data() : e.data;
  const dtype = e.dtype ?? "F32";
  const n = prod(e.shape);
  if (data.length !== n) throw new Error(`tensor "${e.name}": shape [${e.shape}] needs ${n} values but ${data.length} were given`);
  if (!isLittleEndian) throw new Error("this writer only runs on little-endian machines");
  if (dtype === "I32") {
    if (!(data instanceof Int32Array)) throw new Error(`tensor "${e.name}": dtype I32 needs an Int32Array`);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (!(data instanceof Float32Array)) throw new Error(`tensor "${e.name}": dtype ${dtype} needs a Float32Array`);
  if (dtype === "F32") return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Uint32Array(data.buffer, data.byteOffset, n);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = f32BitsToBf16(bits[i]);
  return new Uint8Array(out.buffer);
}

/** Encode entries into one in-memory safetensors file. */
export function encodeSafetensors(entries: WriteEntry[], metadata?: Record<string, string>): Uint8Array {
  const { head, dataLength } = buildHeader(entries, metadata);
  const out = new Uint8Array(head.length + dataLength);
  out.set(head, 0);
  let pos = head.length;
  for (const e of entries) {
    const b = entryBytes(e);
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

/**
 * Write entries to `path`, one tensor at a time, then fsync. NOT atomic by itself: callers that
 * replace existing files write into a temporary directory first (see `checkpoint.ts`). If a tensor's
 * data function throws, the partial file is removed and the error is rethrown.
 */
export function writeSafetensors(path: string, entries: WriteEntry[], metadata?: Record<string, string>): void {
  const { head } = buildHeader(entries, metadata);
  const fd = fs.openSync(path, "w");
  try {
    writeAll(fd, head);
    for (const e of entries) writeAll(fd, entryBytes(e));
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw err;
  }
  fs.closeSync(fd);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}
