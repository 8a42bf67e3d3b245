/**
 * legal ← SPDX license texts (npm spdx-license-list, spdx-full.json: id → {name, licenseText}).
 * Texts under 300 characters and non-English texts (a stopword vote: the CC-*-DE/FR ports,
 * CeCILL, …) are skipped; the rest is chunked at paragraphs. Parent = the license id; the split
 * group is the license family (id prefix: GPL, CC, BSD, …), because variants of one family share
 * most of their wording and would otherwise leak from train into test.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILD_CONFIG } from "../config";
import { NPM_SOURCES } from "../sources";
import { Doc, docsOf } from "../types";
import { chunkProse, compareStrings, normalizeText } from "../util";

const STOPWORDS: Record<string, Set<string>> = {
  en: new Set("the and of to in or any this that for by with is be".split(" ")),
  de: new Set("der die und das nicht mit von zu den ist eine oder".split(" ")),
  fr: new Set("le la les et des du est une pour dans que ou".split(" ")),
  es: new Set("el los las y que del por una para con o en".split(" ")),
  it: new Set("il di che della per non una sono delle gli".split(" ")),
  nl: new Set("de het een van en dat niet voor zijn met".split(" ")),
};

/** Language with the most stopword hits among the first 2000 words. */
export function guessLanguage(text: string): string {
  const words = text.toLowerCase().match(/[a-zà-ÿ]+/g)?.slice(0, 2000) ?? [];
  let best = "en";
  let bestCount = -1;
  for (const [lang, set] of Object.entries(STOPWORDS)) {
    const c = words.filter((w) => set.has(w)).length;
    if (c > bestCount) [best, bestCount] = [lang, c];
  }
  return best;
}

/**
 * License family used as the split group: the id up to its version number, e.g. GPL-3.0-only → gpl,
 * CC-BY-SA-4.0 → cc-by-sa, BSD-3-Clause → bsd, Apache-1.1 → apache. Versions and variants of one
 * license share most wording; families that merely share boilerplate (CC-BY vs CC-BY-SA) stay
 * separate so the split is not dominated by one giant group (the data study measured that the
 * grouping barely changes leakage either way).
 */
export function licenseFamily(id: string): string {
  const m = /^(.+?)-v?\d/.exec(id);
  return (m ? m[1] : id).replace(/[-+]+$/, "").toLowerCase();
}

export function extractLegal(dir: string): Doc[] {
  const s = NPM_SOURCES.spdx;
  const list = JSON.parse(fs.readFileSync(path.join(dir, "spdx-full.json"), "utf8")) as Record<string, { name: string; licenseText?: string }>;
  const docs: Doc[] = [];
  for (const id of Object.keys(list).sort(compareStrings)) {
    const text = normalizeText(list[id].licenseText ?? "");
    if (text.length < BUILD_CONFIG.legalMinChars || guessLanguage(text) !== "en") continue;
    docs.push(
      ...docsOf(
        {
          origin: "legal",
          family: licenseFamily(id),
          parent: `legal/spdx-${id}`, // SPDX ids are already [A-Za-z0-9.+-]: no slug, which would merge LGPL-2.0 and LGPL-2.0+
          group: `legal-family/${licenseFamily(id)}`,
          source: `${s.name}@${s.version}:spdx-full.json#${id}`,
          license: "LicenseRef-license-text",
        },
        chunkProse(text, BUILD_CONFIG.proseChunk),
      ),
    );
  }
  return docs;
}
