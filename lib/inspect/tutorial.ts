/**
 * What the tutorial notebooks share: one recipe per preset, and a run folder so that the public
 * model and the owners trained in notebooks 03 and 04 are reused by notebooks 05–09 instead of
 * being retrained in every notebook.
 *
 *   const t = await tutorial.setup();            // lab + preset (FLEXOLMO_PRESET) + recipe, printed
 *   const pub = await t.publicModel();           // the shipped public model (cpu); else runs/<preset>-seed0/public-…
 *   const owners = await t.owners(pub);          // the same for each owner in the recipe
 *
 * Reuse is exact: a checkpoint holds the weights bit for bit, and training is deterministic for a
 * seed, so a notebook that finds no saved run trains the very same model (it just takes longer).
 * The folder name carries every setting that changes the weights; change the recipe and a new
 * folder is trained. Delete `runs/` to retrain everything.
 */
import fs from "node:fs";
import path from "node:path";
import { inspect } from "node:util";
import { bundleOf, DISPLAY, type MimeBundle } from "../display/mime";
import { tableText } from "../display/views";
import { flex } from "../flex";
import { packageRoot } from "../util/package";
import type { Lab, OwnerExpert, PublicModel } from "../flex/lab";
import { ownerOptions } from "../flex/train-owners";
import { resolveRouterMargin, type OwnerRecipe as FlexOwnerRecipe, type RecipeName, type RouterMargin } from "../flex/recipes";
import type { EmbedderName } from "../flex/embed";
import { MODEL_PRESETS, type PresetName } from "../model/config";
import type { TrainConfig } from "../train/config";
import { liveTraining } from "./live";
import { note, tableBlock } from "./html";
import { makeDirs } from "../util/fs";

export interface TutorialRecipe {
  /**
   * Where the public model comes from: the shipped pretrained one (where the preset has one; see
   * data/public-cpu/README.md) or trained from scratch for `publicSteps` (notebook 03 does both).
   */
  publicModel: "shipped" | "scratch";
  /** Steps of a public model trained from scratch. */
  publicSteps: number;
  /** Steps of each owner expert (notebook 04). */
  ownerSteps: number;
  /** The owners the tutorials train and merge (the paper's Table 1 uses public, math, educational, code). */
  owners: string[];
  /** Documents averaged into each domain embedding (the paper: 1 000). */
  docs: number;
  /** Evaluation windows per domain for perplexities (evaluate's maxWindows). */
  evalWindows: number;
  /** Overrides of the preset's training config (batch size; the LR schedule is laid out per train call). */
  train: Partial<TrainConfig>;
}

/**
 * One recipe per preset. Each value says why. The owner bias, router calibration and k come from the
 * lab's FlexOlmo recipe ("lab" by default, "paper" on request; lib/flex/recipes.ts).
 */
export const TUTORIAL_RECIPES: Record<PresetName, TutorialRecipe> = {
  // CI: every notebook runs in seconds; the numbers mean nothing, the code paths are all exercised.
  tiny: { publicModel: "scratch", publicSteps: 30, ownerSteps: 15, owners: ["math", "code", "news"], docs: 50, evalWindows: 4, train: { batchSize: 4 } },
  // A 2-core laptop (wasm):
  //  - the shipped public model (data/public-cpu), as the paper starts from a trained OLMo-2: a public
  //    model trained here in minutes is too weak for owners to help (docs/recipes.md, "the main job");
  //    notebook 03 still trains one from scratch for 200 steps, to watch it learn (~1 min);
  //  - batch 8 instead of the preset's 16: more owner updates per token, which at 60 steps matters more
  //    than a larger batch;
  //  - every train call lays out its own warm-up + cosine schedule, so each owner ends annealed.
  cpu: { publicModel: "shipped", publicSteps: 200, ownerSteps: 60, owners: ["math", "code", "news"], docs: 1000, evalWindows: 16, train: { batchSize: 8 } },
  // One GPU: the 30 M-parameter preset trained long enough to generate readable text. Untested here
  // (no GPU on the machine these recipes were tuned on).
  gpu: { publicModel: "scratch", publicSteps: 2000, ownerSteps: 600, owners: ["math", "code", "news"], docs: 1000, evalWindows: 32, train: {} },
};

