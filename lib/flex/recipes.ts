/**
 * Named FlexOlmo recipes as typed data, each value with its reason: "paper" (the method as published)
 * and "lab" (what makes the method work at laptop scale; its departures are listed and measured in
 * docs/recipes.md). A lab has one (`flex.lab({ recipe })`); owners and merges take their defaults from it.
 */
import type { EmbedderName } from "./embed";

export interface OwnerRecipe {
  /** Router-row initialisation (docs/method.md §2.2). */
  init: EmbedderName;
  /** Start β of the expert bias b = min(β, 0), or false for no bias (docs/method.md §2.4). */
  bias: number | false;
  /** Documents averaged into each domain embedding. */
  docs: number;
  /** Router-only public steps per owner step (0 = off, the paper; see `OwnerOptions.calibration`). */
  calibration?: number;
  /** Router margin loss: weight and boundary (absent = off, the paper; see `OwnerOptions.routerMargin`). */
  routerMargin?: RouterMargin;
}

/** An owner's router margin loss: its weight in the loss, and the margin d = z_own − z_pub where it is a coin flip. */
export interface RouterMargin {
  weight: number;
  boundary: number;
}

/**
 * The router margin an owner trains with: `option` if given (`false` = off), else the recipe's.
 * `undefined` means off (also for weight 0). A malformed option throws, naming `who`.
 */
export function resolveRouterMargin(option: RouterMargin | false | undefined, recipe: OwnerRecipe, who: string): RouterMargin | undefined {
  const rm = option === undefined ? recipe.routerMargin : option === false ? undefined : option;
  if (rm !== undefined && !(typeof rm === "object" && rm !== null && Number.isFinite(rm.weight) && rm.weight >= 0 && Number.isFinite(rm.boundary))) {
    throw new Error(`${who}: routerMargin must be { weight: a number ≥ 0, boundary: a finite number } or false (got ${JSON.stringify(option)}).`);
  }
  return rm && rm.weight > 0 ? { weight: rm.weight, boundary: rm.boundary } : undefined;
}

/** The paper's owner recipe. Each value says why. */
export const PAPER_OWNER: OwnerRecipe = {
  init: "external", // the paper's choice: an off-the-shelf embedder over each domain's documents
  bias: -1, // the paper gives no start value; −1 makes owners start behind the public expert
  docs: 1000, // the paper averages 1 000 documents per domain
  calibration: 0, // the paper trains r_i on the owner's data only
};

export type RecipeName = "paper" | "lab";

/** A named FlexOlmo recipe: how owners train and how many experts a merged model activates. */
export interface FlexRecipe {
  name: RecipeName;
  /** One line for tables and data cards. */
  summary: string;
  owner: OwnerRecipe;
  /** Active experts per token when merging `owners` owner experts with the public one. */
  k(owners: number): number;
  /** Where it departs from the paper (empty for "paper"). */
  departures: string[];
}

export const FLEX_RECIPES: Record<RecipeName, FlexRecipe> = {
  paper: {
    name: "paper",
    summary: "the paper: router rows trained on the owner's data only, bias β₀ = −1, k = half the experts",
    owner: PAPER_OWNER,
    k: (owners) => Math.ceil((owners + 1) / 2), // the paper's 4 of 8 (⌈E/2⌉)
    departures: [],
  },
  lab: {
    name: "lab",
    summary: "the lab: + router calibration on public text (1 public router step per owner step) with a router margin loss, β₀ = −3, k = 2",
    owner: {
      ...PAPER_OWNER,
      bias: -3, // measured (docs/recipes.md): −1 is small against router-logit spreads of ±2–4; −3 keeps public tokens on the public expert
      calibration: 1, // measured (docs/recipes.md): without public negatives owner routers are not selective and the merge loses to the public model
      // measured (docs/recipes.md): the LM loss barely moves r_i (post-norm blocks cancel a mixing weight's scale), so with eight
      // owners their margins all sit near β₀ and a token's owner slot goes to whichever is least negative; a logistic loss on
      // d = z_i − z_pub (own text above −3, public text below; router row and bias only) makes r_i a classifier, comparable across owners
      routerMargin: { weight: 0.5, boundary: -3 },
    },
    k: (owners) => Math.min(2, owners + 1), // measured (docs/recipes.md): with many owners, every extra active expert is an off-domain FFN
    departures: ["router calibration on public text (r_i and β_i only)", "a router margin loss on z_i − z_pub (r_i and β_i only)", "β₀ = −3", "k = 2 active experts"],
  },
};

/** A recipe by name, with a clear error for an unknown one. */
export function flexRecipe(name: RecipeName | FlexRecipe | undefined, fallback: RecipeName = "lab"): FlexRecipe {
  if (typeof name === "object" && name !== null) return name;
  const r = FLEX_RECIPES[(name ?? fallback) as RecipeName];
  if (!r) throw new Error(`Unknown recipe "${String(name)}". Recipes: ${Object.keys(FLEX_RECIPES).join(", ")}.`);
  return r;
}

