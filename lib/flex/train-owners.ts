/**
 * How owners are trained, in one place: the one loop that trains a set of owners from a public model
 * with an owner recipe (./recipes.ts). The
 * pipeline, the study's FlexOlmo variants, the reproduction and the tutorial helpers all train their
 * owners through `trainOwners`, so a change to the recipe lands everywhere at once.
 */
import type { StepProgress } from "../train/trainer";
import type { ScheduleRequest } from "../train/session";
import type { LabContext } from "./context";
import type { OwnerRecipe } from "./recipes";
import { OwnerExpert, type OwnerOptions } from "./owner";
import type { PublicModel } from "./public";
import type { TrainRecord } from "./records";

/** The options `lab.owner` takes for this recipe. */
export function ownerOptions(pub: PublicModel, r: OwnerRecipe): OwnerOptions {
  return { from: pub, init: r.init, bias: r.bias, docs: r.docs, calibration: r.calibration ?? 0, routerMargin: r.routerMargin ?? false };
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
      hooks.log?.(`owner "${d}": ${steps} steps (init ${recipe.init}, bias ${recipe.bias === false ? "none" : recipe.bias}${recipe.calibration ? `, ${recipe.calibration} public router step(s) per step` : ""}${recipe.routerMargin ? `, router margin loss ${recipe.routerMargin.weight} at ${recipe.routerMargin.boundary}` : ""})`);
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
