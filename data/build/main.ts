/**
 * Build FlexMix-mini: `npm run data:build` (= tsc && node dist/data/build/main.js).
 *
 *   node dist/data/build/main.js [--out DIR] [--cache DIR] [--allow-drift] [--no-tokenizer] [--json]
 *
 * Stages: fetch + verify sources → extract each domain → dedup / cap / public slice / split →
 * Arrow file → NOTICE + LICENSES → tokenizer (train split) + token counts → manifest.
 * Everything is written to a fresh staging directory that replaces the output directory only when
 * every stage succeeded, so a failed build never leaves a half-updated corpus behind.
 *
 * Deterministic: same pinned inputs ⇒ byte-identical outputs (check: build twice, compare the
 * sha256 values in manifest.json).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DocumentRow, writeDocuments } from "../../lib/data/arrow";
import { writeFileAtomic } from "../../lib/util/fs";
import { DOMAINS, SPLITS } from "../../lib/data/corpus";
import { trainByteLevelBpe } from "../../lib/data/bpe-train";
import { loadTokenizer } from "../../lib/data/tokenizer";
import { packageRoot } from "../../lib/util/package";
import { assemble, AssembleReport } from "./assemble";
import { BUILD_CONFIG } from "./config";
import { extractAcademic } from "./extract/academic";
import { extractCode } from "./extract/code";
import { extractCreative } from "./extract/creative";
import { extractEducational } from "./extract/educational";
import { extractForum } from "./extract/forum";
import { extractGeneral } from "./extract/general";
import { extractLegal } from "./extract/legal";
import { extractMath } from "./extract/math";
import { extractNews } from "./extract/news";
import { LICENSE_VALUES, licenseFiles, noticeText } from "./licenses";
import { buildManifest, countRows, DATA_FILE, TOKENIZER_FILE } from "./manifest";
import { fetchAll, FetchedSources, SourceError } from "./sources";
import { Doc } from "./types";
import { fmtInt, listFiles, log, sha256File, skipStage, stage, useProgress } from "./util";
import { type ParsedArgs, parseScriptArgs, type ScriptSpec } from "../../lib/cli/args";
import { Progress } from "../../lib/cli/progress";

interface Args {
  out: string;
  cache: string;
  allowDrift: boolean;
  tokenizer: boolean;
  json: boolean;
}

export const SPEC: ScriptSpec = {
  prog: "node dist/data/build/main.js",
  summary: "Build FlexMix-mini (npm run data:build): fetch and verify the pinned sources, extract, dedup, split, write the Arrow file, licenses, tokenizer and manifest.",
  description: "The summary table goes to stdout, progress and logs to stderr. The output folder is replaced only when every stage succeeded.",
  flags: [
    { name: "out", type: "string", metavar: "DIR", help: "output folder (default data/flexmix-mini in the package)" },
    { name: "cache", type: "string", metavar: "DIR", help: "downloaded sources (default .sources in the package)" },
    { name: "allow-drift", type: "boolean", help: "accept sources whose checksums changed (recorded as warnings in manifest.json)" },
    { name: "no-tokenizer", type: "boolean", help: "skip training the tokenizer (manifest token counts are then null)" },
    { name: "json", type: "boolean", help: "print the counts and files as one JSON document on stdout instead of the table" },
  ],
  examples: ["npm run data:build", "node dist/data/build/main.js --out /tmp/flexmix --no-tokenizer"],
};

/** The checked arguments from parsed flags; folders resolved against the current directory. */
export function argsFrom(p: ParsedArgs, root: string): Args {
  const f = p.flags;
  return {
    out: f.out !== undefined ? path.resolve(f.out as string) : path.join(root, "data", "flexmix-mini"),
    cache: f.cache !== undefined ? path.resolve(f.cache as string) : path.join(root, ".sources"),
    allowDrift: Boolean(f["allow-drift"]),
    tokenizer: !f["no-tokenizer"],
    json: Boolean(f.json),
  };
}

