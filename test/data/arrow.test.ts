import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DataType, tableFromIPC } from "apache-arrow";
import { DOCUMENT_COLUMNS, DocumentRow, readDocuments, registerZstd, writeDocuments, fixCompressedLengthPrefixes } from "../../lib/data/arrow";

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "flexmix-arrow-"));
}

/** Small rows with the awkward cases: accents, CJK, emoji, empty text, long repetitive text. */
function sampleRows(): DocumentRow[] {
  const texts = ["Ça va? naïve café", "漢字とかな", "emoji 😀👍🏽 ok", "", "the cat sat on the mat. ".repeat(400), "line one\nline two\n\n    indented"];
  return texts.map((text, i) => ({
    id: `news/p${i >> 1}#${i & 1}`,
    domain: i % 3 === 0 ? "news" : "code",
    origin: "news",
    family: i % 2 ? "sotu" : "python",
    parent: `news/p${i >> 1}`,
    split: ["train", "valid", "test"][i % 3],
    source: "test@0.0.0:file",
    license: "CC0-1.0",
    text,
  }));
}

test("zstd and uncompressed files round-trip every row exactly", async () => {
  const dir = tmpDir();
  const rows = sampleRows();
  for (const compression of ["zstd", "none"] as const) {
    const file = path.join(dir, `${compression}.arrow`);
    const bytes = await writeDocuments(file, rows, { compression, level: 3 });
    assert.equal(fs.statSync(file).size, bytes);
    assert.deepEqual(await readDocuments(file), rows);
  }
  // The repeated sentence compresses well, so the zstd file must be much smaller.
  assert.ok(fs.statSync(path.join(dir, "zstd.arrow")).size < fs.statSync(path.join(dir, "none.arrow")).size / 2);
});

test("low-cardinality columns are dictionary-encoded, text is plain Utf8", async () => {
  const file = path.join(tmpDir(), "d.arrow");
  await writeDocuments(file, sampleRows(), { level: 1 });
  await registerZstd();
  const table = tableFromIPC(fs.readFileSync(file));
  assert.deepEqual(table.schema.fields.map((f) => f.name), [...DOCUMENT_COLUMNS]);
  for (const name of ["domain", "origin", "family", "split", "source", "license"]) {
    assert.ok(DataType.isDictionary(table.schema.fields.find((f) => f.name === name)!.type), `${name} is a dictionary`);
  }
  for (const name of ["id", "parent", "text"]) {
    assert.ok(DataType.isUtf8(table.schema.fields.find((f) => f.name === name)!.type), `${name} is Utf8`);
  }
});

test("registerZstd is idempotent under concurrent calls", async () => {
  await Promise.all([registerZstd(), registerZstd(), registerZstd()]);
  await registerZstd();
});

test("writes are atomic: no temp files left, an existing file is replaced whole", async () => {
  const dir = tmpDir();
  const file = path.join(dir, "a.arrow");
  await writeDocuments(file, sampleRows(), { level: 1 });
  const second = sampleRows().slice(0, 2);
  await writeDocuments(file, second, { level: 1 });
  assert.deepEqual(fs.readdirSync(dir), ["a.arrow"]);
  assert.deepEqual(await readDocuments(file), second);
});

test("bad rows and options are refused with specific messages", async () => {
  const file = path.join(tmpDir(), "bad.arrow");
  const rows = sampleRows();
  (rows[1] as unknown as Record<string, unknown>).text = 42;
  await assert.rejects(() => writeDocuments(file, rows), /row 1 .*non-string "text"/);
  await assert.rejects(() => writeDocuments(file, sampleRows(), { level: 30 }), /ZSTD level must be an integer in 1\.\.22/);
  assert.equal(fs.existsSync(file), false, "nothing written on error");
});

test("a missing file names the path and how to regenerate it", async () => {
  const file = path.join(tmpDir(), "nope.arrow");
  await assert.rejects(() => readDocuments(file), (e: Error) => {
    assert.match(e.message, /Corpus file not found/);
    assert.ok(e.message.includes(file));
    assert.match(e.message, /npm run data:build/);
    return true;
  });
});

test("a truncated file is reported as truncated, with its path", async () => {
  const dir = tmpDir();
  const file = path.join(dir, "t.arrow");
  await writeDocuments(file, sampleRows(), { level: 1 });
  const full = fs.readFileSync(file);
  fs.writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
  await assert.rejects(() => readDocuments(file), (e: Error) => {
    assert.match(e.message, /is truncated/);
    assert.ok(e.message.includes(file));
    assert.match(e.message, /npm run data:build|git checkout/);
    return true;
  });
});

test("a file that is not Arrow at all is reported as such", async () => {
  const file = path.join(tmpDir(), "x.arrow");
  fs.writeFileSync(file, "id,text\n1,hello\n".repeat(10));
  await assert.rejects(() => readDocuments(file), /not an Arrow IPC file/);
});

test("a file corrupted inside (magic intact) is reported as corrupt", async () => {
  const dir = tmpDir();
  const file = path.join(dir, "c.arrow");
  await writeDocuments(file, sampleRows(), { level: 1 });
  const bytes = fs.readFileSync(file);
  // Overwrite the footer (schema + block index) that sits just before the trailing
  // `<int32 footer length>ARROW1`; the reader cannot locate the batches any more.
  const footerLen = bytes.readInt32LE(bytes.length - 10);
  const start = bytes.length - 10 - footerLen;
  bytes.fill(0xff, start, bytes.length - 10);
  fs.writeFileSync(file, bytes);
  await assert.rejects(() => readDocuments(file), (e: Error) => {
    assert.match(e.message, /is corrupt/);
    assert.ok(e.message.includes(file));
    return true;
  });
});

test("compressed buffers carry the UNCOMPRESSED length in their 8-byte prefix, as the IPC format requires", async () => {
  await registerZstd();
  fixCompressedLengthPrefixes();
  const { RecordBatchWriter, CompressionType, compressionRegistry } = await import("apache-arrow");
  const writer = new RecordBatchWriter({ compressionType: CompressionType.ZSTD }) as unknown as {
    _compressBodyBuffers(b: Uint8Array[]): { buffers: Uint8Array[] };
  };
  const text = new TextEncoder().encode("the same words again and again ".repeat(200)); // compresses well
  const tiny = new Uint8Array([7]); // cannot shrink: stored raw, prefix −1
  const out = writer._compressBodyBuffers([text, new Uint8Array(0), tiny]).buffers;
  const prefix = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getBigInt64(0, true);
  assert.equal(prefix(out[0]), BigInt(text.byteLength));
  assert.ok(out[1].byteLength < text.byteLength);
  assert.deepEqual(compressionRegistry.get(CompressionType.ZSTD)!.decode!(out[1]), text);
  assert.equal(out[2].byteLength + out[3].byteLength, 0);
  assert.equal(prefix(out[4]), -1n);
  assert.deepEqual(out[5], tiny);
});
