import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  bf16ToF32,
  decodeTensor,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
} from "../../lib/io/safetensors";
import { rawSafetensors, tempDir } from "./fixtures";

const u16le = (vals: number[]) => {
  const b = Buffer.alloc(vals.length * 2);
  vals.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
};

test("F32 round trip is bit-exact for NaN payloads, ±0, subnormals and infinities", () => {
  // Bit patterns chosen by hand: quiet NaN with payload, negative NaN with payload, signalling NaN,
  // -0, +0, the smallest positive subnormal, the largest negative subnormal, ±inf, 1.0, max float.
  const patterns = new Uint32Array([0x7fc00001, 0xffc12345, 0x7f800001, 0x80000000, 0x00000000, 0x00000001, 0x807fffff, 0x7f800000, 0xff800000, 0x3f800000, 0x7f7fffff, 0xdeadbeef]);
  const values = new Float32Array(patterns.buffer.slice(0));
  const bytes = encodeSafetensors([{ name: "x", shape: [3, 4], data: values }], { note: "special values" });
  const header = parseSafetensorsHeader(bytes, "mem");
  const got = decodeTensor(bytes, header, "x", "mem");
  assert.deepEqual(got.shape, [3, 4]);
  assert.equal(got.dtype, "F32");
  assert.deepEqual(Array.from(new Uint32Array(got.data.buffer)), Array.from(patterns));
  assert.deepEqual(header.metadata, { note: "special values" });

  // The same through a real file.
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, "x.safetensors");
    writeSafetensors(file, [{ name: "x", shape: [12], data: () => values }]);
    const back = readSafetensors(file).tensors.get("x")!;
    assert.deepEqual(Array.from(new Uint32Array(back.data.buffer)), Array.from(patterns));
  } finally {
    cleanup();
  }
});

test("written header: 8-byte LE length, space padding to 8-byte alignment, contiguous offsets", () => {
  const a = new Float32Array([1, 2, 3]);
  const b = new Int32Array([7, -8]);
  const bytes = Buffer.from(encodeSafetensors([
    { name: "a", shape: [3], data: a },
    { name: "b", shape: [2], dtype: "I32", data: b },
    { name: "scalar", shape: [], data: new Float32Array([5]) },
    { name: "empty", shape: [0, 4], data: new Float32Array(0) },
  ]));
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(n % 8, 0, "data must start 8-byte aligned");
  const text = bytes.subarray(8, 8 + n).toString("utf-8");
  const trimmed = text.trimEnd();
  assert.match(text.slice(trimmed.length), /^ *$/, "padding is spaces");
  const hdr = JSON.parse(trimmed);
  assert.deepEqual(hdr.a, { dtype: "F32", shape: [3], data_offsets: [0, 12] });
  assert.deepEqual(hdr.b, { dtype: "I32", shape: [2], data_offsets: [12, 20] });
  assert.deepEqual(hdr.scalar, { dtype: "F32", shape: [], data_offsets: [20, 24] });
  assert.deepEqual(hdr.empty, { dtype: "F32", shape: [0, 4], data_offsets: [24, 24] });
  assert.equal(bytes.length, 8 + n + 24);
  const h = parseSafetensorsHeader(bytes);
  assert.deepEqual(Array.from(decodeTensor(bytes, h, "b").data), [7, -8]);
  assert.ok(decodeTensor(bytes, h, "b").data instanceof Int32Array);
  assert.deepEqual(Array.from(decodeTensor(bytes, h, "scalar").data), [5]);
  assert.equal(decodeTensor(bytes, h, "empty").data.length, 0);
});

