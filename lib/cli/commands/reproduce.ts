/**
 * `flexolmo reproduce` (also `npm run reproduce`): the paper's findings at laptop scale — Table 1
 * and Table 2 analogues over several seeds, the Fig. 2/3/4 analogues, router geometry and the
 * extraction test — written to results/*.json and a report (docs/results.md + docs/figures/).
 */
import * as path from "node:path";
import type { ParsedArgs } from "../args";
import { UsageError } from "../args";
import type { CliIO, Command } from "../registry";
import { intFlag, prepareOutDir, withInterrupt } from "../run-helpers";

const RECIPE_NAMES = ["study", "quick", "tiny", "gpu"] as const;
type Name = (typeof RECIPE_NAMES)[number];

/** Where each recipe writes by default: the full study owns results/ and docs/results.md; the others keep out of its way. */
const OUTPUTS: Record<Name, { results: string; report: string; figures: string }> = {
  study: { results: "results", report: "docs/results.md", figures: "docs/figures" },
  gpu: { results: "results/gpu", report: "docs/results-gpu.md", figures: "docs/figures/gpu" },
  quick: { results: "results/quick", report: "docs/results-quick.md", figures: "docs/figures/quick" },
  tiny: { results: "runs/reproduce-tiny/results", report: "runs/reproduce-tiny/results.md", figures: "runs/reproduce-tiny/figures" },
};

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { RECIPES, withOverrides } = await import("../../reproduce/recipe");
  const { reproduce } = await import("../../reproduce/run");
  const { backendReport } = await import("../../backend");
  const f = args.flags;
  if (f.quick && f.recipe && f.recipe !== "quick") throw new UsageError(`--quick and --recipe ${String(f.recipe)} contradict each other; pass one of them.`);
  const name: Name = f.quick ? "quick" : ((f.recipe as Name | undefined) ?? (backendReport()?.gpu ? "gpu" : "study"));
  const n = intFlag(f.seeds, "seeds", 1);
  const recipe = withOverrides(RECIPES[name], { seeds: n === undefined ? undefined : Array.from({ length: n }, (_, i) => i) });
  const out = OUTPUTS[name];
  // The command as the report prints it: rebuilt from the parsed flags (the same run whichever entry point was used).
  const given = (["quick", "recipe", "seeds", "fresh", "results-dir", "report", "figures-dir"] as const).filter((k) => f[k] !== undefined && f[k] !== false);
  const command = ["npm run reproduce", ...(given.length ? ["--"] : []), ...given.map((k) => (f[k] === true ? `--${k}` : `--${k} ${String(f[k])}`))].join(" ");
  // Create the output folders first: a path that cannot hold them fails now, with the reason.
  const resultsDir = prepareOutDir((f["results-dir"] as string | undefined) ?? out.results, "--results-dir");
  const reportFile = (f.report as string | undefined) ?? out.report;
  prepareOutDir(path.dirname(path.resolve(reportFile)), "--report");
  const figuresDir = prepareOutDir((f["figures-dir"] as string | undefined) ?? out.figures, "--figures-dir");
  return withInterrupt(io, async (signal) => {
    const res = await reproduce({
      recipe,
      resultsDir,
      reportFile,
      figuresDir,
      fresh: Boolean(f.fresh),
      backend: backendReport()?.name,
      command,
      log: (line) => io.stdout(line + "\n"),
      signal,
    });
    if (!res.summary) {
      io.stderr("no seed finished: nothing to report\n");
      return 1;
    }
    const verdicts = res.summary.claims.map((c) => c.verdict);
    io.stdout(
      `\nrecipe ${recipe.name}: seeds run ${res.ran.join(", ") || "none"}, reused ${res.reused.join(", ") || "none"}; ${(res.seconds / 60).toFixed(1)} min\n` +
        `claims: ${verdicts.filter((v) => v === "holds").length} hold, ${verdicts.filter((v) => v === "mixed").length} mixed, ${verdicts.filter((v) => v === "fails").length} fail\n` +
        `wrote ${res.files.length} files, report: ${(f.report as string | undefined) ?? out.report}\n`,
    );
    return res.interrupted ? 130 : 0;
  });
}

export const command: Command = {
  name: "reproduce",
  summary: "Reproduce the paper's findings at laptop scale (tables over seeds, figures, privacy, honesty report)",
  description:
    "Trains, per seed, one public model, a dense expert and FlexOlmo owners (three variants) for each of the eight closed domains, builds the " +
    "Table 1 (math, educational, code) and Table 2 (all eight) analogues with every baseline and ablation, the Fig. 2/3/4 analogues, router " +
    "geometry and the extraction test, and writes results/*.json, figures and a markdown report with mean ± sd over seeds and a claim-by-claim " +
    "honesty section. Finished seeds are reused when the recipe matches, so an interrupted run continues where it stopped. Recipes: study " +
    "(default without a GPU: 3 seeds, ~47 min on 2 cores with the native BLAS matMul, ~2× that without), quick (1 seed, ~7 min), gpu (default " +
    "on a GPU backend; not yet measured), tiny (tests: seconds, meaningless numbers).",
  positionals: [],
  flags: [
    { name: "quick", type: "boolean", help: "the quick recipe: one seed, shorter training (writes results/quick, docs/results-quick.md)" },
    { name: "recipe", type: "string", choices: RECIPE_NAMES, help: "study | quick | gpu | tiny (default: gpu on a GPU backend, else study)" },
    { name: "seeds", type: "int", metavar: "N", help: "run seeds 0 … N−1 instead of the recipe's" },
    { name: "fresh", type: "boolean", help: "rerun every seed even when a matching seed file exists" },
    { name: "results-dir", type: "string", metavar: "DIR", help: "seed files and summary.json (default per recipe, e.g. results/)" },
    { name: "report", type: "string", metavar: "FILE", help: "markdown report (default per recipe, e.g. docs/results.md)" },
    { name: "figures-dir", type: "string", metavar: "DIR", help: "SVG figures (default per recipe, e.g. docs/figures/)" },
  ],
  examples: ["npm run reproduce", "npm run reproduce -- --quick", "flexolmo reproduce --recipe tiny --results-dir /tmp/r --report /tmp/r/report.md --figures-dir /tmp/r/fig"],
  needsBackend: true,
  run,
};
