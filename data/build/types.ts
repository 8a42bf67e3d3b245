/**
 * The build's in-memory document: one chunk of one parent, before the split and the public
 * slice are decided. `group` is the key the train/valid/test split is drawn from (the parent,
 * or something coarser such as a license family) so related texts never straddle splits.
 */
import type { Domain } from "../../lib/data/corpus";

export interface Doc {
  /** The domain the text comes from; sliced into `public` later for some parents. */
  origin: Domain;
  /** Sub-source (e.g. `python`, `kjv`) or, for math, the problem family of the worksheet. */
  family: string;
  /** Natural document, e.g. `news/sotu-1905_theodore_roosevelt_r`. Unique across the corpus. */
  parent: string;
  /** Split group: rows sharing it always land in one split. Defaults to `parent`. */
  group: string;
  /** Chunk index within the parent, from 0. */
  chunk: number;
  /** `package@version:path` of the input, or the generator and its seed. */
  source: string;
  license: string;
  text: string;
  /** Math held-out family: forced into the test split and kept out of the public slice. */
  heldOut?: boolean;
}

/** Turn a parent's chunks into Docs. */
export function docsOf(base: Omit<Doc, "chunk" | "text" | "group"> & { group?: string }, chunks: readonly string[]): Doc[] {
  return chunks.map((text, chunk) => ({ ...base, group: base.group ?? base.parent, chunk, text }));
}