test("BF16 decodes as the upper 16 bits of a float32 (hand-computed values)", () => {
  // 0x3F80 → 1.0; 0xC000 → -2.0; 0x3EAB → (1 + 43/128) · 2^-2 = 0.333984375;
  // 0x8000 → -0; 0x7F80 → +inf; 0xFF80 → -inf; 0x0001 → 2^-149 · 2^16 = 2^-133; 0x7FC0 → NaN.
  const codes = [0x3f80, 0xc000, 0x3eab, 0x8000, 0x7f80, 0xff80, 0x0001, 0x7fc0];
  const expected = [1, -2, 0.333984375, -0, Infinity, -Infinity, 2 ** -133, NaN];
  const buf = rawSafetensors({ w: { dtype: "BF16", shape: [8], data_offsets: [0, 16] } }, u16le(codes));
  const t = decodeTensor(buf, parseSafetensorsHeader(buf), "w");
  assert.equal(t.dtype, "BF16");
  assert.ok(t.data instanceof Float32Array);
  expected.forEach((v, i) => assert.ok(Object.is(t.data[i], v), `bf16 0x${codes[i].toString(16)} → ${t.data[i]}, expected ${v}`));
  codes.forEach((c, i) => assert.ok(Object.is(bf16ToF32(c), expected[i])));
});

test("F16 decodes IEEE half incl. subnormals, inf and NaN (hand-computed values)", () => {
  // 0x3C00 → 1; 0xC000 → -2; 0x0001 → 2^-24 (smallest subnormal); 0x03FF → 1023·2^-24 (largest subnormal);
  // 0x0400 → 2^-14 (smallest normal); 0x7BFF → (2 - 2^-10)·2^15 = 65504; 0x3555 → (1 + 341/1024)/4 = 0.333251953125;
  // 0x8000 → -0; 0x7C00 → +inf; 0xFC00 → -inf; 0x7E00 → NaN.
  const codes = [0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x3555, 0x8000, 0x7c00, 0xfc00, 0x7e00];
  const expected = [1, -2, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, 0.333251953125, -0, Infinity, -Infinity, NaN];
  const buf = rawSafetensors({ w: { dtype: "F16", shape: [11], data_offsets: [0, 22] } }, u16le(codes));
  const t = decodeTensor(buf, parseSafetensorsHeader(buf), "w");
  expected.forEach((v, i) => assert.ok(Object.is(t.data[i], v), `f16 0x${codes[i].toString(16)} → ${t.data[i]}, expected ${v}`));
  codes.forEach((c, i) => assert.ok(Object.is(f16ToF32(c), expected[i])));
});

test("BF16 writing rounds to nearest even", () => {
  // bf16 keeps 7 mantissa bits. 1 + 2^-8 lies exactly between 1 (0x3F80, even) and 1 + 2^-7 (0x3F81):
  // ties go to even → 0x3F80. 1 + 3·2^-8 lies between 0x3F81 (odd) and 0x3F82 (even) → 0x3F82.
  // 1 + 2^-8 + 2^-20 is just above the midpoint → 0x3F81. -2.0 is exact → 0xC000.
  const x = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -2];
  const want = [0x3f80, 0x3f82, 0x3f81, 0xc000];
  assert.deepEqual(x.map(f32ToBf16), want);
  assert.equal(f32ToBf16(NaN) & 0x7fc0, 0x7fc0, "NaN stays a (quiet) NaN");
  const bytes = encodeSafetensors([{ name: "w", shape: [4], dtype: "BF16", data: new Float32Array(x) }]);
  const h = parseSafetensorsHeader(bytes);
  assert.equal(h.tensors.get("w")!.dtype, "BF16");
  assert.deepEqual(Array.from(decodeTensor(bytes, h, "w").data), want.map(bf16ToF32));
});

test("I64 is narrowed to int32, with a clear error when a value does not fit", () => {
  const ok = Buffer.alloc(24);
  [1n, -2n, 2147483647n].forEach((v, i) => ok.writeBigInt64LE(v, i * 8));
  const buf = rawSafetensors({ ids: { dtype: "I64", shape: [3], data_offsets: [0, 24] } }, ok);
  assert.deepEqual(Array.from(decodeTensor(buf, parseSafetensorsHeader(buf), "ids").data), [1, -2, 2147483647]);
  const big = Buffer.alloc(8);
  big.writeBigInt64LE(2147483648n);
  const buf2 = rawSafetensors({ ids: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, big);
  assert.throws(() => decodeTensor(buf2, parseSafetensorsHeader(buf2, "f.safetensors"), "ids", "f.safetensors"), /f\.safetensors: tensor "ids" \(I64\) holds 2147483648.*int32/);
});

test("header-only reads give the same header without reading tensor data", () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, "h.safetensors");
    writeSafetensors(file, [{ name: "a", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }], { format: "pt" });
    const h = readSafetensorsHeader(file);
    assert.deepEqual([...h.tensors.keys()], ["a"]);
    assert.deepEqual(h.tensors.get("a"), { dtype: "F32", shape: [2, 2], dataOffsets: [0, 16] });
    assert.deepEqual(h.metadata, { format: "pt" });
    assert.equal(h.dataLength, 16);
  } finally {
    cleanup();
  }
});

