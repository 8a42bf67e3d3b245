/**
 * Small shared helpers for the FlexMix-mini build: hashing, seeded randomness, text
 * normalisation and chunking, progress logging.
 *
 * Everything here is deterministic: no Date, no Math.random, no locale-dependent sorting.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Progress } from "../../lib/cli/progress";
import { Rng } from "../../lib/model/rng";

// ---------------------------------------------------------------------------------------------
// Hashing

export function sha256(bytes: Uint8Array | string): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

export function sha256File(file: string): string {
  return sha256(fs.readFileSync(file));
}

import { fmix32, fnv1a32 } from "../../lib/util/hash";
export { fmix32, fnv1a32 };

/**
 * Salted, well-mixed 32-bit hash of a key. FNV-1a alone is not enough here: a change in the last
 * characters (ch001 vs ch002) barely touches its high bits, so hash orders of similar keys were
 * far from random (it once left 1 of 137 Moby-Dick chapters in valid); the finaliser fixes that.
 */
export function keyHash(salt: string, key: string): number {
  return fmix32(fnv1a32(`${salt}\u0000${key}`));
}

/** Sort keys by a salted hash (ties broken by the key), i.e. a deterministic shuffle. */
export function hashOrder<T>(items: readonly T[], key: (t: T) => string, salt: string): T[] {
  const decorated = items.map((t) => ({ t, k: key(t), h: keyHash(salt, key(t)) }));
  decorated.sort((a, b) => a.h - b.h || compareStrings(a.k, b.k));
  return decorated.map((d) => d.t);
}

/** Code-unit string comparison: unlike localeCompare it is the same on every machine. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Relative paths (with "/") of every file under `root`, in `compareStrings` order. */
export function listFiles(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, r));
    else out.push(r);
  }
  return out.sort(compareStrings);
}

/** mulberry32 as a closure: the same sequence as `new Rng(seed).next()` (lib/model/rng.ts). */
export function mulberry32(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next();
}

// ---------------------------------------------------------------------------------------------
// Text normalisation and chunking

/** CRLF/CR → LF, strip trailing spaces, collapse runs of blank lines to one, trim. */
export function normalizeText(s: string): string {
  return s
    .replace(/\r\n?/g, "\n")
    .replace(/[ \t\u00a0]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\s+$/g, "");
}

