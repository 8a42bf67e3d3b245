/**
 * The whole FlexOlmo pipeline, headless: public model → coordinated owners → merge → (router
 * tuning) → opt-out evaluation. `npm run pipeline` and the quickstart call this.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { PresetName } from "../model/config";
import { textTable } from "./results";
import { lab as makeLab } from "./lab";
import { merge } from "./merge";
import { openPublicModel } from "./shipped";
import { trainOwners } from "./train-owners";
import type { RecipeName } from "./recipes";
import { tasks as runToyTasks } from "./tasks";
import { tuneRouter } from "./tune";
import type { EvalResult } from "./results";
import type { TaskResult } from "./tasks";
import type { FlexModel } from "./model";
import type { OwnerExpert } from "./owner";
import { makeDirs } from "../util/fs";

export interface PipelineOptions {
  preset: PresetName;
  /** Owner domains (closed data sets). */
  domains: string[];
  /**
   * Where the public model comes from: "shipped" (the pretrained one, where it fits the preset) or
   * "scratch". Default: shipped where it fits, else scratch.
   */
  publicFrom?: "shipped" | "scratch";
  /**
   * Public-model steps in this run: from scratch, or more steps on top of the shipped model.
   * Default: 0 on the shipped model, `scratchSteps` from scratch.
   */
  publicSteps?: number;
  /** Public-model steps when it starts from scratch and `publicSteps` is not given. */
  scratchSteps: number;
  ownerSteps: number;
  /** Router-tuning steps after the merge (0 = no tuning, the exact-opt-out model only). */
  routerSteps: number;
  /** Experts per token in the merged model (default: the recipe's — paper: half, rounded up; lab: 2). */
  k?: number;
  seed: number;
  /** The FlexOlmo recipe (default "lab"; lib/flex/recipes.ts). */
  recipe?: RecipeName;
  /** Output directory for checkpoints, results.json and summary.md. */
  out: string;
  /** Evaluation windows per domain. */
  evalWindows: number;
  backend?: string;
  /** Progress lines are sent here. */
  log: (line: string) => void;
  /**
   * Where the run stands, for a progress line: the stage, and training steps done of all the run's
   * training steps (public model + owners + router tuning; known once the public model is chosen).
   */
  onProgress?: (p: PipelineProgress) => void;
  /**
   * Stops the run: the current training call ends at its next step boundary, no later stage starts,
   * and results.json / summary.md are written with what finished, marked interrupted.
   */
  signal?: AbortSignal;
}

export interface PipelineProgress {
  stage: string;
  stepsDone: number;
  stepsTotal: number;
}

/** Thrown at a stage boundary once the signal has fired; runPipeline turns it into interrupted results. */
class Interrupted extends Error {
  constructor(readonly stage: string) {
    super(`interrupted during "${stage}"`);
    this.name = "Interrupted";
  }
}

export interface PipelineResult {
  preset: PresetName;
  seed: number;
  recipe: RecipeName;
  backend: string;
  /** How the public model was made: "shipped (3000 steps)", "shipped (3000 steps) + 200", "scratch, 200 steps". */
  publicModel: string;
  domains: string[];
  k: number;
  seconds: number;
  stages: Record<string, number>;
  /** Perplexity table rows: model label → domain → ppl. */
  table: Record<string, Record<string, number>>;
  evals: object[];
  /** Toy downstream task accuracy per model label → task → accuracy. */
  tasks: Record<string, Record<string, number>>;
  invariants: Record<string, boolean>;
  out: string;
  /** True when the signal stopped the run: the tables hold only the stages that finished. */
  interrupted: boolean;
  /** The stage that was running (or about to start) when the run stopped. */
  interruptedDuring?: string;
}

