/**
 * `flexolmo pipeline`: the whole FlexOlmo pipeline on the shipped corpus, with progress output,
 * checkpoints, results.json and a markdown summary. The README quickstart runs this.
 */
import type { ParsedArgs } from "../args";
import type { CliIO, Command } from "../registry";
import { domainsFlag, intFlag, outFlag, presetFlag, Preset, studyFlags, withInterrupt } from "../run-helpers";

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
  return withInterrupt(io, async (signal) => {
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
      log: (line) => io.stdout(line + "\n"),
      signal,
    });
    io.stdout(`\nwrote ${r.out}/results.json and ${r.out}/summary.md (checkpoints: public/, owners/*, merged/${Object.keys(r.stages).some((k) => k.startsWith("router tuning")) ? ", merged-rt/" : ""}) in ${r.seconds.toFixed(1)} s\n`);
    return 0;
  });
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
  ],
  examples: ["flexolmo pipeline --preset cpu", "flexolmo pipeline --recipe paper --seed 1", "flexolmo pipeline --public scratch --public-steps 300", "flexolmo pipeline --preset tiny --domains math --out /tmp/run"],
  needsBackend: true,
  run,
};
