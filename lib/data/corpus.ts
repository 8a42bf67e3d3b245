/**
 * FlexMix-mini: the shipped corpus. A public mix plus eight "closed" domains, the small analogue
 * of the paper's FlexMix (public data + one private data set per owner expert).
 *
 *   const corpus = await loadCorpus();              // data/flexmix-mini inside the package
 *   corpus.documents({ domain: "math", split: "test" });
 *   console.log(corpus.describe().toString());       // documents / characters / tokens table
 *
 * The data lives in one ZSTD-compressed Arrow file (see lib/data/arrow.ts) next to a
 * manifest.json written by the build (data/build/main.ts), which pins sources and hashes and
 * holds the per-domain, per-split counts that describe() reports.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { inspect } from "node:util";
// Types only: apache-arrow (≈ 150 modules) loads when a corpus is read, not on `require("flexolmo-lab")`.
import type { DocumentRow } from "./document-row";
import { packageRoot } from "../util/package";

/** Expert data sets, in router-row order: the public mix first, then the eight closed domains. */
export const DOMAINS = ["public", "news", "creative", "code", "academic", "educational", "math", "forum", "legal"] as const;
export type Domain = (typeof DOMAINS)[number];

export const SPLITS = ["train", "valid", "test"] as const;
export type Split = (typeof SPLITS)[number];

/** A row whose domain and split have been checked against DOMAINS and SPLITS. */
export interface CorpusDocument extends DocumentRow {
  domain: Domain;
  split: Split;
}

/** Counts for one domain × split, as recorded by the build. */
export interface Counts {
  documents: number;
  characters: number;
  /** Tokens under the corpus tokenizer (tokenizer.json); null if the build had no tokenizer. */
  tokens: number | null;
}

/** manifest.json, as written by data/build/manifest.ts. Only the fields the loader relies on are typed strictly. */
export interface Manifest {
  name: string;
  version: string;
  buildCommand: string;
  dataFile: string;
  tokenizer: { file: string; vocabSize: number } | null;
  domains: string[];
  splits: string[];
  counts: Record<string, Record<string, Counts>>;
  files: Record<string, { bytes: number; sha256: string }>;
  sources: unknown[];
  [extra: string]: unknown;
}

export function isDomain(s: string): s is Domain {
  return (DOMAINS as readonly string[]).includes(s);
}

export function isSplit(s: string): s is Split {
  return (SPLITS as readonly string[]).includes(s);
}

/** Throw a clear error for an unknown domain name; returns it typed otherwise. */
export function checkDomain(s: string): Domain {
  if (!isDomain(s)) throw new Error(`Unknown domain "${s}". Valid domains: ${DOMAINS.join(", ")}.`);
  return s;
}

/** Throw a clear error for a bad split name; returns it typed otherwise. */
export function checkSplit(s: string): Split {
  if (!isSplit(s)) throw new Error(`Unknown split "${s}". Valid splits: ${SPLITS.join(", ")}.`);
  return s;
}

/** The shipped corpus: `<package root>/data/flexmix-mini` (works from lib/ and dist/lib/, any cwd). */
export function defaultCorpusDir(): string {
  return path.join(packageRoot(), "data", "flexmix-mini");
}

export interface LoadOptions {
  /**
   * Check the data file's sha256 against the manifest before decoding (default true; ~20 ms).
   * A mismatch means a corrupt or hand-edited file, which would otherwise decode to wrong text.
   */
  verify?: boolean;
}

/** One domain's counts per split, plus "all". */
export type SplitCounts = Record<Split | "all", Counts>;

/** What describe() returns: plain data plus a toString() table. */
export interface CorpusSummary {
  name: string;
  version: string;
  dir: string;
  vocabSize: number | null;
  domains: Record<Domain, SplitCounts>;
  total: SplitCounts;
  toString(): string;
  /** The REPL and console.log print the table, not the nested counts. */
  [inspect.custom](): string;
}

function fix(s: string, hint: string): string {
  return `${s} ${hint}`;
}

const REBUILD = "Regenerate it with `npm run data:build`, or restore the committed files with `git checkout -- data/flexmix-mini`.";

