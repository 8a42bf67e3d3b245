/**
 * `flexolmo reproduce` (also `npm run reproduce`): the paper's findings at laptop scale — Table 1
 * and Table 2 analogues over several seeds, the Fig. 2/3/4 analogues, router geometry and the
 * extraction test — written under --out (default runs/reproduce; `npm run reproduce`: the repository)
 * as seed files, a report and figures, in the repository's layout (results/, docs/results.md, docs/figures/).
 */
import * as path from "node:path";
import type { ReproduceProgress } from "../../reproduce/run";
import type { ParsedArgs } from "../args";
import { UsageError } from "../args";
import { type Progress, progressFor } from "../progress";
import type { CliIO, Command } from "../registry";
import { EXIT_INTERRUPTED, intFlag, prepareOutDir, printJson, studyFlags, withInterrupt } from "../run-helpers";

const RECIPE_NAMES = ["study", "quick", "tiny", "gpu"] as const;
type Name = (typeof RECIPE_NAMES)[number];

/** Where `reproduce` writes without --out: a folder of the current directory, never the current directory itself. */
export const DEFAULT_OUT = "runs/reproduce";

/**
 * Where each recipe writes inside --out. The layout is the repository's: `npm run reproduce` passes
 * the repository as --out (lib/reproduce/main.ts), so the study's committed files stay at results/,
 * docs/results.md and docs/figures/, and the other recipes keep out of its way.
 */
const OUTPUTS: Record<Name, { results: string; report: string; figures: string }> = {
  study: { results: "results", report: "docs/results.md", figures: "docs/figures" },
  gpu: { results: "results/gpu", report: "docs/results-gpu.md", figures: "docs/figures/gpu" },
  quick: { results: "results/quick", report: "docs/results-quick.md", figures: "docs/figures/quick" },
  tiny: { results: "results/tiny", report: "docs/results-tiny.md", figures: "docs/figures/tiny" },
};

/** The files of a run: --results-dir, --report and --figures-dir where given, else the recipe's place under --out. */
export function outputPaths(name: Name, flags: ParsedArgs["flags"]): { results: string; report: string; figures: string } {
  const out = (flags.out as string | undefined) ?? DEFAULT_OUT;
  const rel = OUTPUTS[name];
  return {
    results: (flags["results-dir"] as string | undefined) ?? path.join(out, rel.results),
    report: (flags.report as string | undefined) ?? path.join(out, rel.report),
    figures: (flags["figures-dir"] as string | undefined) ?? path.join(out, rel.figures),
  };
}

/**
 * The progress line's arithmetic for reproduce. The unit is a seed; the running seed counts by the
 * share of its parts already done, each part weighed by its time in the last finished (or reused)
 * seed, because the parts differ a hundredfold (the public model: minutes; task items: a second).
 * Before any seed has finished there are no weights, and the line shows the part and the time
 * elapsed instead of a guess.
 */
export class SeedProgress {
  private weights?: Record<string, number>;
  private finished = 0;
  /** Parts of the running seed started so far, in order (the last one is running). */
  private started: string[] = [];

  constructor(
    private readonly progress: Progress,
    private readonly seeds: readonly number[],
  ) {}

  on(e: ReproduceProgress): void {
    const where = `seed ${e.seed} (${this.seeds.indexOf(e.seed) + 1} of ${this.seeds.length})`;
    if (e.event === "reused" || e.event === "done") {
      if (Object.keys(e.parts).length) this.weights = e.parts;
      this.started = [];
      this.finished++;
      if (e.event === "reused") this.progress.skip(1);
      else this.progress.update(this.finished, this.seeds.length);
      return;
    }
    if (e.event === "start") {
      this.started = [];
      this.progress.stage(where);
    } else if (e.event === "stage") {
      this.started.push(e.stage);
      this.progress.stage(`${where} · ${e.stage}`);
    }
    this.progress.update(this.finished + this.runningShare(), this.seeds.length);
  }

