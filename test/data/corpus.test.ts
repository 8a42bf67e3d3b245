import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Corpus, DOMAINS, SPLITS, defaultCorpusDir, loadCorpus } from "../../lib/data/corpus";
import { loadTokenizer } from "../../lib/data/tokenizer";
import { HELD_OUT_FAMILY, Rng, TRAIN_FAMILIES, generateMath, ordinal } from "../../data/build/math";

let corpus: Corpus;

before(async () => {
  corpus = await loadCorpus();
});

/** Code points, counted independently of the build's helper. */
function codePoints(s: string): number {
  return Array.from(s).length;
}

test("the shipped corpus loads from the package root with the nine domains", () => {
  assert.equal(corpus.dir, defaultCorpusDir());
  assert.deepEqual([...corpus.domains], ["public", "news", "creative", "code", "academic", "educational", "math", "forum", "legal"]);
  assert.deepEqual([...corpus.splits], ["train", "valid", "test"]);
  assert.deepEqual(corpus.manifest.domains, [...DOMAINS]);
  for (const d of DOMAINS) for (const s of SPLITS) assert.ok(corpus.documents({ domain: d, split: s }).length > 0, `${d}/${s} is not empty`);
});

test("manifest counts equal the loaded documents and characters, per domain and split", () => {
  const all = corpus.documents();
  assert.equal(all.length, corpus.manifest.counts.all.all.documents);
  for (const d of DOMAINS) {
    for (const s of SPLITS) {
      const docs = all.filter((r) => r.domain === d && r.split === s);
      const c = corpus.manifest.counts[d][s];
      assert.equal(docs.length, c.documents, `${d}/${s} documents`);
      assert.equal(docs.reduce((n, r) => n + codePoints(r.text), 0), c.characters, `${d}/${s} characters`);
      assert.deepEqual(corpus.documents({ domain: d, split: s }), docs, "documents() filter = manual filter");
    }
  }
});

test("ids are unique and every parent sits in exactly one split", () => {
  const ids = new Set<string>();
  const splitOfParent = new Map<string, string>();
  for (const r of corpus.documents()) {
    assert.ok(!ids.has(r.id), `duplicate id ${r.id}`);
    ids.add(r.id);
    assert.ok(r.id.startsWith(`${r.parent}#`), `id ${r.id} starts with its parent`);
    const prev = splitOfParent.get(r.parent);
    if (prev !== undefined) assert.equal(r.split, prev, `parent ${r.parent} crosses splits`);
    splitOfParent.set(r.parent, r.split);
  }
});

test("legal splits are grouped by license family, public slice included", () => {
  const splitOfFamily = new Map<string, string>();
  for (const r of corpus.documents().filter((r) => r.origin === "legal")) {
    const prev = splitOfFamily.get(r.family);
    if (prev !== undefined) assert.equal(r.split, prev, `license family ${r.family} crosses splits`);
    splitOfFamily.set(r.family, r.split);
  }
  assert.ok(splitOfFamily.size > 50);
});

test("the public mix holds the general texts plus a parent-level slice of every closed domain", () => {
  const pub = corpus.documents({ domain: "public" });
  const origins = new Set(pub.map((r) => r.origin));
  assert.deepEqual([...origins].sort(), [...DOMAINS].sort());
  const families = new Set(pub.filter((r) => r.origin === "public").map((r) => r.family));
  assert.deepEqual([...families].sort(), ["devils-dictionary", "kjv"]);
  // A sliced parent lives wholly in public: none of its chunks stayed in its origin domain.
  const slicedParents = new Set(pub.filter((r) => r.origin !== "public").map((r) => r.parent));
  for (const r of corpus.documents()) if (r.domain !== "public") assert.ok(!slicedParents.has(r.parent), `${r.parent} is split between public and ${r.domain}`);
  for (const r of corpus.documents()) if (r.domain !== "public") assert.equal(r.origin, r.domain);
});

