/**
 * The small non-cryptographic hashes used across the project, in one place so that a seed or a
 * hash bucket means the same thing in the corpus build, the batcher, the classifier and the
 * embedder. Changing any of these changes data orders, buckets and therefore results: don't.
 */
import { createHash } from "node:crypto";

/** 32-bit FNV-1a over the UTF-16 code units of `s` (unsigned). Cheap and stable; weak low bits. */
export function fnv1a32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's 32-bit finaliser: spreads every input bit over every output bit (use before `% n`). */
export function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * The first 32 bits of sha256(s), big-endian (unsigned): the lab's rule for deriving a per-purpose
 * seed or a stable document order from a string ("owner:math", "cloze:code:<doc id>").
 */
export function sha256u32(s: string): number {
  return createHash("sha256").update(s).digest().readUInt32BE(0);
}