/** The preset the notebooks use: $FLEXOLMO_PRESET, else "gpu" on a GPU backend, else "cpu". */
export function tutorialPreset(gpu: boolean, env: NodeJS.ProcessEnv = process.env): PresetName {
  const p = env.FLEXOLMO_PRESET;
  if (p === undefined || p === "") return gpu ? "gpu" : "cpu";
  if (!(p in MODEL_PRESETS)) throw new Error(`FLEXOLMO_PRESET="${p}" is not a preset; use one of ${Object.keys(MODEL_PRESETS).join(", ")}.`);
  return p as PresetName;
}

export interface SetupOptions {
  seed?: number;
  /** Run folder (default $FLEXOLMO_RUNS, else ./runs next to the notebook). */
  runs?: string;
  /** Force a preset (default: tutorialPreset()). */
  preset?: PresetName;
  /** The FlexOlmo recipe: "lab" (default) or "paper" (docs/recipes.md). */
  recipe?: RecipeName;
}

export interface OwnerRecipe {
  /** Router-row init (default: the lab recipe's, "external" — the paper's domain embeddings). */
  init?: EmbedderName;
  /** β init, or false for the no-bias ablation (default: the lab recipe's). */
  bias?: number | false;
  /** Public router-calibration steps per owner step (default: the lab recipe's; 0 under "paper"). */
  calibration?: number;
  /** The router margin loss, or false for none (default: the lab recipe's; none under "paper"). */
  routerMargin?: RouterMargin | false;
  steps?: number;
  /** Show a live training view while training (default true). */
  live?: boolean;
}

export class Tutorial {
  constructor(
    readonly lab: Lab,
    readonly preset: PresetName,
    readonly recipe: TutorialRecipe,
    readonly runs: string,
    readonly presetSource: string,
  ) {}

  /** Folder of this preset and seed. */
  get dir(): string {
    return path.join(this.runs, `${this.preset}-seed${this.lab.seed}`);
  }

  publicDir(steps = this.recipe.publicSteps): string {
    return path.join(this.dir, `public-${steps}steps`);
  }

  /** `publicTrunk`: the public model's trunk fingerprint (owners of another public model get another folder). */
  ownerDir(domain: string, publicTrunk: string, o: OwnerRecipe = {}): string {
    const r = this.ownerRecipe(o), steps = o.steps ?? this.recipe.ownerSteps;
    // Calibration joins the name only when on, so folders of uncalibrated owners keep their names.
    const cal = r.calibration ? `-cal${r.calibration}` : "";
    const margin = r.routerMargin ? `-margin${r.routerMargin.weight}at${r.routerMargin.boundary}` : "";
    return path.join(this.dir, `owner-${domain}-${steps}steps-${r.init}-bias${r.bias === false ? "off" : r.bias}${cal}${margin}-docs${r.docs}-pub${publicTrunk.slice(0, 12)}`);
  }

  /** The lab recipe's owner settings with this tutorial recipe's documents, and `o`'s overrides. */
  private ownerRecipe(o: OwnerRecipe): FlexOwnerRecipe {
    const base = this.lab.recipe.owner;
    const routerMargin = resolveRouterMargin(o.routerMargin, base, "tutorial owner recipe");
    return { ...base, init: o.init ?? base.init, bias: o.bias === undefined ? base.bias : o.bias, docs: this.recipe.docs, calibration: o.calibration ?? base.calibration, routerMargin };
  }

  /** Active experts per token in the recipe's merged model (the lab recipe's k for its owners). */
  get k(): number {
    return this.lab.recipe.k(this.recipe.owners.length);
  }

