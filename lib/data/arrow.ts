/**
 * FlexMix-mini storage: one Arrow IPC file (Feather v2) per corpus, one row per document,
 * body buffers compressed in-file with ZSTD.
 *
 * Why Arrow: columnar, typed, readable from Python (pyarrow), the browser and Node with one
 * format, and low-cardinality columns (domain, split, license, …) dictionary-encode to a few
 * bytes per row. Why in-file ZSTD: apache-arrow's JS reader/writer supports it as long as we
 * bring the codec; level 19 shrinks the corpus ~4.5× (24 MB → ~5.4 MB) and decoding stays fast.
 *
 * The codec is `@bokuweb/zstd-wasm` (pure wasm, no install script). It must be initialised
 * once (`await init()`), hence `registerZstd()` before any read or compressed write.
 *
 * Upstream bug we correct: apache-arrow 21.2.0's writer stores the *compressed* length in each
 * compressed buffer's 8-byte prefix, where the IPC format (Schema.fbs, BodyCompression) requires
 * the *uncompressed* length; readers that preallocate from it (pyarrow, Arrow C++) would then fail.
 * `fixCompressedLengthPrefixes` rewrites those prefixes. apache-arrow's own reader only tests the
 * prefix for −1 (stored uncompressed), so it reads both forms. Not verified against pyarrow here
 * (no PyPI); the prefix is checked against the spec in test/data/arrow.test.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  RecordBatchWriter,
  CompressionType,
  Dictionary,
  Int32,
  Table,
  Utf8,
  Vector,
  compressionRegistry,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
} from "apache-arrow";
import { makeDirs, writeFileAtomic } from "../util/fs";
import type { DocumentRow } from "./document-row";

export type { DocumentRow } from "./document-row";

/** Column order in the file. Everything but `id`, `parent` and `text` is dictionary-encoded. */
export const DOCUMENT_COLUMNS = [
  "id",
  "domain",
  "origin",
  "family",
  "parent",
  "split",
  "source",
  "license",
  "text",
] as const satisfies readonly (keyof DocumentRow)[];

/** Low-cardinality columns: a few to a few thousand distinct values over ~16 k rows. */
const DICTIONARY_COLUMNS = new Set<keyof DocumentRow>(["domain", "origin", "family", "split", "source", "license"]);

export interface WriteOptions {
  /** Body-buffer compression. Default "zstd": the committed files are compressed. */
  compression?: "zstd" | "none";
  /** ZSTD level 1–22. Default 19: slow to write (~20 s for the corpus) but written once. */
  level?: number;
}

let zstdReady: Promise<void> | undefined;
let zstdLevel = 19;

/**
 * Register the ZSTD codec with apache-arrow's compression registry. Idempotent and safe to call
 * concurrently: every caller awaits the same initialisation.
 */
