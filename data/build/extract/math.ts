/** math ← the seeded generator in ../math.ts; one parent per worksheet. */
import { BUILD_CONFIG, CORPUS_VERSION } from "../config";
import { generateMath } from "../math";
import { Doc, docsOf } from "../types";
import { chunkProse } from "../util";

export function extractMath(): Doc[] {
  const { seed, worksheets, heldOutWorksheets } = BUILD_CONFIG.math;
  const docs: Doc[] = [];
  generateMath(seed, worksheets, heldOutWorksheets).forEach((w, i) => {
    const parent = `math/${w.heldOut ? "heldout" : "sheet"}-${String(i + 1).padStart(5, "0")}`;
    docs.push(
      ...docsOf(
        { origin: "math", family: w.family, parent, source: `flexmix-math-generator@${CORPUS_VERSION}:seed=${seed}`, license: "CC0-1.0", ...(w.heldOut ? { heldOut: true } : {}) },
        chunkProse(w.text, BUILD_CONFIG.proseChunk),
      ),
    );
  });
  return docs;
}
