/**
 * `npm run reproduce`: run the seeds of a recipe one after another, write each seed's JSON as soon
 * as it finishes (atomically), then pool them into `summary.json`, the SVG figures and the markdown
 * report. A seed file whose recipe key matches is reused instead of rerun, so an interrupted run
 * resumes at the first unfinished seed and adding a seed runs only that seed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { gitCommit, packageVersion } from "../util/package";
import * as tf from "../tf";
import type { Recipe } from "./recipe";
import { checkRecipe, recipeKey } from "./recipe";
import { Interrupted, runSeed, type SeedResult } from "./seed";
import { renderFigures, renderMarkdown, summarise, type Summary } from "./report";
import { makeDirs } from "../util/fs";

export interface ReproduceOptions {
  recipe: Recipe;
  /** Seed files and summary.json. */
  resultsDir: string;
  /** The markdown report. */
  reportFile: string;
  /** SVG figures (linked from the report by a relative path). */
  figuresDir: string;
  /** Ignore finished seed files and rerun every seed. */
  fresh?: boolean;
  backend?: string;
  /** The command line, as the report should print it. */
  command: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** For a progress line: each seed as it is reused, started or finished, and each part of a seed as it starts. */
  onProgress?: (e: ReproduceProgress) => void;
}

/** A seed's part times (seconds by part name) come with "reused" and "done": the weights of the next seeds' parts. */
export type ReproduceProgress =
  | { seed: number; event: "reused" | "done"; parts: Record<string, number> }
  | { seed: number; event: "start" }
  | { seed: number; event: "stage"; stage: string };

export interface ReproduceResult {
  summary?: Summary;
  ran: number[];
  reused: number[];
  /** True when Ctrl-C stopped a seed (the report then covers the finished seeds only). */
  interrupted: boolean;
  files: string[];
  seconds: number;
}

/** Write a file via a temporary name and a rename, so a crash never leaves half a file. */
export function writeAtomic(file: string, text: string): void {
  makeDirs(path.dirname(file));
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

export function seedFile(dir: string, seed: number): string {
  return path.join(dir, `seed-${seed}.json`);
}

/** A finished seed of this recipe, or undefined (missing, unreadable, or from another recipe: the reason is logged). */
export function loadSeed(file: string, r: Recipe, log: (l: string) => void): SeedResult | undefined {
  if (!fs.existsSync(file)) return undefined;
  let s: SeedResult;
  try {
    s = JSON.parse(fs.readFileSync(file, "utf-8")) as SeedResult;
  } catch (e) {
    log(`${file}: unreadable (${(e as Error).message.split("\n")[0]}); rerunning that seed`);
    return undefined;
  }
  if (s.recipeKey !== recipeKey(r)) {
    log(`${file}: written by a different recipe (${s.recipe ?? "unknown"} with other settings); rerunning that seed`);
    return undefined;
  }
  return s;
}



export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult> {
  const t0 = performance.now();
  checkRecipe(o.recipe);
  const r = o.recipe;
  const seeds: SeedResult[] = [];
  const ran: number[] = [], reused: number[] = [];
  const files: string[] = [];
  let interrupted = false;
  let backend = o.backend ?? "";
  makeDirs(o.resultsDir);
  for (const seed of r.seeds) {
    const file = seedFile(o.resultsDir, seed);
    const hit = o.fresh ? undefined : loadSeed(file, r, o.log);
    if (hit) {
      o.log(`seed ${seed}: reusing ${file} (same recipe)`);
      o.onProgress?.({ seed, event: "reused", parts: hit.parts ?? {} });
      seeds.push(hit);
      reused.push(seed);
      continue;
    }
    try {
      o.onProgress?.({ seed, event: "start" });
      const s = await runSeed(r, seed, { backend: o.backend, log: o.log, signal: o.signal, onStage: (stage) => o.onProgress?.({ seed, event: "stage", stage }) });
      writeAtomic(file, JSON.stringify(s, null, 1) + "\n");
      o.onProgress?.({ seed, event: "done", parts: s.parts });
      files.push(file);
      o.log(`seed ${seed}: done in ${(s.seconds / 60).toFixed(1)} min → ${file}`);
      seeds.push(s);
      ran.push(seed);
      backend = s.backend;
    } catch (e) {
      if (e instanceof Interrupted) {
        o.log(e.message);
        interrupted = true;
        break;
      }
      throw e;
    }
  }
  if (seeds.length === 0) return { ran, reused, interrupted, files, seconds: (performance.now() - t0) / 1000 };
  const meta = {
    command: o.command,
    node: process.version,
    tfjs: tf.version_core,
    packageVersion: packageVersion(),
    commit: gitCommit(),
    backend: backend || seeds[0].backend,
    date: new Date().toISOString().slice(0, 10),
    wallSeconds: (performance.now() - t0) / 1000,
    reusedSeeds: reused,
  };
  const summary = summarise(r, seeds, meta);
  const figures = renderFigures(summary, seeds);
  for (const [name, svg] of Object.entries(figures)) {
    const f = path.join(o.figuresDir, name);
    writeAtomic(f, svg + "\n");
    files.push(f);
  }
  const rel = path.relative(path.dirname(path.resolve(o.reportFile)), path.resolve(o.figuresDir)).split(path.sep).join("/") || ".";
  const md = renderMarkdown(summary, rel, { reasons: r.name !== "tiny" });
  const note = interrupted ? `\n> **Interrupted:** this report covers seeds ${summary.seeds.join(", ")} only; rerun the same command to finish the rest.\n` : "";
  writeAtomic(o.reportFile, md + note);
  // Derived from the seed files: compact. An interrupted run's says so (its tables lack the unfinished seeds).
  writeAtomic(path.join(o.resultsDir, "summary.json"), JSON.stringify(interrupted ? { ...summary, interrupted: true } : summary) + "\n");
  files.push(o.reportFile, path.join(o.resultsDir, "summary.json"));
  return { summary, ran, reused, interrupted, files, seconds: (performance.now() - t0) / 1000 };
}
