/**
 * `flexolmo pipeline`: the whole FlexOlmo pipeline on the shipped corpus, with progress output,
 * checkpoints, results.json and a markdown summary. The README quickstart runs this.
 */
import type { ParsedArgs } from "../args";
import type { CliIO, Command } from "../registry";
import { domainsFlag, intFlag, withInterrupt } from "../run-helpers";

const PRESETS = ["tiny", "cpu", "gpu"] as const;

/** Step budgets per preset: the quickstart finishes in minutes on a 2-core laptop at "cpu". */
const DEFAULT_STEPS: Record<(typeof PRESETS)[number], { public: number; owner: number; router: number; evalWindows: number }> = {
  tiny: { public: 30, owner: 20, router: 10, evalWindows: 4 },
  cpu: { public: 200, owner: 100, router: 30, evalWindows: 16 },
  gpu: { public: 2000, owner: 1000, router: 200, evalWindows: 64 },
};

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { runPipeline } = await import("../../flex/pipeline");
  const { backendReport } = await import("../../backend");
  const preset = ((args.flags.preset as string | undefined) ?? (backendReport()?.gpu ? "gpu" : "cpu")) as (typeof PRESETS)[number];
  const d = DEFAULT_STEPS[preset];
  const domains = domainsFlag(args.flags.domains, "math,code");
  const k = intFlag(args.flags.k, "k");
  return withInterrupt(io, async (signal) => {
    const r = await runPipeline({
      preset,
      domains,
      publicSteps: intFlag(args.flags["public-steps"], "public-steps") ?? d.public,
      ownerSteps: intFlag(args.flags["owner-steps"], "owner-steps") ?? d.owner,
      routerSteps: intFlag(args.flags["router-steps"], "router-steps") ?? d.router,
      k: k === 0 ? undefined : k,
      seed: (args.flags.seed as number | undefined) ?? 0,
      out: (args.flags.out as string | undefined) ?? `runs/pipeline-${preset}`,
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
    "Trains a dense public model, one coordinated owner expert per domain, merges them, optionally tunes the router, " +
    "and evaluates the public model, the merged model and the merged model without each expert. Writes checkpoints, results.json and summary.md.",
  positionals: [],
  flags: [
    { name: "preset", type: "string", choices: PRESETS, help: "model/training size (default: gpu on a GPU backend, else cpu)" },
    { name: "domains", type: "string", metavar: "LIST", help: "owner domains, comma-separated (default math,code)" },
    { name: "public-steps", type: "int", metavar: "N", help: "public-model training steps (preset default)" },
    { name: "owner-steps", type: "int", metavar: "N", help: "training steps per owner (preset default)" },
    { name: "router-steps", type: "int", metavar: "N", help: "router-tuning steps after the merge; 0 = none (preset default)" },
    { name: "k", type: "int", metavar: "K", help: "experts per token in the merged model (default: half, rounded up)" },
    { name: "seed", type: "int", metavar: "S", help: "seed for everything (default 0)" },
    { name: "eval-windows", type: "int", metavar: "N", help: "evaluation windows per domain (preset default)" },
    { name: "out", type: "string", metavar: "DIR", help: "output directory (default runs/pipeline-<preset>)" },
  ],
  examples: ["flexolmo pipeline --preset cpu", "flexolmo pipeline --preset tiny --domains math --out /tmp/run"],
  needsBackend: true,
  run,
};
