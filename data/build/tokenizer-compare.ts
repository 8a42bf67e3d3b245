/**
 * Compare two byte-level BPE tokenizers of the same size trained on the same text:
 *   (a) the `tokenizers` package's only trainer (Hugging Face's default BpeTrainer, which reads its
 *       files LINE BY LINE), truncated to the target size the way the data study did it: keep the
 *       256 byte symbols + specials + the first merges, rebuilding the vocab in merge order (greedy
 *       BPE is prefix-stable, so this equals training with that vocab size);
 *   (b) ours, `trainByteLevelBpe` (lib/data/bpe-train.ts), which counts pre-tokens over whole documents.
 * Prints characters per token per domain on held-out text, and how many merges contain a newline
 * ("Ċ"), for both. With --speed it also times bulk encoding with all three encoders.
 *
 *   npx tsc -p tsconfig.json && node dist/data/build/tokenizer-compare.js [--corpus DIR] [--vocab N] [--speed]
 *
 * Text: the FlexMix-mini train split (training) and valid split (measurement), all domains. If the
 * corpus is not built, a FALLBACK set from files on a Debian machine is used instead, chunked to
 * 3000 characters with every 10th chunk held out: code = /usr/lib/python3.N/NAME.py,
 * legal = /usr/share/common-licenses/NAME, docs = /usr/share/doc/PKG/README* (prose-like).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";

import { loadCorpus } from "../../lib/data/corpus";
import { byteToUnicode, DEFAULT_SPECIAL_TOKENS, trainByteLevelBpe, type TokenizerJson } from "../../lib/data/bpe-train";
import { referenceEncoders, tokenizerFromJson, type Tokenizer } from "../../lib/data/tokenizer";
import { packageRoot } from "../../lib/util/package";
import { type ParsedArgs, parseScriptArgs, type ScriptSpec, UsageError } from "../../lib/cli/args";

interface Doc {
  domain: string;
  split: "train" | "valid";
  text: string;
}

interface Args {
  corpus: string;
  vocab: number;
  speed: boolean;
}

export const SPEC: ScriptSpec = {
  prog: "node dist/data/build/tokenizer-compare.js",
  summary: "Compare Hugging Face's default BPE trainer (truncated) with ours at the same vocabulary size: characters per token per domain on held-out text, merges with a newline.",
  flags: [
    { name: "corpus", type: "string", metavar: "DIR", help: "FlexMix-mini folder (default data/flexmix-mini; without it, a fallback text set from Debian files)" },
    { name: "vocab", type: "int", metavar: "N", help: "vocabulary size, at least 258 (default 4096)" },
    { name: "speed", type: "boolean", help: "also time bulk encoding with all three encoders" },
  ],
};

/** The checked arguments from parsed flags (throws UsageError). */
export function argsFrom(p: ParsedArgs): Args {
  const vocab = (p.flags.vocab as number | undefined) ?? 4096;
  if (vocab < 258) throw new UsageError(`--vocab must be an integer ≥ 258 (got ${vocab})`);
  return { corpus: p.flags.corpus !== undefined ? path.resolve(p.flags.corpus as string) : path.join(packageRoot(), "data", "flexmix-mini"), vocab, speed: Boolean(p.flags.speed) };
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

async function corpusDocs(dir: string): Promise<Doc[] | null> {
  if (!fs.existsSync(path.join(dir, "manifest.json"))) return null;
  return (await loadCorpus(dir))
    .documents()
    .filter((r) => r.split === "train" || r.split === "valid")
    .map((r) => ({ domain: r.domain, split: r.split as "train" | "valid", text: r.text }));
}

function fallbackDocs(): Doc[] {
  const docs: Doc[] = [];
  let n = 0;
  const add = (domain: string, text: string) => {
    for (let i = 0; i < text.length; i += 3000) docs.push({ domain, split: n++ % 10 === 9 ? "valid" : "train", text: text.slice(i, i + 3000) });
  };
  const read = (file: string) => {
    const buf = fs.readFileSync(file);
    return (file.endsWith(".gz") ? zlib.gunzipSync(buf) : buf).toString("utf8");
  };
  const sorted = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
  for (const py of sorted("/usr/lib").filter((d) => /^python3\.\d+$/.test(d))) {
    for (const f of sorted(`/usr/lib/${py}`).filter((f) => f.endsWith(".py"))) add("code", read(`/usr/lib/${py}/${f}`));
  }
  for (const f of sorted("/usr/share/common-licenses")) {
    const p = `/usr/share/common-licenses/${f}`;
    if (fs.statSync(p).isFile()) add("legal", read(p));
  }
  for (const pkg of sorted("/usr/share/doc")) {
    for (const f of sorted(`/usr/share/doc/${pkg}`).filter((f) => /^README/.test(f))) {
      const p = `/usr/share/doc/${pkg}/${f}`;
      if (fs.statSync(p).isFile()) add("docs", read(p));
    }
  }
  if (docs.length === 0) throw new Error("no corpus and no fallback text found (/usr/lib/python3.*, /usr/share/common-licenses, /usr/share/doc); build the corpus first: npm run data:build");
  return docs;
}

// ---------------------------------------------------------------------------------------------
// (a) Hugging Face's default trainer, truncated
// ---------------------------------------------------------------------------------------------

function trainHfTruncated(texts: readonly string[], vocabSize: number): TokenizerJson {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const hf = require("tokenizers") as typeof import("tokenizers");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-hf-bpe-"));
  try {
    // One file, documents one after another: the trainer reads lines, so document boundaries
    // do not matter to it anyway.
    const file = path.join(dir, "train.txt");
    fs.writeFileSync(file, texts.join("\n"));
    const tok = new hf.Tokenizer(hf.BPE.empty());
    tok.setPreTokenizer(hf.byteLevelPreTokenizer(false, true));
    tok.train([file]); // default BpeTrainer: vocab 30 000, no specials, no initial alphabet
    const out = path.join(dir, "hf.json");
    tok.save(out, false);
    const trained = JSON.parse(fs.readFileSync(out, "utf8")) as { model: { merges: (string | [string, string])[] } };
    const merges = trained.model.merges.map((m) => (typeof m === "string" ? (m.split(" ") as [string, string]) : m));
    // Rebuild: specials, 256 bytes, then merge results in merge order until the vocab is full.
    const vocab = new Set<string>([...DEFAULT_SPECIAL_TOKENS, ...byteToUnicode]);
    const kept: [string, string][] = [];
    const newTokens: string[] = [];
    for (const [l, r] of merges) {
      if (vocab.size >= vocabSize) break;
      if (!vocab.has(l) || !vocab.has(r)) continue; // cannot happen for a prefix of the merges; kept as a guard
      kept.push([l, r]);
      if (!vocab.has(l + r)) {
        vocab.add(l + r);
        newTokens.push(l + r);
      }
    }
    // Reuse our writer so (a) and (b) differ only in their merges.
    const json = trainByteLevelBpe([], { vocabSize: DEFAULT_SPECIAL_TOKENS.length + 256 });
    let id = DEFAULT_SPECIAL_TOKENS.length + 256;
    for (const t of newTokens) json.model.vocab[t] = id++;
    json.model.merges = kept;
    return json;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const maxRss = () => process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB

function newlineMerges(json: TokenizerJson): number {
  return json.model.merges.filter(([l, r]) => (l + r).includes("Ċ")).length;
}

function charsPerToken(tok: Tokenizer, docs: readonly Doc[], domains: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  let chars = 0;
  let tokens = 0;
  for (const d of domains) {
    const texts = docs.filter((x) => x.domain === d).map((x) => x.text);
    const c = texts.reduce((s, t) => s + t.length, 0);
    const n = texts.reduce((s, t) => s + tok.encode(t).length, 0);
    out[d] = c / n;
    chars += c;
    tokens += n;
  }
  out.all = chars / tokens;
  return out;
}

async function main(): Promise<void> {
  const args = parseScriptArgs(process.argv.slice(2), SPEC, argsFrom);
  const fromCorpus = await corpusDocs(args.corpus);
  const docs = fromCorpus ?? fallbackDocs();
  const source = fromCorpus ? `FlexMix-mini (${args.corpus})` : "FALLBACK text set (no corpus found; see the file header)";
  const train = docs.filter((d) => d.split === "train").map((d) => d.text);
  const held = docs.filter((d) => d.split === "valid");
  const domains = [...new Set(docs.map((d) => d.domain))].sort();
  const trainChars = train.reduce((s, t) => s + t.length, 0);
  console.log(`text: ${source}`);
  console.log(`train: ${train.length} docs, ${(trainChars / 1e6).toFixed(2)} M chars; measured on valid: ${held.length} docs`);
  console.log(`vocab: ${args.vocab}; ${os.cpus().length} CPUs; max RSS after loading text: ${mb(maxRss())}\n`);

  let t = performance.now();
  const ours = trainByteLevelBpe(train, { vocabSize: args.vocab });
  const oursSeconds = (performance.now() - t) / 1000;
  const rssAfterOurs = maxRss();
  t = performance.now();
  const hf = trainHfTruncated(train, args.vocab);
  const hfSeconds = (performance.now() - t) / 1000;
  console.log(`(b) ours:                 ${oursSeconds.toFixed(1)} s, max RSS so far ${mb(rssAfterOurs)}`);
  console.log(`(a) HF default, truncated: ${hfSeconds.toFixed(1)} s (full 30 000-token training), max RSS so far ${mb(maxRss())}\n`);

  const tokA = tokenizerFromJson(hf);
  const tokB = tokenizerFromJson(ours);
  const cptA = charsPerToken(tokA, held, domains);
  const cptB = charsPerToken(tokB, held, domains);
  console.log("characters per token on held-out text (higher = shorter sequences)");
  console.log(`${"domain".padEnd(13)}${"(a) HF".padStart(9)}${"(b) ours".padStart(10)}${"change".padStart(9)}`);
  for (const d of [...domains, "all"]) {
    console.log(`${d.padEnd(13)}${cptA[d].toFixed(3).padStart(9)}${cptB[d].toFixed(3).padStart(10)}${`${(((cptB[d] / cptA[d]) - 1) * 100).toFixed(1)} %`.padStart(9)}`);
  }
  console.log(`\nmerges containing a newline (Ċ): (a) ${newlineMerges(hf)} of ${hf.model.merges.length}, (b) ${newlineMerges(ours)} of ${ours.model.merges.length}`);
  const nlTokens = ours.model.merges.map(([l, r]) => l + r).filter((s) => s.includes("Ċ"));
  console.log(`(b)'s first newline tokens: ${nlTokens.slice(0, 12).map((s) => JSON.stringify(s)).join(" ")}`);

  if (args.speed) {
    // Bulk encoding of the held-out text with each implementation, same tokenizer (ours).
    const texts = held.map((d) => d.text);
    const chars = texts.reduce((s, x) => s + x.length, 0);
    const ref = referenceEncoders(ours);
    const fresh = tokenizerFromJson(ours); // empty cache, as a first run would have
    const rows: [string, () => Promise<number[][]>][] = [
      ["ours (encodeBatch)", () => fresh.encodeBatch(texts)],
      ["tokenizers, Rust (encodeBatch)", () => ref.hfRust.encodeBatch(texts)],
      ["@huggingface/tokenizers, JS", async () => texts.map((x) => ref.hfJs.encode(x))],
    ];
    console.log(`\nbulk encode of ${texts.length} docs, ${(chars / 1e6).toFixed(2)} M chars:`);
    let reference: string | null = null;
    for (const [name, run] of rows) {
      const t0 = performance.now();
      const ids = await run();
      const s = (performance.now() - t0) / 1000;
      const digest = JSON.stringify(ids);
      reference ??= digest;
      console.log(`  ${name.padEnd(32)} ${s.toFixed(2).padStart(6)} s  ${(chars / s / 1e6).toFixed(2).padStart(6)} M chars/s  ids ${digest === reference ? "identical" : "DIFFERENT"}`);
    }
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`tokenizer-compare failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