/** Split prose into sentences (keeps the terminator and following space with the sentence). */
export function splitSentences(text: string): string[] {
  // A sentence ends at . ! ? (optionally followed by a closing quote/bracket) and whitespace.
  // Abbreviations (Mr., U.S.) make a few false splits; harmless for packing into chunks.
  const parts = text.match(/[^.!?]+(?:[.!?]+["'”’)\]]*|$)(?:\s+|$)/g);
  return parts ? parts.filter((p) => p.length > 0) : [text];
}

/** Cut a string at whitespace into pieces of at most `max` characters (last resort). */
function hardSplit(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf(" ", max);
    if (cut < max / 2) cut = max;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^ +/, "");
  }
  if (rest.length > 0) out.push(rest);
  return out;
}

/**
 * Pack units (each ≤ max) into as few chunks of at most `max` characters (joined by `sep`) as
 * greedy packing needs, but evened out: plain greedy packing leaves a tiny last chunk (a lone
 * heading or one verse), so we retry with the smallest limit that needs no extra chunk.
 */
export function packUnits(units: readonly string[], max: number, sep: string): string[] {
  const greedy = packGreedy(units, max, sep);
  if (greedy.length <= 1) return greedy;
  const total = units.reduce((s, u) => s + u.length, 0) + sep.length * (units.length - 1);
  for (let lim = Math.ceil(total / greedy.length); lim < max; lim = Math.ceil(lim * 1.05)) {
    const even = packGreedy(units, lim, sep);
    if (even.length === greedy.length && even.every((c) => c.length <= max)) return even;
  }
  return greedy;
}

function packGreedy(units: readonly string[], max: number, sep: string): string[] {
  const chunks: string[] = [];
  let cur = "";
  for (const u of units) {
    if (cur.length === 0) cur = u;
    else if (cur.length + sep.length + u.length <= max) cur += sep + u;
    else {
      chunks.push(cur);
      cur = u;
    }
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}

/**
 * Chunk prose to at most `max` characters: at paragraph boundaries first, then sentences, then
 * whitespace. Paragraph structure inside a chunk is kept.
 */
export function chunkProse(text: string, max: number): string[] {
  const units: string[] = [];
  for (const para of text.split(/\n\n+/)) {
    if (para.length <= max) {
      units.push(para);
      continue;
    }
    // Line-structured text (verses, poems, lists) splits at line ends; running prose at sentences.
    const lines = para.split("\n");
    if (lines.length > 1 && lines.every((l) => l.length <= max)) {
      units.push(...packUnits(lines, max, "\n"));
      continue;
    }
    const sentences = splitSentences(para).flatMap((s) => (s.length <= max ? [s] : hardSplit(s, max)));
    units.push(...packUnits(sentences, max, "").map((s) => s.trim()));
  }
  return packUnits(units, max, "\n\n").map((c) => c.trim()).filter((c) => c.length > 0);
}

/**
 * Chunk source code to at most `max` characters at top-level boundaries: a line at column 0
 * that starts a definition or a doc comment. A definition longer than `max` is cut at blank
 * lines, then at line ends. The boundary patterns cover Python, JavaScript and TypeScript.
 */
export function chunkCode(text: string, max: number): string[] {
  const lines = text.split("\n");
  const blocks: string[] = [];
  let cur: string[] = [];
  const boundary = /^(?:def |async def |class |@|function |async function |\/\*\*|export |const |let |var |module\.exports|if __name__)/;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    // A decorator or doc comment directly above a definition stays with it: only cut when the
    // previous line is blank or is not itself a boundary start.
    const prevStarts = i > 0 && boundary.test(lines[i - 1]) && /^(?:@|\/\*\*)/.test(lines[i - 1]);
    if (boundary.test(line) && cur.length > 0 && !prevStarts && !insideBlockComment(cur)) {
      blocks.push(cur.join("\n"));
      cur = [];
    }
    cur.push(line);
  }
  if (cur.length > 0) blocks.push(cur.join("\n"));
  const units = blocks.flatMap((b) => {
    if (b.length <= max) return [b];
    const paras = b.split(/\n\n+/).flatMap((p) => (p.length <= max ? [p] : packUnits(p.split("\n").flatMap((l) => (l.length <= max ? [l] : hardSplit(l, max))), max, "\n")));
    return packUnits(paras, max, "\n\n");
  });
  return packUnits(units.map((u) => u.replace(/^\n+|\s+$/g, "")).filter((u) => u.length > 0), max, "\n\n");
}

/** True when the lines so far have opened a `/*` comment that is not closed yet. */
function insideBlockComment(lines: readonly string[]): boolean {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].includes("*/")) return false;
    if (lines[i].includes("/*")) return true;
  }
  return false;
}

/** Slug for ids: lowercase ASCII letters, digits, `-`, `_` and `.`. */
export function slug(s: string, maxLen = 60): string {
  const t = s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return (t.length > 0 ? t : "x").slice(0, maxLen);
}

// ---------------------------------------------------------------------------------------------
// Progress

const t0 = Date.now();

/** The build's progress line (main.ts sets it): log lines go above it, stages advance it. */
let progress: Progress | undefined;
let stagesDone = 0;

export function useProgress(p: Progress | undefined): void {
  progress = p;
  stagesDone = 0;
}

/** Print one log line on stderr with the elapsed build time, e.g. `[  12.3s] news: 1001 chunks`. */
export function log(msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  if (progress) progress.log(`[${s}s] ${msg}`);
  else process.stderr.write(`[${s}s] ${msg}\n`);
}

/** A stage that does not run this time (e.g. --no-tokenizer): it still counts as done on the progress line. */
export function skipStage(): void {
  progress?.update(++stagesDone);
}

/** Run a stage, printing its start, end and duration; with a progress line, one stage is one unit. */
export async function stage<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const start = Date.now();
  log(`▶ ${name}`);
  progress?.stage(name);
  const out = await fn();
  log(`✔ ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  progress?.update(++stagesDone);
  return out;
}

export function fmtInt(n: number): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}
