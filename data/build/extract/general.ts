/**
 * public, general part ← the King James Bible (Debian bible-kjv, dumped with the packaged
 * `bible` program; one parent per chapter, verses unwrapped to one line each) and Ambrose
 * Bierce's Devil's Dictionary (Debian dict-devil; entries of ≥ 120 characters, one parent each).
 * Both are public domain. The KJV is capped (hash order of chapters) so it does not dominate.
 */
import { BUILD_CONFIG } from "../config";
import { DEB_SOURCES } from "../sources";
import { readDictd } from "../dictd";
import { Doc, docsOf } from "../types";
import { chunkProse, hashOrder, normalizeText, slug } from "../util";

/** Split the dump into chapters: a heading line "Book N" followed by `  V text` verses. */
export function parseKjv(dump: string): { book: string; chapter: number; text: string }[] {
  const chapters: { book: string; chapter: number; lines: string[] }[] = [];
  for (const line of dump.split("\n")) {
    // A wrapped verse line could also end in a number, so a heading must continue the sequence.
    const h = /^((?:[1-3] )?[A-Z][A-Za-z ]*?) (\d+)$/.exec(line);
    const prev = chapters[chapters.length - 1];
    if (h && (h[2] === "1" || (prev && prev.book === h[1] && prev.chapter + 1 === parseInt(h[2], 10)))) {
      chapters.push({ book: h[1], chapter: parseInt(h[2], 10), lines: [] });
      continue;
    }
    const cur = chapters[chapters.length - 1];
    if (!cur || line.trim() === "") continue;
    if (/^ +\d+ /.test(line)) cur.lines.push(line.trim());
    else if (cur.lines.length > 0) cur.lines[cur.lines.length - 1] += ` ${line.trim()}`; // wrapped verse
    else throw new Error(`kjv: unexpected line before the first verse of ${cur.book} ${cur.chapter}: "${line}"`);
  }
  return chapters.map((c) => ({ book: c.book, chapter: c.chapter, text: `${c.book} ${c.chapter}\n${c.lines.join("\n")}` }));
}

export function extractGeneral(kjvDump: string): Doc[] {
  const docs: Doc[] = [];
  const kjv = DEB_SOURCES.kjv;
  const chapters = parseKjv(kjvDump);
  if (chapters.length !== 1189) throw new Error(`kjv: expected 1189 chapters in the dump, parsed ${chapters.length}`);
  let budget = BUILD_CONFIG.kjvChars;
  for (const c of hashOrder(chapters, (c) => `${c.book} ${c.chapter}`, "kjv")) {
    if (budget <= 0) break;
    budget -= c.text.length;
    docs.push(
      ...docsOf(
        { origin: "public", family: "kjv", parent: `public/kjv-${slug(c.book)}-${String(c.chapter).padStart(3, "0")}`, source: `${kjv.name}@${kjv.version}:bible ${c.book.replace(/ /g, "")}${c.chapter}`, license: "public-domain" },
        chunkProse(c.text, BUILD_CONFIG.proseChunk),
      ),
    );
  }
  const devil = DEB_SOURCES.devil;
  for (const e of readDictd("/usr/share/dictd/devil.index", "/usr/share/dictd/devil.dict.dz")) {
    const text = normalizeText(e.text);
    if (text.length < BUILD_CONFIG.devilMinChars) continue;
    if (/^The original data is available|THE DEVIL'S DICTIONARY/.test(text)) continue; // front matter
    docs.push(
      ...docsOf(
        { origin: "public", family: "devils-dictionary", parent: `public/devil-${slug(e.headword)}`, source: `${devil.name}@${devil.version}:devil.dict.dz#${e.offset}`, license: "public-domain" },
        chunkProse(text, BUILD_CONFIG.proseChunk),
      ),
    );
  }
  return docs;
}
