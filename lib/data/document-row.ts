/**
 * The corpus row type, apart from lib/data/arrow.ts: the declarations of "flexolmo-lab" reach this
 * type through the corpus, and if it lived in arrow.ts the notebook kernel's TypeScript would parse
 * apache-arrow's ~130 declaration files for the first `import ... from "flexolmo-lab"` (≈ 15 % of
 * that cell's time) although no public signature uses an Arrow type.
 */

/** One document of the corpus. Every field is a plain string so rows serialise as they are. */
export interface DocumentRow {
  /** Unique id: `<parent>#<chunk>`, e.g. `news/sotu-1905_theodore_roosevelt_r#3`. */
  id: string;
  /** Which expert's data this row belongs to: `public` or one of the eight closed domains. */
  domain: string;
  /** Where the text came from; differs from `domain` only for the public slice of a domain. */
  origin: string;
  /** Sub-source within the origin (e.g. `python`, `kjv`), or the math problem family. */
  family: string;
  /** The natural document the row was cut from; splits never separate rows of one parent. */
  parent: string;
  /** `train`, `valid` or `test`. */
  split: string;
  /** `package@version:path` of the input the text was extracted from, or the generator. */
  source: string;
  /** SPDX-style license id of the text. */
  license: string;
  /** The text itself (UTF-8, LF line endings). */
  text: string;
}