function compact(n: number | null): string {
  if (n === null) return "-";
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

/** The loaded corpus: every document in memory (~25 M characters), indexed by domain and split. */
export class Corpus {
  readonly domains: readonly Domain[] = DOMAINS;
  readonly splits: readonly Split[] = SPLITS;
  private readonly byKey = new Map<string, CorpusDocument[]>();

  constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    private readonly rows: readonly CorpusDocument[],
  ) {
    for (const r of rows) {
      for (const key of [`${r.domain}/${r.split}`, `${r.domain}/*`, `*/${r.split}`]) {
        let list = this.byKey.get(key);
        if (!list) this.byKey.set(key, (list = []));
        list.push(r);
      }
    }
  }

  /** Number of documents. */
  get size(): number {
    return this.rows.length;
  }

  /**
   * Documents in file order (domain, split, parent, chunk), optionally filtered. Unknown names
   * throw with the list of valid ones. Returns a fresh array; the rows themselves are shared, so
   * treat them as read-only.
   */
  documents(query: { domain?: string; split?: string } = {}): CorpusDocument[] {
    const d = query.domain === undefined ? "*" : checkDomain(query.domain);
    const s = query.split === undefined ? "*" : checkSplit(query.split);
    if (d === "*" && s === "*") return this.rows.slice();
    return (this.byKey.get(`${d}/${s}`) ?? []).slice();
  }

  /** Per domain × split counts from the manifest (documents, characters, tokens), with a table. */
  describe(): CorpusSummary {
    const m = this.manifest;
    const domains = {} as Record<Domain, SplitCounts>;
    for (const d of DOMAINS) domains[d] = m.counts[d] as SplitCounts;
    const total = m.counts.all as SplitCounts;
    const dir = this.dir;
    const vocabSize = m.tokenizer?.vocabSize ?? null;
    return {
      name: m.name,
      version: m.version,
      dir,
      vocabSize,
      domains,
      total,
      toString(): string {
        const cell = (c: SplitCounts, k: keyof Counts) => SPLITS.map((s) => compact(c[s][k])).join(" / ");
        const header = ["domain", "documents (train / valid / test)", "characters (train / valid / test)", "tokens (train / valid / test)"];
        const body = [...DOMAINS.map((d) => [d, domains[d]]), ["all", total]] as [string, SplitCounts][];
        const rows = body.map(([name, c]) => [name, cell(c, "documents"), cell(c, "characters"), cell(c, "tokens")]);
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
        const line = (r: string[]) => r.map((x, i) => x.padEnd(widths[i])).join("  ").trimEnd();
        const title = `${m.name} ${m.version}: ${total.all.documents} documents, ${compact(total.all.characters)} characters, ${compact(total.all.tokens)} tokens${vocabSize ? ` (BPE vocab ${vocabSize})` : ""}`;
        return [title, line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
      },
      [inspect.custom](): string {
        return this.toString();
      },
    };
  }

  /** One line: which corpus, how many documents, from where. */
  toString(): string {
    return `Corpus ${this.manifest.name} ${this.manifest.version}: ${this.rows.length} documents in ${this.domains.length} domains (${this.dir}); describe() has the counts`;
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field. */
  [inspect.custom](): string {
    return this.toString();
  }
}

function readManifest(dir: string): Manifest {
  const file = path.join(dir, "manifest.json");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(fix(`Corpus manifest not found: ${file}.`, REBUILD));
    throw e;
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new Error(fix(`Corpus manifest ${file} is not valid JSON (${(e as Error).message}).`, REBUILD));
  }
  for (const k of ["dataFile", "counts", "files"] as const) {
    if (m[k] === undefined) throw new Error(fix(`Corpus manifest ${file} has no "${k}" field; it was not written by data/build.`, REBUILD));
  }
  return m;
}

/**
 * Load FlexMix-mini (default: the copy shipped in the package). Checks the data file against the
 * manifest's sha256 and every row's domain and split, so a damaged corpus fails loudly here
 * rather than producing odd training curves later.
 */
export async function loadCorpus(dir?: string, opts: LoadOptions = {}): Promise<Corpus> {
  const root = path.resolve(dir ?? defaultCorpusDir());
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new Error(fix(`Corpus directory not found: ${root}.`, dir === undefined ? REBUILD : "Check the path (it should contain manifest.json and the .arrow file)."));
  }
  const manifest = readManifest(root);
  const dataPath = path.join(root, manifest.dataFile);
  if (opts.verify ?? true) {
    const want = manifest.files[manifest.dataFile]?.sha256;
    if (fs.existsSync(dataPath) && want !== undefined) {
      const got = crypto.createHash("sha256").update(fs.readFileSync(dataPath)).digest("hex");
      if (got !== want) {
        throw new Error(fix(`Corpus file ${dataPath} is corrupt or was modified: sha256 ${got.slice(0, 12)}… differs from the manifest's ${want.slice(0, 12)}….`, REBUILD));
      }
    }
  }
  const { readDocuments } = await import("./arrow");
  const rows = await readDocuments(dataPath);
  for (const r of rows) {
    if (!isDomain(r.domain) || !isSplit(r.split)) {
      throw new Error(fix(`Corpus file ${dataPath}: row ${r.id} has domain "${r.domain}" / split "${r.split}", expected one of ${DOMAINS.join(", ")} / ${SPLITS.join(", ")}.`, REBUILD));
    }
  }
  return new Corpus(root, manifest, rows as CorpusDocument[]);
}