test("the held-out math family appears only in the test split, and only there", () => {
  const heldOut = corpus.documents().filter((r) => r.family === `heldout-${HELD_OUT_FAMILY}`);
  assert.ok(heldOut.length >= 100, `${heldOut.length} held-out rows`);
  for (const r of heldOut) {
    assert.equal(r.split, "test");
    assert.equal(r.domain, "math", "held-out sheets are never sliced into public");
  }
  // Its problems (journeys, meeting times) never appear in the training families' text.
  const train = corpus.documents({ domain: "math", split: "train" });
  assert.ok(!train.some((r) => /close the gap at|round trip take/.test(r.text)));
  assert.ok(heldOut.every((r) => /km\/h/.test(r.text)));
  assert.ok(!(HELD_OUT_FAMILY in TRAIN_FAMILIES));
  assert.deepEqual(corpus.manifest.math && (corpus.manifest.math as { heldOutFamily: string }).heldOutFamily, HELD_OUT_FAMILY);
});

test("every output file's sha256 equals the manifest, and nothing is unlisted", () => {
  const files = corpus.manifest.files;
  const onDisk: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(corpus.dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else onDisk.push(r);
    }
  };
  walk("");
  assert.deepEqual(onDisk.filter((f) => f !== "manifest.json").sort(), Object.keys(files).sort());
  for (const [f, { bytes, sha256 }] of Object.entries(files)) {
    const buf = fs.readFileSync(path.join(corpus.dir, f));
    assert.equal(buf.length, bytes, `${f} size`);
    assert.equal(crypto.createHash("sha256").update(buf).digest("hex"), sha256, `${f} sha256`);
  }
  const total = Object.values(files).reduce((s, f) => s + f.bytes, 0);
  assert.ok(total <= 12e6, `corpus is ${total} bytes, budget 12 MB`);
});

test("NOTICE and LICENSES carry the required texts and attributions", () => {
  const notice = fs.readFileSync(path.join(corpus.dir, "NOTICE"), "utf8");
  assert.match(notice, /Free On-line Dictionary of Computing.*Editor Denis Howe/);
  for (const f of ["GFDL-1.1-or-later.txt", "PSF-2.0.txt", "lodash-MIT.txt", "rxjs-Apache-2.0.txt", "WordNet-3.0.txt", "CC0-1.0.txt"]) {
    assert.ok(notice.includes(`LICENSES/${f}`), `NOTICE lists ${f}`);
    assert.ok(fs.statSync(path.join(corpus.dir, "LICENSES", f)).size > 500, `${f} has a real license text`);
  }
  assert.match(fs.readFileSync(path.join(corpus.dir, "LICENSES", "GFDL-1.1-or-later.txt"), "utf8"), /GNU Free Documentation License/);
  // Every license value used by a row is explained in the NOTICE or has a file.
  const used = new Set(corpus.documents().map((r) => r.license));
  for (const l of used) assert.ok(notice.includes(`\n* ${l} — `), `license value ${l} is explained in NOTICE`);
});

test("token counts in the manifest match the shipped tokenizer (recomputed on two cells)", async () => {
  const tk = corpus.manifest.tokenizer;
  assert.ok(tk, "manifest names a tokenizer");
  const tok = await loadTokenizer(path.join(corpus.dir, tk.file));
  assert.equal(tok.vocabSize, tk.vocabSize);
  assert.equal(tk.vocabSize, 4096);
  for (const [d, s] of [["creative", "test"], ["legal", "valid"]] as const) {
    const n = corpus.documents({ domain: d, split: s }).reduce((acc, r) => acc + tok.encode(r.text).length, 0);
    assert.equal(n, corpus.manifest.counts[d][s].tokens, `${d}/${s} tokens`);
  }
});

test("describe() returns the manifest counts and a readable table", () => {
  const sum = corpus.describe();
  assert.equal(sum.vocabSize, 4096);
  for (const d of DOMAINS) assert.deepEqual(sum.domains[d], corpus.manifest.counts[d]);
  assert.equal(sum.total.all.documents, corpus.size);
  const table = sum.toString();
  for (const d of DOMAINS) assert.match(table, new RegExp(`^${d}\\s`, "m"));
  assert.match(table, /documents \(train \/ valid \/ test\)/);
  assert.equal(JSON.parse(JSON.stringify(sum)).domains.math.test.documents, corpus.manifest.counts.math.test.documents);
});

