/**
 * The whole Table-1-style study, headless: one public model, one dense expert and one FlexOlmo owner
 * per closed domain (same steps, same batches), every baseline and ablation built from them, and one
 * `flex.compare` over all of it. `flexolmo compare` calls this (and `npm run reproduce`, over several
 * seeds and both tables, lives in lib/reproduce).
 *
 * Every training phase gets an LR schedule spanning exactly its own steps: each `train` call lays
 * out its own (lib/train/session.ts) — the public model over its publicSteps, dense experts and owners
 * over their expertSteps, each unrestricted MoE over its budget.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { PresetName } from "../../model/config";
import { lab as makeLab } from "../lab";
import { openPublicModel } from "../shipped";
import type { FlexModel } from "../model";
import { compare, type Comparable, type ComparisonResult } from "../compare";
import { denseExpert, type DenseExpert } from "./dense";
import { naiveMerge, btx } from "./upcycle";
import { soup } from "./soup";
import { Btm, LikelihoodSoup, PromptRouting } from "./ensembles";
import { unrestrictedBudget, unrestrictedMoE, type MoeBudget } from "./moe";
import { flexolmoVariants } from "./variants";
import { makeDirs } from "../../util/fs";

export interface StudyOptions {
  preset: PresetName;
  seed: number;
  /** Closed domains (one dense expert and one owner each). */
  domains: string[];
  /** The public model: the shipped one where it fits the preset (default), or "scratch". */
  publicFrom?: "shipped" | "scratch";
  /** Public-model steps in this run (default: 0 on the shipped model, `scratchSteps` from scratch). */
  publicSteps?: number;
  scratchSteps: number;
  /** Steps per dense expert AND per FlexOlmo owner (the comparison needs them equal). */
  expertSteps: number;
  /** Router-tuning steps for "FlexOlmo (RT)" (0: no RT row). */
  rtSteps: number;
  /** BTX router-training steps on public data. */
  btxSteps: number;
  /** Evaluation windows per domain. */
  evalWindows: number;
  /** Experts per token in every MoE (default: half the experts, rounded up). */
  k?: number;
  /** Documents per domain embedding (default 1 000). */
  docs?: number;
  backend?: string;
  /** Skip the ablation variants beyond FlexOlmo itself (they cost 3 owner sets). */
  skipAblations?: boolean;
  /** Skip the two unrestricted MoEs. */
  skipUnrestricted?: boolean;
  /** Write results.json and summary.md here (atomically). */
  out?: string;
  log: (line: string) => void;
  /** Each part of the study as it starts, with how many parts came before it and how many there are. */
  onProgress?: (p: { stage: string; done: number; total: number }) => void;
  /**
   * Stops the study: training calls that take it end at their next step boundary, no later part
   * starts, and runStudy throws without writing results (a table missing rows would look complete).
   */
  signal?: AbortSignal;
}

export interface StudyResult {
  table: ComparisonResult;
  /** Wall-clock seconds to build each row (training included); shared parts under their own names. */
  buildSeconds: Record<string, number>;
  budgets: { flops?: MoeBudget; data?: MoeBudget };
  backend: string;
  seconds: number;
}

