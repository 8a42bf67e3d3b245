/**
 * `flexolmo pipeline`: the whole FlexOlmo pipeline on the shipped corpus, with a progress line and
 * logs on stderr, the perplexity table (or `--json`) on stdout, checkpoints, results.json and a
 * markdown summary. The README quickstart runs this.
 */
import type { PipelineResult } from "../../flex/pipeline";
import type { ParsedArgs } from "../args";
import { progressFor } from "../progress";
import type { CliIO, Command } from "../registry";
import { domainsFlag, EXIT_INTERRUPTED, intFlag, outFlag, presetFlag, Preset, printJson, studyFlags, withInterrupt } from "../run-helpers";

/**
 * Step budgets per preset: the quickstart finishes in minutes on a 2-core laptop at "cpu", where it
 * starts from the shipped public model (`public` is then the budget for `--public scratch` only).
 */
const DEFAULT_STEPS: Record<Preset, { public: number; owner: number; router: number; evalWindows: number }> = {
  tiny: { public: 30, owner: 20, router: 10, evalWindows: 4 },
  cpu: { public: 200, owner: 100, router: 30, evalWindows: 16 },
  gpu: { public: 2000, owner: 1000, router: 200, evalWindows: 64 },
};

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { runPipeline } = await import("../../flex/pipeline");
  const preset = await presetFlag(args.flags.preset);
  const d = DEFAULT_STEPS[preset];
  const domains = domainsFlag(args.flags.domains, "math,code");
  const k = intFlag(args.flags.k, "k");
  const progress = progressFor(io, { label: "pipeline", unit: "steps" });
  const log = (line: string) => progress.log(line);
  return withInterrupt(
    io,
    async (signal) => {
      const r = await runPipeline({
        preset,
        domains,
        publicFrom: args.flags.public as "shipped" | "scratch" | undefined,
        publicSteps: intFlag(args.flags["public-steps"], "public-steps"),
        scratchSteps: d.public,
        ownerSteps: intFlag(args.flags["owner-steps"], "owner-steps") ?? d.owner,
        routerSteps: intFlag(args.flags["router-steps"], "router-steps") ?? d.router,
        k: k === 0 ? undefined : k,
        seed: (args.flags.seed as number | undefined) ?? 0,
        recipe: args.flags.recipe as "paper" | "lab" | undefined,
        out: outFlag(args.flags.out, "pipeline", preset),
        evalWindows: intFlag(args.flags["eval-windows"], "eval-windows") ?? d.evalWindows,
        log,
        onProgress: (p) => {
          progress.stage(p.stage); // before update: an update may print the line, which should name the stage
          progress.update(p.stepsDone, p.stepsTotal);
        },
        signal,
      }).finally(() => progress.finish());
      if (args.flags.json) printJson(io, r);
      else io.stdout(`${resultTable(r)}\n`);
      if (r.interrupted) return EXIT_INTERRUPTED; // runPipeline has said where it stopped and what it wrote
      io.stderr(`wrote ${r.out}/results.json and ${r.out}/summary.md (checkpoints: public/, owners/*, merged/${Object.keys(r.stages).some((k) => k.startsWith("router tuning")) ? ", merged-rt/" : ""}) in ${r.seconds.toFixed(1)} s\n`);
      return 0;
    },
    log,
  );
}

/** The results for stdout: test perplexity of every model evaluated (rows) per domain, two decimals, aligned. */
function resultTable(r: PipelineResult): string {
  const domains = [...r.domains, "public"];
  const title = `test perplexity (lower is better)${r.interrupted ? " — INTERRUPTED: only the stages that finished" : ""}`;
  const models = Object.entries(r.table);
  if (models.length === 0) return `${title}: no model was evaluated before the run stopped`;
  const header = ["model", ...domains, "average"];
  const rows = models.map(([model, ppl]) => [model, ...[...domains.map((x) => ppl[x]), domains.reduce((s, x) => s + ppl[x], 0) / domains.length].map((v) => v.toFixed(2))]);
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((row) => row[j].length)));
  // Model names left-aligned, numbers right-aligned on the decimal point.
  const line = (cells: string[]) => cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  ");
  return [title, line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export const command: Command = {
  name: "pipeline",
  summary: "Run the whole FlexOlmo pipeline on the shipped corpus (public model → owners → merge → opt-out)",
  description:
    "Starts from the shipped public model (or trains one from scratch), trains one coordinated owner expert per domain, merges them, optionally tunes the router, " +
    "and evaluates the public model, the merged model and the merged model without each expert. Writes checkpoints, results.json and summary.md.",
  positionals: [],
  flags: [
    studyFlags.preset(),
    studyFlags.domains("owner"),
    studyFlags.publicFrom(),
    studyFlags.publicSteps(),
    { name: "owner-steps", type: "int", metavar: "N", help: "training steps per owner (preset default)" },
    { name: "router-steps", type: "int", metavar: "N", help: "router-tuning steps after the merge; 0 = none (preset default)" },
    { name: "k", type: "int", metavar: "K", help: "experts per token in the merged model (default: the recipe's)" },
    studyFlags.recipe(),
    studyFlags.seed(),
    studyFlags.evalWindows(),
    studyFlags.out("pipeline"),
    studyFlags.json("the results (results.json's content)"),
  ],
  examples: ["flexolmo pipeline --preset cpu", "flexolmo pipeline --recipe paper --seed 1", "flexolmo pipeline --public scratch --public-steps 300", "flexolmo pipeline --preset tiny --domains math --out /tmp/run"],
  needsBackend: true,
  run,
};