export async function runPipeline(o: PipelineOptions): Promise<PipelineResult> {
  const t0 = performance.now();
  const stages: Record<string, number> = {};
  // Training steps of the whole run, for onProgress: finished training calls, plus the running one.
  const steps = { total: 0, finished: 0, current: 0, stage: "" };
  const report = () => o.onProgress?.({ stage: steps.stage, stepsDone: steps.finished + steps.current, stepsTotal: steps.total });
  const stage = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    // A stage boundary: after Ctrl-C nothing more starts, and a stage that was cut short (its
    // training stopped early) is not used or saved as if it had finished.
    if (o.signal?.aborted) throw new Interrupted(name);
    const s = performance.now();
    o.log(`▶ ${name}`);
    steps.stage = name;
    report();
    const r = await f();
    if (o.signal?.aborted) throw new Interrupted(name);
    stages[name] = (performance.now() - s) / 1000;
    o.log(`  done in ${stages[name].toFixed(1)} s`);
    steps.finished += steps.current;
    steps.current = 0;
    return r;
  };
  // Made right before each training call: the previous call's steps (an earlier owner's) are finished.
  const progress = (what: string, total: number) => {
    steps.finished += steps.current;
    steps.current = 0;
    let base: number | undefined; // p.step counts the trainer's updates: more than this call's on top of the shipped model
    return (p: { step: number; loss: number; tokensPerSec: number }) => {
      base ??= p.step - 1;
      const step = p.step - base;
      steps.current = step;
      report();
      if (step % Math.max(1, Math.floor(total / 10)) === 0 || step === total) {
        o.log(`  ${what} step ${step}/${total}  loss ${p.loss.toFixed(3)}  ${Math.round(p.tokensPerSec)} tok/s`);
      }
    };
  };
  makeDirs(o.out);
  const lab = await makeLab({ preset: o.preset, seed: o.seed, backend: o.backend, recipe: o.recipe });
  o.log(`recipe ${lab.recipe.name}: ${lab.recipe.summary}`);
  o.log(`preset ${lab.preset}: d_model ${lab.modelConfig.dModel}, ${lab.modelConfig.nLayers} layers, batch ${lab.trainConfig.batchSize}×${lab.trainConfig.seqLen}`);
  for (const d of o.domains) lab.data.checkDomain(d);
  if (o.domains.includes("public")) throw new Error('"public" is the public expert, not an owner domain; list closed domains only (e.g. math,code).');
  if (new Set(o.domains).size !== o.domains.length) throw new Error(`Owner domains repeat: ${o.domains.join(", ")}.`);

  const evalDomains = [...o.domains, "public"];
  const evals: EvalResult[] = [];
  const tasks: TaskResult[] = [];
  const indent = (text: string) => text.split("\n").map((l) => `  ${l}`).join("\n");
  const ev = async (m: FlexModel, reference?: FlexModel, withTasks = false) => {
    const r = await m.evaluate({ domains: evalDomains, maxWindows: o.evalWindows, reference });
    evals.push(r);
    o.log(indent(r.toString()));
    if (withTasks) {
      const t = await runToyTasks(m, { domains: evalDomains, n: o.evalWindows * 2 });
      tasks.push(t);
      o.log(indent(t.toString()));
    }
    return r;
  };

  const { pub, steps: publicSteps, description: publicModel } = await openPublicModel(lab, { from: o.publicFrom, steps: o.publicSteps, scratchSteps: o.scratchSteps, log: o.log });
  steps.total = publicSteps + o.ownerSteps * o.domains.length + o.routerSteps;
  const invariants: Record<string, boolean> = {};
  let owners: OwnerExpert[] = [];
  let merged: FlexModel | undefined;
  let stopped: Interrupted | undefined;
  try {
    if (publicSteps > 0) await stage(`public model: ${publicSteps} steps on the public mix`, () => pub.train({ steps: publicSteps, signal: o.signal, onProgress: progress("public", publicSteps) }));
    if (!pub.pretrained?.shipped || publicSteps > 0) await pub.save(path.join(o.out, "public")); // the shipped one is already on disk
    const pubModel = pub.model();
    await stage("evaluate the public model", () => ev(pubModel, undefined, true));

    owners = await stage(`owners ${o.domains.join(", ")}: ${o.ownerSteps} steps of coordinated training each`, () =>
      trainOwners(lab, pub, o.domains, lab.recipe.owner, o.ownerSteps, {
        signal: o.signal,
        log: (l) => o.log(`  ${l}`),
        onProgress: (d) => progress(d, o.ownerSteps),
        after: async (owner) => {
          // An owner whose training was cut short is not saved as if it were one (trainOwners disposes it).
          if (o.signal?.aborted) throw new Interrupted(steps.stage);
          const inv = owner.invariants();
          invariants[owner.domain] = inv.ok;
          o.log(`  ${inv.toString().split("\n")[0]}`);
          await owner.save(path.join(o.out, "owners", owner.domain));
        },
      }),
    );

    const m = await stage("merge (stack FFNs, concatenate router rows)", () => merge(pub, owners, { k: o.k }));
    merged = m;
    await m.save(path.join(o.out, "merged"));
    await stage("evaluate the merged model", () => ev(m, pubModel, true));
    for (const d of o.domains) await stage(`opt out of "${d}"`, () => ev(m.without(d), pubModel));

    if (o.routerSteps > 0) {
      const tuned = await stage(`router tuning: ${o.routerSteps} steps on public proxies`, () => tuneRouter(m, lab, { steps: o.routerSteps, signal: o.signal, onProgress: progress("router", o.routerSteps) }));
      await tuned.save(path.join(o.out, "merged-rt"));
      await stage("evaluate the router-tuned model", () => ev(tuned, pubModel, true));
    }
  } catch (e) {
    if (!(e instanceof Interrupted)) throw e;
    stopped = e;
    o.log(`interrupted during "${e.stage}": no later stage ran; ${path.join(o.out, "results.json")} and summary.md hold the finished stages and are marked interrupted`);
  }

  const table: Record<string, Record<string, number>> = {};
  for (const r of evals) table[r.model] = Object.fromEntries(r.rows.map((x) => [x.domain, x.ppl]));
  const result: PipelineResult = {
    preset: lab.preset,
    seed: o.seed,
    recipe: lab.recipe.name,
    backend: lab.backend.summary,
    publicModel,
    domains: o.domains,
    k: merged ? merged.view.topK : (o.k ?? lab.recipe.k(o.domains.length)),
    seconds: (performance.now() - t0) / 1000,
    stages,
    table,
    evals: evals.map((e) => e.toJSON()),
    tasks: Object.fromEntries(tasks.map((t) => [t.model, Object.fromEntries(t.scores.map((x) => [x.task, x.accuracy]))])),
    invariants,
    out: o.out,
    interrupted: stopped !== undefined,
    ...(stopped ? { interruptedDuring: stopped.stage } : {}),
  };
  fs.writeFileSync(path.join(o.out, "results.json"), JSON.stringify(result, null, 2) + "\n");
  fs.writeFileSync(path.join(o.out, "summary.md"), summaryMarkdown(result, evalDomains));
  owners.forEach((x) => x.dispose());
  return result;
}

