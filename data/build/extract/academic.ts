/**
 * academic ← FOLDOC, the Free On-line Dictionary of Computing (Debian dict-foldoc). Each entry
 * is `Headword\n\n   <category> body … (YYYY-MM-DD)`. We strip `{cross-ref}` braces (keeping the
 * words), the date stamps and the 3-space indent, keep entries of ≥ 300 characters, and chunk
 * long ones at paragraphs. Debian's own additions (Dictionary.debian, under a different,
 * verbatim-only license) are excluded by headword. Parent = the entry.
 */
import { BUILD_CONFIG } from "../config";
import { DEB_SOURCES } from "../sources";
import { readDictd } from "../dictd";
import { Doc, docsOf } from "../types";
import { chunkProse, normalizeText, slug } from "../util";

/** Headwords of /usr/share/doc/dict-foldoc/Dictionary.debian (Joey Hess & Robert Hilliard). */
const DEBIAN_ADDITIONS = new Set(["developer", "maintainer", "orphan", "MTA", "CMMI", "Capability Maturity Model Integration", "A4C", "Free On-line Dictionary of Computing"]);

export function cleanFoldoc(raw: string): string {
  return normalizeText(
    raw
      .replace(/\{([^{}]*?)(?: \([^(){}]*\))?\}/g, "$1") // {word} → word; {text (url)} → text
      .replace(/^\s*\(\d{4}-\d{2}-\d{2}\)\s*$/gm, "") // last-updated stamps
      .replace(/^ {3}/gm, ""), // the dictd indent
  );
}

export function extractAcademic(): Doc[] {
  const s = DEB_SOURCES.foldoc;
  const entries = readDictd("/usr/share/dictd/foldoc.index", "/usr/share/dictd/foldoc.dict.dz");
  const docs: Doc[] = [];
  const used = new Map<string, number>();
  for (const e of entries) {
    if (DEBIAN_ADDITIONS.has(e.headword)) continue;
    const text = cleanFoldoc(e.text);
    if (text.length < BUILD_CONFIG.foldocMinChars) continue;
    // Front matter entries (the license preamble, acknowledgements) are not definitions.
    if (/^(Free On-line Dictionary of Computing|Acknowledgements|GNU Free Documentation License)\b/.test(text)) continue;
    const base = slug(e.headword);
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    docs.push(
      ...docsOf(
        { origin: "academic", family: "foldoc", parent: `academic/foldoc-${base}${n > 1 ? `~${n}` : ""}`, source: `${s.name}@${s.version}:foldoc.dict.dz#${e.offset}`, license: "GFDL-1.1-or-later" },
        chunkProse(text, BUILD_CONFIG.proseChunk),
      ),
    );
  }
  return docs;
}