  /**
   * The public model of the recipe: the shipped pretrained one where the preset has one (unless
   * `steps` asks for one from scratch), else loaded from the run folder or trained (with a live
   * view) and saved there.
   */
  async publicModel(opts: { steps?: number; live?: boolean } = {}): Promise<PublicModel> {
    if (opts.steps === undefined && this.recipe.publicModel === "shipped") {
      const why = await this.lab.whyNotShipped();
      if (!why) {
        const pub = await this.lab.publicModel();
        console.log(`public model: the shipped one (${pub.totalSteps} steps; ${shortPath(pub.pretrained!.from)})`);
        return pub;
      }
      console.log(`public model: not the shipped one (${why}); training ${this.recipe.publicSteps} steps instead`);
    }
    const steps = opts.steps ?? this.recipe.publicSteps;
    const dir = this.publicDir(steps);
    if (fs.existsSync(path.join(dir, "config.json"))) {
      const pub = await this.lab.loadPublicModel(dir);
      await pub.train({ steps: 0 }); // restores the trainer state: step count and data card are right
      if (pub.step !== steps) throw new Error(`${dir} holds a public model at step ${pub.step}, not ${steps}; delete the folder to retrain.`);
      console.log(`public model: loaded ${steps} trained steps from ${shortPath(dir)}`);
      return pub;
    }
    const pub = await this.lab.publicModel({ from: "scratch" });
    const view = opts.live === false ? undefined : liveTraining("public model", { totalSteps: steps });
    // live: false — this view is the one shown (or none, with opts.live false); train's default would be a second.
    const rec = await pub.train({ steps, onProgress: view?.onProgress, live: false });
    view?.done(rec);
    if (rec.aborted) throw new Error(`public model: training was interrupted at step ${rec.step} of ${steps}; nothing was saved. Run the cell again.`);
    await this.save(pub, dir);
    return pub;
  }

  /** One owner of the recipe: loaded from the run folder, or trained from `pub` and saved. */
  async owner(domain: string, pub: PublicModel, o: OwnerRecipe = {}): Promise<OwnerExpert> {
    const steps = o.steps ?? this.recipe.ownerSteps;
    const dir = this.ownerDir(domain, pub.trunkFingerprint(), o);
    const base = ownerOptions(pub, this.ownerRecipe(o));
    if (fs.existsSync(path.join(dir, "config.json"))) {
      const owner = this.lab.owner(domain, { ...base, resume: dir });
      await owner.train({ steps: 0 });
      if (owner.step !== steps) throw new Error(`${dir} holds owner "${domain}" at step ${owner.step}, not ${steps}; delete the folder to retrain.`);
      console.log(`owner "${domain}": loaded ${steps} trained steps from ${shortPath(dir)}`);
      return owner;
    }
    const owner = this.lab.owner(domain, base);
    const view = o.live === false ? undefined : liveTraining(`${domain} owner`, { totalSteps: steps, experts: ["public", domain] });
    const rec = await owner.train({ steps, onProgress: view?.onProgress, live: false });
    view?.done(rec);
    if (rec.aborted) throw new Error(`owner "${domain}": training was interrupted at step ${rec.step} of ${steps}; nothing was saved. Run the cell again.`);
    await this.save(owner, dir);
    return owner;
  }

  /** Every owner of the recipe, in order. */
  async owners(pub: PublicModel, o: OwnerRecipe = {}): Promise<OwnerExpert[]> {
    const out: OwnerExpert[] = [];
    for (const d of this.recipe.owners) out.push(await this.owner(d, pub, o));
    return out;
  }

  /** The recipe's merged FlexOlmo model (k from the recipe, bias kept as in the paper). */
  async merged(pub: PublicModel, owners: readonly OwnerExpert[]) {
    return flex.merge(pub, owners, { k: this.k });
  }