export function registerZstd(): Promise<void> {
  if (!zstdReady) {
    zstdReady = (async () => {
      const zstd = await import("@bokuweb/zstd-wasm");
      await zstd.init();
      compressionRegistry.set(CompressionType.ZSTD, {
        // Level is read at call time so writeDocuments can choose it per file.
        encode: (data: Uint8Array) => zstd.compress(data, zstdLevel),
        decode: (data: Uint8Array) => zstd.decompress(data),
      });
    })().catch((e: unknown) => {
      zstdReady = undefined; // let a later call retry instead of caching the failure
      throw new Error(`Could not initialise the ZSTD codec (@bokuweb/zstd-wasm): ${errMsg(e)}`);
    });
  }
  return zstdReady;
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

type BodyCompressor = (buffers: ArrayBufferView[]) => { byteLength: number; bufferRegions: unknown[]; buffers: Uint8Array[] };

/**
 * Wrap the writer's body compression so every compressed buffer's 8-byte prefix holds the
 * uncompressed length (little-endian int64), as the Arrow IPC format specifies. The writer emits
 * [prefix, data] pairs per non-empty input buffer, and [empty, empty] for empty ones; a prefix of
 * −1 means "stored uncompressed" and is already correct. Idempotent.
 */
export function fixCompressedLengthPrefixes(): void {
  const proto = RecordBatchWriter.prototype as unknown as { _compressBodyBuffers?: BodyCompressor & { flexolmoFixed?: boolean } };
  const original = proto._compressBodyBuffers;
  if (typeof original !== "function") {
    throw new Error("apache-arrow's RecordBatchWriter has no _compressBodyBuffers (the library changed); check lib/data/arrow.ts against the installed apache-arrow version.");
  }
  if (original.flexolmoFixed) return;
  const fixed = function (this: unknown, buffers: ArrayBufferView[]) {
    const out = original.call(this, buffers);
    buffers.forEach((b, i) => {
      const prefix = out.buffers[2 * i];
      if (b.byteLength === 0 || prefix.byteLength !== 8) return;
      const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
      if (view.getBigInt64(0, true) !== -1n) view.setBigInt64(0, BigInt(b.byteLength), true);
    });
    return out;
  } as BodyCompressor & { flexolmoFixed?: boolean };
  fixed.flexolmoFixed = true;
  proto._compressBodyBuffers = fixed;
}


/** Build the Arrow table for `rows` (exported for tests and for size experiments). */
export function documentsTable(rows: readonly DocumentRow[]): Table {
  const columns: Record<string, Vector<Utf8> | Vector<Dictionary<Utf8, Int32>>> = {};
  for (const name of DOCUMENT_COLUMNS) {
    const values = rows.map((r, i) => {
      const v = r[name];
      if (typeof v !== "string") {
        throw new Error(`writeDocuments: row ${i} (id ${JSON.stringify(r.id)}) has a non-string "${name}" (${typeof v})`);
      }
      return v;
    });
    columns[name] = DICTIONARY_COLUMNS.has(name)
      ? vectorFromArray(values, new Dictionary(new Utf8(), new Int32()))
      : vectorFromArray(values, new Utf8());
  }
  return new Table(columns);
}

/**
 * Write documents as one Arrow IPC file (single record batch). Atomic: a crash mid-write leaves
 * the previous file intact. Returns the number of bytes written.
 */
export async function writeDocuments(file: string, rows: readonly DocumentRow[], opts: WriteOptions = {}): Promise<number> {
  const compression = opts.compression ?? "zstd";
  const level = opts.level ?? 19;
  if (!Number.isInteger(level) || level < 1 || level > 22) {
    throw new Error(`writeDocuments: ZSTD level must be an integer in 1..22, got ${level}`);
  }
  const table = documentsTable(rows);
  let bytes: Uint8Array;
  if (compression === "zstd") {
    await registerZstd();
    fixCompressedLengthPrefixes();
    zstdLevel = level;
    bytes = tableToIPC(table, "file", CompressionType.ZSTD);
  } else {
    bytes = tableToIPC(table, "file");
  }
  makeDirs(path.dirname(file));
  writeFileAtomic(file, bytes); // readers see the old file or the new, never half
  return bytes.byteLength;
}

const MAGIC = "ARROW1";

function regenerateHint(file: string): string {
  return `Regenerate it with \`npm run data:build\`, or restore the committed copy with \`git checkout -- ${file}\`.`;
}

/**
 * Read every document of an Arrow file written by `writeDocuments`. Errors name the file and say
 * how to fix it: missing, truncated (bad magic), corrupt (the reader or codec fails), or written
 * with a different schema.
 */
export async function readDocuments(file: string): Promise<DocumentRow[]> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(`Corpus file not found: ${file}. ${regenerateHint(file)}`);
    }
    throw new Error(`Cannot read corpus file ${file}: ${errMsg(e)}`);
  }
  // An Arrow IPC *file* starts and ends with "ARROW1"; a cut-off download or partial copy loses
  // the trailing magic (and the footer before it), which the reader would report obscurely.
  const head = bytes.subarray(0, MAGIC.length).toString("latin1");
  const tail = bytes.subarray(Math.max(0, bytes.length - MAGIC.length)).toString("latin1");
  if (bytes.length < 2 * MAGIC.length + 8 || head !== MAGIC || tail !== MAGIC) {
    const what = head !== MAGIC ? "is not an Arrow IPC file (bad leading magic)" : "is truncated (no trailing ARROW1 magic)";
    throw new Error(`Corpus file ${file} ${what}; size ${bytes.length} bytes. ${regenerateHint(file)}`);
  }
  await registerZstd();
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new Error(`Corpus file ${file} is corrupt: the Arrow reader failed with "${errMsg(e)}". ${regenerateHint(file)}`);
  }
  const missing = DOCUMENT_COLUMNS.filter((c) => table.getChild(c) === null);
  if (missing.length > 0) {
    throw new Error(`Corpus file ${file} lacks column(s) ${missing.join(", ")}; it was not written by this version of writeDocuments. ${regenerateHint(file)}`);
  }
  try {
    const cols = DOCUMENT_COLUMNS.map((c) => table.getChild(c)!.toArray() as unknown as ArrayLike<unknown>);
    const rows: DocumentRow[] = new Array(table.numRows);
    for (let i = 0; i < table.numRows; i++) {
      const row = {} as Record<string, string>;
      for (let c = 0; c < DOCUMENT_COLUMNS.length; c++) {
        const v = cols[c][i];
        if (typeof v !== "string") throw new Error(`row ${i} column ${DOCUMENT_COLUMNS[c]} is ${v === null ? "null" : typeof v}`);
        row[DOCUMENT_COLUMNS[c]] = v;
      }
      rows[i] = row as unknown as DocumentRow;
    }
    return rows;
  } catch (e) {
    throw new Error(`Corpus file ${file} is corrupt: decoding its columns failed with "${errMsg(e)}". ${regenerateHint(file)}`);
  }
}