/** The results as a markdown report: per-domain perplexity of every model, and stage times. */
export function summaryMarkdown(r: PipelineResult, domains: string[]): string {
  const rows = Object.entries(r.table).map(([model, ppl]) => [model, ...domains.map((d) => ppl[d]), domains.reduce((s, d) => s + ppl[d], 0) / domains.length]);
  const header = ["model", ...domains, "average"];
  const md = [
    `# FlexOlmo pipeline — preset \`${r.preset}\`, seed ${r.seed}`,
    "",
    ...(r.interrupted ? [`> **Interrupted** (Ctrl-C) during "${r.interruptedDuring}": the run stopped there, so the tables below hold only the stages that finished. Run the command again for complete results.`, ""] : []),
    `Recipe: ${r.recipe}. Public model: ${r.publicModel}. Backend: ${r.backend}. Owners: ${r.domains.join(", ")}. Merged top-k: ${r.k}. Wall time: ${r.seconds.toFixed(1)} s.`,
    "",
    "Test-split perplexity (lower is better). `flexolmo − X` is the merged model with expert X opted out (exact: no router tuning).",
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.map((c) => (typeof c === "number" ? c.toFixed(2) : c)).join(" | ")} |`),
    "",
    ...taskMarkdown(r),
    `Coordination invariant (frozen parts bit-identical to the public model): ${Object.entries(r.invariants).map(([d, ok]) => `${d} ${ok ? "✓" : "✗"}`).join(", ")}`,
    "",
    "Stage times (s):",
    "",
    "```",
    textTable(["stage", "seconds"], Object.entries(r.stages).map(([k, v]) => [k, Number(v.toFixed(1))]), 6),
    "```",
    "",
  ];
  return md.join("\n");
}

function taskMarkdown(r: PipelineResult): string[] {
  const models = Object.keys(r.tasks);
  if (models.length === 0) return [];
  const names = [...new Set(models.flatMap((m) => Object.keys(r.tasks[m])))];
  return [
    "Toy downstream tasks (accuracy %, 4 choices, chance 25 %; scored by likelihood):",
    "",
    `| model | ${names.join(" | ")} |`,
    `|---|${names.map(() => "---").join("|")}|`,
    ...models.map((m) => `| ${m} | ${names.map((n) => (r.tasks[m][n] === undefined ? "–" : (100 * r.tasks[m][n]).toFixed(1))).join(" | ")} |`),
    "",
  ];
}