  /**
   * Save a trained model into the run folder (notebooks 03 and 04 train explicitly, then call this
   * so that later notebooks can reuse the result). Atomic: written to a temporary folder, then
   * renamed, so an interrupted save never leaves a half-written run behind.
   */
  async save(model: PublicModel | OwnerExpert, dir?: string): Promise<string> {
    const target = dir ?? ("domain" in model ? this.ownerDir(model.domain, model.publicTrunk, { init: model.init, bias: model.biasInit, calibration: model.calibration, routerMargin: model.routerMargin ?? false, steps: model.step }) : this.publicDir(model.step));
    if (fs.existsSync(path.join(target, "config.json"))) return target; // already saved (same settings ⇒ same weights)
    makeDirs(path.dirname(target));
    const tmp = `${target}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    await model.save(tmp);
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(tmp, target);
    return target;
  }

  /** Evaluation options of the recipe (same windows everywhere, so numbers compare across notebooks). */
  get evalOptions(): { maxWindows: number } {
    return { maxWindows: this.recipe.evalWindows };
  }

  private rows(): (string | number)[][] {
    const r = this.recipe;
    return [
      ["backend", this.lab.backend.summary],
      ["preset", `${this.preset} (${this.presetSource})`],
      ["model", `d=${this.lab.modelConfig.dModel}, ${this.lab.modelConfig.nLayers} layers, ${this.lab.modelConfig.nHeads} heads, FFN ${this.lab.modelConfig.dFf}, vocab ${this.lab.modelConfig.vocabSize}`],
      ["training", `batch ${this.lab.trainConfig.batchSize} × ${this.lab.trainConfig.seqLen} tokens, lr ${this.lab.trainConfig.lr}, warm-up + cosine per train call`],
      ["recipe", `${this.lab.recipe.name}: ${this.lab.recipe.summary}`],
      ["run", `public model ${r.publicModel === "shipped" ? "shipped (data/public-cpu)" : `${r.publicSteps} steps`}; owners ${r.owners.join(", ")} × ${r.ownerSteps} steps; k = ${this.k}; ${r.docs} docs per embedding`],
      ["seed", this.lab.seed],
      ["runs", shortPath(this.dir)],
    ];
  }

  toString(): string {
    return tableText({ columns: ["setting", "value"], rows: this.rows() });
  }

  /** What the Node REPL and console.log print: this summary, not a dump of every field. */
  [inspect.custom](): string {
    return this.toString();
  }

  [DISPLAY](): MimeBundle {
    return bundleOf({
      text: this.toString(),
      html: () => tableBlock(["setting", "value"], this.rows()) + note(`Set FLEXOLMO_PRESET=tiny|cpu|gpu before starting the kernel to change the preset. Trained models are kept in ${shortPath(this.dir)} and reused by later notebooks.`),
    });
  }
}

/**
 * A path for printing: relative to the working directory when it lies inside it (runs/…), else
 * relative to the package as `flexolmo-lab/…` when it lies inside the package (the shipped public
 * model, seen from notebooks/), else absolute (a folder the user chose). Machine paths stay out of
 * committed notebook outputs.
 */
export function shortPath(p: string): string {
  const inside = (from: string) => {
    const rel = path.relative(from, p);
    return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : undefined;
  };
  const inCwd = inside(process.cwd());
  if (inCwd) return inCwd;
  let root: string | undefined;
  try {
    root = packageRoot();
  } catch {
    root = undefined; // no package.json above us: print the path as it is
  }
  const inPackage = root ? inside(root) : undefined;
  return inPackage ? `flexolmo-lab/${inPackage.split(path.sep).join("/")}` : p;
}

/** Build the lab for a tutorial notebook: preset from the environment, the recipe's training settings. */
export async function setup(opts: SetupOptions = {}): Promise<Tutorial> {
  const { initBackend } = await import("../backend");
  const backend = await initBackend();
  const preset = opts.preset ?? tutorialPreset(backend.gpu);
  const source = opts.preset ? "set in the notebook" : process.env.FLEXOLMO_PRESET ? "from FLEXOLMO_PRESET" : `default on a ${backend.gpu ? "GPU" : "CPU"} backend`;
  const recipe = TUTORIAL_RECIPES[preset];
  const lab = await flex.lab({ preset, seed: opts.seed ?? 0, train: recipe.train, recipe: opts.recipe });
  const runs = path.resolve(opts.runs ?? process.env.FLEXOLMO_RUNS ?? "runs");
  return new Tutorial(lab, preset, recipe, runs, source);
}
