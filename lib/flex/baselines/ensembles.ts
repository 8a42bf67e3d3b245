/**
 * Baselines whose output depends on the input in a way one set of weights cannot express
 * (docs/method.md §7): the likelihood-weighted model soup, BTM (an output ensemble), and prompt
 * routing — one file each, on the common base in ./ensemble.ts — and loading a saved one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Lab } from "../lab";
import type { FlexModel } from "../model";
import { Btm } from "./btm";
import type { EnsembleFile } from "./ensemble";
import { LikelihoodSoup } from "./likelihood-soup";
import { loadFlexModel } from "./load";
import { PromptRouting } from "./prompt-routing";

export { Ensemble, type LikelihoodMode } from "./ensemble";
export { Btm, type BtmOptions } from "./btm";
export { LikelihoodSoup, type LikelihoodSoupOptions } from "./likelihood-soup";
export { PromptRouting, routingClassifier, type PromptRoutingOptions } from "./prompt-routing";
// ---------------------------------------------------------------------------------------------
// Loading

/** Open an ensemble written by `save(dir)`. */
export async function loadEnsemble(dir: string, lab?: Lab): Promise<LikelihoodSoup | Btm | PromptRouting> {
  const file = path.join(dir, "ensemble.json");
  if (!fs.existsSync(file)) throw new Error(`${dir} has no ensemble.json: it is not a saved ensemble (or its save did not finish).`);
  const meta = JSON.parse(fs.readFileSync(file, "utf-8")) as EnsembleFile;
  if (meta.format !== "flexolmo-ensemble-v1") throw new Error(`${file}: unknown format ${JSON.stringify(meta.format)}.`);
  const members: FlexModel[] = [];
  try {
    for (const m of meta.members) members.push(await loadFlexModel(path.join(dir, m.dir), lab, m.label));
    const o = meta.options as Record<string, never>;
    if (meta.kind === "btm") return new Btm(members, { ...o, label: meta.label, lab });
    if (meta.kind === "soup-likelihood") return new LikelihoodSoup(members, { ...o, label: meta.label, lab });
    if (meta.kind === "prompt-routing") return new PromptRouting(members[0], members.slice(1), { label: meta.label, lab });
    throw new Error(`${file}: unknown ensemble kind ${JSON.stringify(meta.kind)}.`);
  } finally {
    members.forEach((m) => m.dispose()); // the ensemble made its own copies
  }
}

