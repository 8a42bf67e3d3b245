/**
 * Read dictd databases (`NAME.index` + `NAME.dict.dz`). The index lines are
 * `headword \t offset \t length` with offset/length in dictd's base64 (alphabet A–Z a–z 0–9 + /,
 * most significant digit first). `.dict.dz` is dictzip, i.e. a valid gzip file.
 * Aliases share an entry, so entries are deduplicated by offset; the first headword wins.
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function decodeDictdNumber(s: string): number {
  let n = 0;
  for (const c of s) {
    const d = B64.indexOf(c);
    if (d < 0) throw new Error(`dictd: bad base64 digit "${c}" in "${s}"`);
    n = n * 64 + d;
  }
  return n;
}

export interface DictdEntry {
  headword: string;
  offset: number;
  text: string;
}

/** All entries in file order (by offset), skipping the `00-database-*` metadata entries. */
export function readDictd(indexFile: string, dictFile: string): DictdEntry[] {
  const dict = zlib.gunzipSync(fs.readFileSync(dictFile));
  const byOffset = new Map<number, DictdEntry>();
  for (const line of fs.readFileSync(indexFile, "utf8").split("\n")) {
    if (!line) continue;
    const [headword, o, l] = line.split("\t");
    if (/^00-?database/.test(headword)) continue;
    const offset = decodeDictdNumber(o);
    if (byOffset.has(offset)) continue;
    byOffset.set(offset, { headword, offset, text: dict.subarray(offset, offset + decodeDictdNumber(l)).toString("utf8") });
  }
  return [...byOffset.values()].sort((a, b) => a.offset - b.offset);
}