  /** The share of the running seed done: finished parts' weights over all weights, below 1 until it ends. */
  runningShare(): number {
    if (!this.weights) return 0;
    const all = Object.values(this.weights).reduce((s, x) => s + x, 0);
    if (!(all > 0)) return 0;
    const done = new Set(this.started.slice(0, -1));
    const share = [...done].reduce((s, name) => s + (this.weights![name] ?? 0), 0) / all;
    return Math.min(0.99, share);
  }
}

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { RECIPES, withOverrides } = await import("../../reproduce/recipe");
  const { reproduce } = await import("../../reproduce/run");
  const { backendReport } = await import("../../backend");
  const f = args.flags;
  if (f.quick && f.recipe && f.recipe !== "quick") throw new UsageError(`--quick and --recipe ${String(f.recipe)} contradict each other; pass one of them.`);
  const name: Name = f.quick ? "quick" : ((f.recipe as Name | undefined) ?? (backendReport()?.gpu ? "gpu" : "study"));
  const n = intFlag(f.seeds, "seeds", 1);
  const recipe = withOverrides(RECIPES[name], { seeds: n === undefined ? undefined : Array.from({ length: n }, (_, i) => i) });
  const out = outputPaths(name, f);
  // The command as the report prints it: rebuilt from the parsed flags (the same run whichever entry point was used).
  // An --out that is the repository is what `npm run reproduce` passes itself, so it is left out.
  const { packageRoot } = await import("../../util/package");
  const atRepo = f.out !== undefined && path.resolve(String(f.out)) === path.resolve(packageRoot());
  const given = (["quick", "recipe", "seeds", "fresh", "out", "results-dir", "report", "figures-dir"] as const).filter((k) => f[k] !== undefined && f[k] !== false && !(k === "out" && atRepo));
  const command = ["npm run reproduce", ...(given.length ? ["--"] : []), ...given.map((k) => (f[k] === true ? `--${k}` : `--${k} ${String(f[k])}`))].join(" ");
  // Create the output folders first: a path that cannot hold them fails now, with the reason.
  const resultsDir = prepareOutDir(out.results, f["results-dir"] !== undefined ? "--results-dir" : "--out");
  const reportFile = out.report;
  prepareOutDir(path.dirname(path.resolve(reportFile)), f.report !== undefined ? "--report" : "--out");
  const figuresDir = prepareOutDir(out.figures, f["figures-dir"] !== undefined ? "--figures-dir" : "--out");
  const progress = progressFor(io, { label: `reproduce ${recipe.name}`, unit: "seeds", total: recipe.seeds.length, showRate: false });
  const seeds = new SeedProgress(progress, recipe.seeds);
  const log = (line: string) => progress.log(line);
  log(`writing ${resultsDir}/, ${reportFile} and ${figuresDir}/`);
  return withInterrupt(
    io,
    async (signal) => {
      const res = await reproduce({
        recipe,
        resultsDir,
        reportFile,
        figuresDir,
        fresh: Boolean(f.fresh),
        backend: backendReport()?.name,
        command,
        log,
        onProgress: (e) => seeds.on(e),
        signal,
      }).finally(() => progress.finish());
      if (f.json) printJson(io, { recipe: recipe.name, ran: res.ran, reused: res.reused, interrupted: res.interrupted, seconds: res.seconds, files: res.files, summary: res.summary ?? null });
      if (!res.summary) {
        io.stderr("no seed finished: nothing to report\n");
        return res.interrupted ? EXIT_INTERRUPTED : 1;
      }
      const verdicts = res.summary.claims.map((c) => c.verdict);
      if (!f.json) {
        io.stdout(
          `recipe ${recipe.name}: seeds run ${res.ran.join(", ") || "none"}, reused ${res.reused.join(", ") || "none"}; ${(res.seconds / 60).toFixed(1)} min${res.interrupted ? " (INTERRUPTED: the report covers the finished seeds only)" : ""}\n` +
            `claims: ${verdicts.filter((v) => v === "holds").length} hold, ${verdicts.filter((v) => v === "mixed").length} mixed, ${verdicts.filter((v) => v === "fails").length} fail\n`,
        );
      }
      io.stderr(`wrote ${res.files.length} files, report: ${reportFile}\n`);
      return res.interrupted ? EXIT_INTERRUPTED : 0;
    },
    log,
  );
}

export const command: Command = {
  name: "reproduce",
  summary: "Reproduce the paper's findings at laptop scale (tables over seeds, figures, privacy, honesty report)",
  description:
    "Trains, per seed, one public model, a dense expert and FlexOlmo owners (three variants) for each of the eight closed domains, builds the " +
    "Table 1 (math, educational, code) and Table 2 (all eight) analogues with every baseline and ablation, the Fig. 2/3/4 analogues, router " +
    "geometry and the extraction test, and writes seed files, figures and a markdown report with mean ± sd over seeds and a claim-by-claim " +
    "honesty section. Finished seeds are reused when the recipe matches, so an interrupted run continues where it stopped. Recipes: study " +
    "(default without a GPU: 3 seeds, ~51 min on 2 cores with the native BLAS matMul, ~2× that without), quick (1 seed, ~7 min), gpu (default " +
    "on a GPU backend; not yet measured), tiny (tests: seconds, meaningless numbers). Everything goes under --out (default " + DEFAULT_OUT + " in the " +
    "current directory) in the repository's layout: results/ (seed files, summary.json), docs/results.md and docs/figures/ for the study, " +
    "results/<recipe>/, docs/results-<recipe>.md and docs/figures/<recipe>/ for the others. `npm run reproduce` passes the repository itself as --out.",
  positionals: [],
  flags: [
    { name: "quick", type: "boolean", help: "the quick recipe: one seed, shorter training (writes results/quick/, docs/results-quick.md under --out)" },
    { name: "recipe", type: "string", choices: RECIPE_NAMES, help: "study | quick | gpu | tiny (default: gpu on a GPU backend, else study)" },
    { name: "seeds", type: "int", metavar: "N", help: "run seeds 0 … N−1 instead of the recipe's" },
    { name: "fresh", type: "boolean", help: "rerun every seed even when a matching seed file exists" },
    { name: "out", type: "string", metavar: "DIR", help: `folder for everything the run writes (default ${DEFAULT_OUT}, under the current directory)` },
    { name: "results-dir", type: "string", metavar: "DIR", help: "seed files and summary.json (default per recipe under --out, e.g. results/)" },
    { name: "report", type: "string", metavar: "FILE", help: "markdown report (default per recipe under --out, e.g. docs/results.md)" },
    { name: "figures-dir", type: "string", metavar: "DIR", help: "SVG figures (default per recipe under --out, e.g. docs/figures/)" },
    studyFlags.json("the run and its summary (summary.json's content)"),
  ],
  examples: ["npm run reproduce", "npm run reproduce -- --quick", "flexolmo reproduce --quick --out /tmp/study", "flexolmo reproduce --recipe tiny --results-dir /tmp/r --report /tmp/r/report.md --figures-dir /tmp/r/fig"],
  needsBackend: true,
  run,
};