async function extractAll(src: FetchedSources): Promise<Doc[]> {
  const d = src.npmDir;
  const jobs: [string, () => Doc[] | Promise<Doc[]>][] = [
    ["public (KJV, Devil's Dictionary)", () => extractGeneral(src.kjvDump)],
    ["news", () => extractNews(d.sotu)],
    ["creative", () => extractCreative(d.mobyDick)],
    ["code", () => extractCode({ pyodide: d.pyodide, lodash: d.lodash, rxjs: d.rxjs })],
    ["academic", () => extractAcademic()],
    ["educational", () => extractEducational(d.wordnet)],
    ["math", () => extractMath()],
    ["forum", () => extractForum(d.spamAssassin)],
    ["legal", () => extractLegal(d.spdx)],
  ];
  const all: Doc[] = [];
  for (const [name, fn] of jobs) {
    const t = Date.now();
    const docs = await fn();
    const parents = new Set(docs.map((x) => x.parent)).size;
    const chars = docs.reduce((s, x) => s + x.text.length, 0);
    log(`  ${name.padEnd(34)} ${fmtInt(docs.length).padStart(7)} chunks ${fmtInt(parents).padStart(6)} parents ${fmtInt(chars).padStart(11)} chars  (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    all.push(...docs);
  }
  return all;
}

async function tokenizerStage(dir: string, rows: readonly DocumentRow[]): Promise<{ tokens: number[]; vocabSize: number }> {
  const train = rows.filter((r) => r.split === "train").map((r) => r.text);
  log(`  training byte-level BPE (vocab ${BUILD_CONFIG.vocabSize}) on ${fmtInt(train.length)} train documents …`);
  const json = trainByteLevelBpe(train, { vocabSize: BUILD_CONFIG.vocabSize });
  const file = path.join(dir, TOKENIZER_FILE);
  writeFileAtomic(file, JSON.stringify(json));
  const tok = await loadTokenizer(file);
  log(`  counting tokens of ${fmtInt(rows.length)} documents …`);
  const tokens = rows.map((r) => tok.encode(r.text).length);
  return { tokens, vocabSize: tok.vocabSize };
}

function summaryTable(counts: ReturnType<typeof countRows>): string {
  const head = `${"domain".padEnd(12)}${SPLITS.map((s) => `${s} docs`.padStart(12)).join("")}${"chars".padStart(13)}${"tokens".padStart(12)}`;
  const lines = [head];
  for (const d of [...DOMAINS, "all"]) {
    const c = counts[d];
    lines.push(`${d.padEnd(12)}${SPLITS.map((s) => fmtInt(c[s].documents).padStart(12)).join("")}${fmtInt(c.all.characters).padStart(13)}${(c.all.tokens === null ? "-" : fmtInt(c.all.tokens)).padStart(12)}`);
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const root = packageRoot();
  const args = parseScriptArgs(process.argv.slice(2), SPEC, (p) => argsFrom(p, root));
  const t0 = Date.now();
  const progress = new Progress({ label: "data build", unit: "stages", total: 7, stream: process.stderr, showRate: false });
  useProgress(progress);
  progress.update(0);
  log(`FlexMix-mini build → ${path.relative(process.cwd(), args.out) || "."} (sources cache ${path.relative(process.cwd(), args.cache)})`);

  const src = await stage("1/7 fetch and verify sources", () => fetchAll(args.cache, args.allowDrift));
  const extracted = await stage("2/7 extract domains", () => extractAll(src));
  const { rows, report } = await stage("3/7 dedup, cap, public slice, split", () => assemble(extracted));

  const staging = `${args.out}.staging-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.join(staging, "LICENSES"), { recursive: true });
  try {
    const bytes = await stage(`4/7 write ${DATA_FILE} (ZSTD ${BUILD_CONFIG.zstdLevel})`, () => writeDocuments(path.join(staging, DATA_FILE), rows, { level: BUILD_CONFIG.zstdLevel }));
    log(`  ${fmtInt(rows.length)} rows, ${(bytes / 1e6).toFixed(2)} MB`);

    const lic = await stage("5/7 NOTICE and LICENSES/", () => {
      const known = new Set(LICENSE_VALUES.map(([id]) => id));
      const unknown = [...new Set(rows.map((r) => r.license))].filter((l) => !known.has(l));
      if (unknown.length > 0) throw new Error(`license value(s) ${unknown.join(", ")} are not explained in NOTICE: add them to LICENSE_VALUES in data/build/licenses.ts`);
      const files = licenseFiles(src);
      for (const l of files) writeFileAtomic(path.join(staging, "LICENSES", l.file), l.text);
      writeFileAtomic(path.join(staging, "NOTICE"), noticeText(src));
      return files.map(({ file, covers }) => ({ file, covers }));
    });

    let tokens: number[] | null = null;
    let vocabSize: number | null = null;
    if (args.tokenizer) {
      ({ tokens, vocabSize } = await stage("6/7 tokenizer (train split) and token counts", () => tokenizerStage(staging, rows)));
    } else {
      log("6/7 tokenizer skipped (--no-tokenizer): manifest token counts will be null");
      skipStage();
    }

    await stage("7/7 manifest.json", () => {
      const files: Record<string, { bytes: number; sha256: string }> = {};
      for (const f of listFiles(staging)) files[f] = { bytes: fs.statSync(path.join(staging, f)).size, sha256: sha256File(path.join(staging, f)) };
      const manifest = buildManifest({ rows, tokens, vocabSize, files, report: report as AssembleReport, sources: src, licenses: lic });
      writeFileAtomic(path.join(staging, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    });

    // Swap the finished build into place.
    const old = `${args.out}.old-${process.pid}`;
    if (fs.existsSync(args.out)) fs.renameSync(args.out, old);
    fs.renameSync(staging, args.out);
    fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }

  progress.finish();
  useProgress(undefined);
  const manifest = JSON.parse(fs.readFileSync(path.join(args.out, "manifest.json"), "utf8")) as { counts: ReturnType<typeof countRows>; files: Record<string, { bytes: number }> };
  const total = Object.values(manifest.files).reduce((s, f) => s + f.bytes, 0);
  if (args.json) process.stdout.write(`${JSON.stringify({ out: args.out, seconds: (Date.now() - t0) / 1000, bytes: total, counts: manifest.counts, files: manifest.files, warnings: src.warnings }, null, 2)}\n`);
  else process.stdout.write(`${summaryTable(manifest.counts)}\n`);
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${Object.keys(manifest.files).length + 1} files, ${(total / 1e6).toFixed(2)} MB (+ manifest.json)`);
  if (src.warnings.length > 0) log(`${src.warnings.length} drift warning(s); see manifest.json "warnings"`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    if (e instanceof SourceError) {
      process.stderr.write(`\nFlexMix-mini build failed: missing or changed source.\n${e.message}\n`);
    } else {
      process.stderr.write(`\nFlexMix-mini build failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    process.exit(1);
  });
}