test("unknown domains and splits are refused with the valid names", () => {
  assert.throws(() => corpus.documents({ domain: "reddit" }), (e: Error) => {
    assert.match(e.message, /Unknown domain "reddit"/);
    for (const d of DOMAINS) assert.ok(e.message.includes(d));
    return true;
  });
  assert.throws(() => corpus.documents({ split: "dev" }), /Unknown split "dev"\. Valid splits: train, valid, test/);
});

test("missing corpus directory, manifest or data file give clear errors", async () => {
  const missing = path.join(os.tmpdir(), "flexmix-does-not-exist");
  await assert.rejects(() => loadCorpus(missing), /Corpus directory not found: .*flexmix-does-not-exist/);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "flexmix-empty-"));
  await assert.rejects(() => loadCorpus(empty), /Corpus manifest not found: .*manifest\.json/);
  fs.copyFileSync(path.join(corpus.dir, "manifest.json"), path.join(empty, "manifest.json"));
  await assert.rejects(() => loadCorpus(empty), (e: Error) => {
    assert.match(e.message, /Corpus file not found: .*flexmix-mini\.arrow/);
    assert.match(e.message, /npm run data:build/);
    return true;
  });
});

test("a data file that differs from the manifest hash is refused before decoding", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flexmix-corrupt-"));
  fs.copyFileSync(path.join(corpus.dir, "manifest.json"), path.join(dir, "manifest.json"));
  const bytes = fs.readFileSync(path.join(corpus.dir, corpus.manifest.dataFile));
  bytes[Math.floor(bytes.length / 2)] ^= 0x55; // one flipped byte inside the compressed text
  fs.writeFileSync(path.join(dir, corpus.manifest.dataFile), bytes);
  await assert.rejects(() => loadCorpus(dir), /is corrupt or was modified: sha256/);
});

test("math generator: same seed, same worksheets; the held-out family only in held-out sheets", () => {
  const a = generateMath(7, 30, 5);
  assert.deepEqual(generateMath(7, 30, 5), a);
  assert.notDeepEqual(generateMath(8, 30, 5), a);
  assert.deepEqual(a.filter((w) => w.heldOut).map((w) => w.family), Array(5).fill(`heldout-${HELD_OUT_FAMILY}`));
  // Changing the number of training sheets leaves the held-out sheets unchanged.
  assert.deepEqual(generateMath(7, 10, 5).filter((w) => w.heldOut), a.filter((w) => w.heldOut));
  assert.ok(Object.keys(TRAIN_FAMILIES).length >= 30);
});

test("math generator: worked answers are right (quadratics and linear equations re-checked)", () => {
  const r = new Rng(123);
  for (let i = 0; i < 200; i++) {
    // Statement "... x^2 + bx + c ..." and solution ending in the roots; substitute them back.
    const q = TRAIN_FAMILIES.quadratic({ r, n: "plain" });
    const m = /x\^2(?: ([+-]) (\d*)x)?(?: ([+-]) (\d+))?/.exec(q.statement)!;
    const b = m[1] ? (m[1] === "-" ? -1 : 1) * (m[2] === "" ? 1 : Number(m[2])) : 0;
    const c = m[3] ? (m[3] === "-" ? -1 : 1) * Number(m[4]) : 0;
    const roots = [...q.solution.matchAll(/x = (-?\d+)/g)].map((x) => Number(x[1]));
    assert.ok(roots.length >= 1, q.solution);
    for (const x of roots) assert.equal(x * x + b * x + c, 0, `${q.statement} / ${q.solution}`);

    const l = TRAIN_FAMILIES["linear-equation"]({ r, n: "plain" });
    const e = /(-?\d*)x(?: ([+-]) (\d+))? = (-?\d+)/.exec(l.statement)!;
    const a = e[1] === "" ? 1 : e[1] === "-" ? -1 : Number(e[1]);
    const k = e[2] ? (e[2] === "-" ? -1 : 1) * Number(e[3]) : 0;
    const x = Number(/: x = (-?\d+)\./.exec(l.solution)![1]);
    assert.equal(a * x + k, Number(e[4]), `${l.statement} / ${l.solution}`);
  }
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal), ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]);
});
