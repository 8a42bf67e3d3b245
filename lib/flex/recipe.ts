/**
 * How owners are trained, in one place: a typed owner recipe (router-row init, bias start, documents
 * per domain embedding) and the one loop that trains a set of owners from a public model. The
 * pipeline, the study's FlexOlmo variants, the reproduction and the tutorial helpers all train their
 * owners through `trainOwners`, so a change to the recipe lands everywhere at once.
 */
import type { StepProgress } from "../train/trainer";
import type { ScheduleRequest } from "../train/session";
import type { LabContext } from "./context";
import type { EmbedderName } from "./embed";
import { OwnerExpert, type OwnerOptions } from "./owner";
import type { PublicModel } from "./public";
import type { TrainRecord } from "./records";

export interface OwnerRecipe {
  /** Router-row initialisation (docs/method.md §2.2). */
  init: EmbedderName;
  /** Start β of the expert bias b = min(β, 0), or false for no bias (docs/method.md §2.4). */
  bias: number | false;
  /** Documents averaged into each domain embedding. */
  docs: number;
}

/** The paper's owner recipe. Each value says why. */
export const PAPER_OWNER: OwnerRecipe = {
  init: "external", // the paper's choice: an off-the-shelf embedder over each domain's documents
  bias: -1, // the paper gives no start value; −1 makes owners start behind the public expert
  docs: 1000, // the paper averages 1 000 documents per domain
};

/** The options `lab.owner` takes for this recipe. */
export function ownerOptions(pub: PublicModel, r: OwnerRecipe): OwnerOptions {
  return { from: pub, init: r.init, bias: r.bias, docs: r.docs };
}

export interface OwnerHooks {
  signal?: AbortSignal;
  /** A line before each owner starts. */
  log?: (line: string) => void;
  /** Progress of one owner's training. */
  onProgress?: (domain: string) => ((p: StepProgress) => void) | undefined;
  schedule?: ScheduleRequest;
  /** After each owner is trained (check invariants, save, …). */
  after?: (owner: OwnerExpert, record: TrainRecord) => Promise<void> | void;
}

/**
 * Train one owner per domain from `pub` with `recipe`, `steps` steps each, in order. On an error
 * the owners built so far are disposed; on success the caller owns them.
 */
export async function trainOwners(lab: LabContext, pub: PublicModel, domains: readonly string[], recipe: OwnerRecipe, steps: number, hooks: OwnerHooks = {}): Promise<OwnerExpert[]> {
  for (const d of domains) lab.data.checkDomain(d); // fail before any training
  const out: OwnerExpert[] = [];
  try {
    for (const d of domains) {
      hooks.log?.(`owner "${d}": ${steps} steps (init ${recipe.init}, bias ${recipe.bias === false ? "none" : recipe.bias})`);
      const o = new OwnerExpert(lab, d, ownerOptions(pub, recipe));
      out.push(o);
      const rec = await o.train({ steps, signal: hooks.signal, onProgress: hooks.onProgress?.(d), schedule: hooks.schedule });
      await hooks.after?.(o, rec);
    }
    return out;
  } catch (e) {
    out.forEach((o) => o.dispose());
    throw e;
  }
}