test("malformed files fail with errors that name the file and the problem", () => {
  const { dir, cleanup } = tempDir();
  try {
    const put = (name: string, bytes: Uint8Array) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes);
      return f;
    };
    const good = encodeSafetensors([{ name: "w", shape: [4], data: new Float32Array([1, 2, 3, 4]) }]);
    const cases: [string, Uint8Array, RegExp][] = [
      ["short.safetensors", Buffer.from([1, 2, 3]), /short\.safetensors: truncated file: 3 bytes/],
      ["trunc-data.safetensors", good.subarray(0, good.length - 5), /trunc-data\.safetensors: truncated file or bad header: tensor "w" ends at data byte 16 but the data buffer has only 11 bytes/],
      ["trunc-header.safetensors", good.subarray(0, 20), /trunc-header\.safetensors: truncated file: header says \d+ header bytes but only 12 bytes follow/],
      ["huge-len.safetensors", Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x7b]), /huge-len\.safetensors: bad header: header length \d+ exceeds/],
      ["bad-json.safetensors", rawSafetensors('{"w": {"dtype": "F32",'), /bad-json\.safetensors: bad header: JSON does not parse/],
      ["not-object.safetensors", rawSafetensors("[1, 2, 3]"), /not-object\.safetensors: bad header: expected a JSON object/],
      ["dtype.safetensors", rawSafetensors({ w: { dtype: "F33", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /dtype\.safetensors: unknown dtype "F33" for tensor "w"/],
      ["u8.safetensors", rawSafetensors({ w: { dtype: "U8", shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4)), /u8\.safetensors: tensor "w" has dtype U8, which is valid safetensors but not supported here/],
      ["size.safetensors", rawSafetensors({ w: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8)), /size\.safetensors: bad header: tensor "w" has 4 bytes but shape \[2\] of F32 needs 8/],
      [
        "overlap.safetensors",
        rawSafetensors({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
        /overlap\.safetensors: bad header: tensor "b" bytes \[4,12\] overlap tensor "a"/,
      ],
      ["offsets.safetensors", rawSafetensors({ w: { dtype: "F32", shape: [1], data_offsets: [4] } }, new Uint8Array(4)), /offsets\.safetensors: bad header: tensor "w" data_offsets must be \[begin, end\]/],
      ["meta.safetensors", rawSafetensors({ __metadata__: { step: 3 } }), /meta\.safetensors: bad header: __metadata__\["step"\] must be a string/],
    ];
    for (const [name, bytes, re] of cases) {
      const f = put(name, bytes);
      assert.throws(() => readSafetensors(f), re, name);
    }
    assert.throws(() => readSafetensors(path.join(dir, "absent.safetensors")), /absent\.safetensors: file not found/);
  } finally {
    cleanup();
  }
});

test("a tensor whose data cannot be produced aborts the write and leaves no partial file", () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, "p.safetensors");
    const entries = [
      { name: "a", shape: [2], data: new Float32Array([1, 2]) },
      { name: "b", shape: [2], data: (): Float32Array => { throw new Error("tensor b was disposed"); } },
    ];
    assert.throws(() => writeSafetensors(file, entries), /tensor b was disposed/);
    assert.equal(fs.existsSync(file), false);
    assert.throws(() => encodeSafetensors([{ name: "w", shape: [3], data: new Float32Array(2) }]), /tensor "w": shape \[3\] needs 3 values but 2 were given/);
    assert.throws(() => encodeSafetensors([{ name: "w", shape: [1], data: new Float32Array(1) }, { name: "w", shape: [1], data: new Float32Array(1) }]), /duplicate tensor name "w"/);
  } finally {
    cleanup();
  }
});