export async function runStudy(o: StudyOptions): Promise<StudyResult> {
  const t0 = performance.now();
  const log = o.log;
  const lab = await makeLab({ preset: o.preset, seed: o.seed, backend: o.backend });
  for (const d of o.domains) {
    lab.data.checkDomain(d);
    if (d === "public") throw new Error('The study\'s domains are the closed ones; "public" is always included.');
  }
  log(`backend ${lab.backend.name}; preset ${o.preset}; domains ${o.domains.join(", ")}; seed ${o.seed}`);
  const build: Record<string, number> = {};
  const signal = o.signal;
  const stopIfAborted = (name: string) => {
    if (signal?.aborted) throw new Error(`the study was interrupted during "${name}"; no results were written`);
  };
  let parts = { done: 0, total: 0 };
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    stopIfAborted(name);
    o.onProgress?.({ stage: name, done: parts.done, total: parts.total });
    const t = performance.now();
    log(`building ${name} …`);
    const r = await f();
    stopIfAborted(name);
    build[name] = (performance.now() - t) / 1000;
    log(`  ${name}: ${build[name].toFixed(1)} s`);
    parts.done++;
    return r;
  };
  const { pub, steps: publicSteps } = await openPublicModel(lab, { from: o.publicFrom, steps: o.publicSteps, scratchSteps: o.scratchSteps, log });
  // The parts below, counted for onProgress: public model, dense experts, 2 soups, BTM, prompt
  // routing, BTX, the FlexOlmo variants, the naive merge, the unrestricted MoEs, the evaluation.
  parts = { done: 0, total: (publicSteps > 0 ? 1 : 0) + o.domains.length + 7 + (o.skipUnrestricted ? 0 : 2) + 1 };
  if (publicSteps > 0) await timed(`public model (${publicSteps} steps)`, () => pub.train({ steps: publicSteps, signal }));
  const dense: DenseExpert[] = [];
  for (const d of o.domains) dense.push(await timed(`dense expert ${d} (${o.expertSteps} steps)`, () => denseExpert(lab, pub, d).then(async (e) => (await e.train({ steps: o.expertSteps, signal }), e))));
  const members = [pub, ...dense];
  const rows: Comparable[] = [...dense];
  const owned: Array<{ dispose(): void }> = [...dense];
  const ownedModels: FlexModel[] = [];
  const docs = o.docs;

  const u = await timed("soup (uniform)", async () => soup(members));
  ownedModels.push(u);
  rows.push(u);
  const ls = await timed("soup (likelihood)", async () => new LikelihoodSoup(members));
  const bt = await timed("BTM", async () => new Btm(members, { topK: 2 }));
  const pr = await timed("prompt routing", async () => new PromptRouting(pub, dense));
  owned.push(ls, bt, pr);
  rows.push(ls, bt, pr);
  const bx = await timed(`BTX (${o.btxSteps} router steps)`, () => btx(pub, dense, { steps: o.btxSteps, k: o.k, docs }));
  owned.push(bx);
  rows.push(bx);
  const v = await timed(`FlexOlmo owners + merges (${o.expertSteps} steps each)`, () =>
    flexolmoVariants(lab, pub, o.domains, { steps: o.expertSteps, rtSteps: o.rtSteps, k: o.k, docs, only: o.skipAblations ? ["flexolmo", ...(o.rtSteps > 0 ? (["rt"] as const) : [])] : undefined, log: (l) => log(`  ${l}`), signal }),
  );
  for (const [key, s] of Object.entries(v.seconds)) build[`variant ${key}`] = s;
  ownedModels.push(...v.list);
  const naive = await timed("naive merge (− no training to coordinate)", () => naiveMerge(pub, dense, { k: o.k, docs }));
  ownedModels.push(naive);
  const flex = v.list.filter((m) => m.label !== "FlexOlmo (RT)");
  const rt = v.list.filter((m) => m.label === "FlexOlmo (RT)");
  rows.push(...flex, naive, ...rt);
  const budgets: StudyResult["budgets"] = {};
  if (!o.skipUnrestricted) {
    for (const match of ["flops", "data"] as const) {
      const m = await timed(`unrestricted MoE (${match}-matched)`, () => unrestrictedMoE(lab, pub, o.domains, { match, ownerSteps: o.expertSteps, k: o.k, docs }));
      budgets[match] = m.budget;
      log(`  ${match}-matched: ${m.budget.steps} steps, ${m.budget.dataRatio.toFixed(2)}× data, ${m.budget.flopsRatio.toFixed(2)}× FLOPs of the owners`);
      owned.push(m);
      rows.push(m);
    }
  }
  stopIfAborted("evaluation");
  o.onProgress?.({ stage: "evaluation", done: parts.done, total: parts.total });
  log("evaluating …");
  const table = await compare(rows, { domains: [...o.domains, "public"], reference: pub, maxWindows: o.evalWindows, log: (l) => log(`  ${l}`) });
  stopIfAborted("evaluation");
  o.onProgress?.({ stage: "evaluation", done: ++parts.done, total: parts.total });
  const result: StudyResult = { table, buildSeconds: build, budgets, backend: lab.backend.name, seconds: (performance.now() - t0) / 1000 };
  if (o.out) writeResults(o.out, o, result);
  owned.forEach((x) => x.dispose());
  ownedModels.forEach((m) => m.dispose());
  pub.dispose();
  return result;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function writeResults(out: string, o: StudyOptions, r: StudyResult): void {
  makeDirs(out);
  const { log: _log, signal: _signal, onProgress: _onProgress, ...settings } = o;
  writeAtomic(path.join(out, "results.json"), JSON.stringify({ settings, backend: r.backend, seconds: r.seconds, buildSeconds: r.buildSeconds, budgets: r.budgets, table: r.table.toJSON() }, null, 2));
  const lines = [
    `# Baselines vs FlexOlmo (${o.preset}, seed ${o.seed})`,
    "",
    `Domains ${o.domains.join(", ")}; public ${o.publicSteps} steps; dense experts and owners ${o.expertSteps} steps each; RT ${o.rtSteps}; BTX ${o.btxSteps}; ${o.evalWindows} windows per domain; backend ${r.backend}; ${r.seconds.toFixed(0)} s in all.`,
    "",
    "```",
    String(r.table),
    "```",
    "",
    "Build time per row (s):",
    "",
    ...Object.entries(r.buildSeconds).map(([k, s]) => `- ${k}: ${s.toFixed(1)}`),
    "",
  ];
  writeAtomic(path.join(out, "summary.md"), lines.join("\n"));
}
