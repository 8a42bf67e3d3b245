/**
 * `flexolmo compare`: FlexOlmo against the paper's baselines (dense experts, model soups, BTM,
 * prompt routing, BTX, unrestricted MoE) and its own ablations, from one public model, printed as
 * one perplexity table. Writes results.json and summary.md.
 */
import type { ParsedArgs } from "../args";
import { progressFor } from "../progress";
import type { CliIO, Command } from "../registry";
import { domainsFlag, intFlag, outFlag, presetFlag, Preset, printJson, studyFlags, withInterrupt } from "../run-helpers";

/** Step budgets per preset (`public`: only when the public model starts from scratch). cpu: about an hour on a 2-core laptop with every row. */
const DEFAULT_STEPS: Record<Preset, { public: number; expert: number; rt: number; btx: number; evalWindows: number }> = {
  tiny: { public: 20, expert: 8, rt: 4, btx: 4, evalWindows: 4 },
  cpu: { public: 150, expert: 60, rt: 30, btx: 30, evalWindows: 16 },
  gpu: { public: 2000, expert: 1000, rt: 200, btx: 200, evalWindows: 64 },
};

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { runStudy } = await import("../../flex/baselines/study");
  const preset = await presetFlag(args.flags.preset);
  const d = DEFAULT_STEPS[preset];
  const domains = domainsFlag(args.flags.domains, "math,code");
  const progress = progressFor(io, { label: "compare", unit: "parts" });
  const log = (line: string) => progress.log(line);
  return withInterrupt(io, async (signal) => {
    const out = outFlag(args.flags.out, "compare", preset);
    const r = await runStudy({
      preset,
      seed: (args.flags.seed as number | undefined) ?? 0,
      domains,
      publicFrom: args.flags.public as "shipped" | "scratch" | undefined,
      publicSteps: intFlag(args.flags["public-steps"], "public-steps"),
      scratchSteps: d.public,
      expertSteps: intFlag(args.flags["expert-steps"], "expert-steps", 1) ?? d.expert,
      rtSteps: intFlag(args.flags["rt-steps"], "rt-steps") ?? d.rt,
      btxSteps: intFlag(args.flags["btx-steps"], "btx-steps") ?? d.btx,
      evalWindows: intFlag(args.flags["eval-windows"], "eval-windows", 1) ?? d.evalWindows,
      k: intFlag(args.flags.k, "k", 1),
      docs: intFlag(args.flags.docs, "docs", 1),
      skipAblations: Boolean(args.flags["no-ablations"]),
      skipUnrestricted: Boolean(args.flags["no-unrestricted"]),
      out,
      log,
      onProgress: (p) => {
        progress.update(p.done, p.total);
        progress.stage(p.stage);
      },
      signal,
    }).finally(() => progress.finish());
    if (args.flags.json) printJson(io, { ...r, table: r.table.toJSON() });
    else io.stdout(`${String(r.table)}\n`);
    io.stderr(`wrote ${out}/results.json and ${out}/summary.md in ${r.seconds.toFixed(1)} s\n`);
    return 0;
  }, log);
}

export const command: Command = {
  name: "compare",
  summary: "Compare FlexOlmo with the paper's baselines and ablations (one perplexity table)",
  description:
    "Starts from the shipped public model (or trains one from scratch), trains one dense expert and one FlexOlmo owner per domain (same steps, same batches), builds every baseline " +
    "(model soups, BTM, prompt routing, BTX, unrestricted MoE FLOP- and data-matched) and ablation (no bias, random init, " +
    "public-model init, no coordination, router tuning), and evaluates all of them on the same windows.",
  positionals: [],
  flags: [
    studyFlags.preset(),
    studyFlags.domains("closed"),
    studyFlags.publicFrom(),
    studyFlags.publicSteps(),
    { name: "expert-steps", type: "int", metavar: "N", help: "steps per dense expert and per FlexOlmo owner (preset default)" },
    { name: "rt-steps", type: "int", metavar: "N", help: "router-tuning steps for FlexOlmo (RT); 0 = no RT row (preset default)" },
    { name: "btx-steps", type: "int", metavar: "N", help: "BTX router-training steps on public data (preset default)" },
    { name: "k", type: "int", metavar: "K", help: "experts per token in every MoE (default: half the experts, rounded up)" },
    { name: "docs", type: "int", metavar: "N", help: "documents per domain embedding (default 1000)" },
    { name: "no-ablations", type: "boolean", help: "skip the no-bias / random-init / public-init owner sets" },
    { name: "no-unrestricted", type: "boolean", help: "skip the two unrestricted MoEs" },
    studyFlags.evalWindows(),
    studyFlags.seed(),
    studyFlags.out("compare"),
    studyFlags.json("the table, build times and budgets"),
  ],
  examples: ["flexolmo compare --preset cpu", "flexolmo compare --preset tiny --domains math --out /tmp/cmp"],
  needsBackend: true,
  run,
};
