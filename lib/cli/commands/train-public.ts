/**
 * `flexolmo train-public`: train a public model from scratch and save it, weights only, with a card
 * holding this very command, the learning curve, test perplexities and toy-task accuracies. The
 * model shipped in data/public-cpu/ was built with it (its README.md has the exact command).
 */
import * as path from "node:path";
import type { ParsedArgs } from "../args";
import { progressFor } from "../progress";
import type { CliIO, Command } from "../registry";
import { intFlag, prepareOutDir, presetFlag, printJson, studyFlags, withInterrupt } from "../run-helpers";

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const { flex } = await import("../../flex");
  const { buildPublicModel, shippedPublicDir } = await import("../../flex/shipped");
  const preset = await presetFlag(args.flags.preset);
  const steps = intFlag(args.flags.steps, "steps", 1) ?? 3000;
  const evalEvery = intFlag(args.flags["eval-every"], "eval-every", 1) ?? Math.max(1, Math.round(steps / 6));
  const seed = (args.flags.seed as number | undefined) ?? 0;
  const out = (args.flags.out as string | undefined) ?? shippedPublicDir(preset);
  prepareOutDir(path.dirname(path.resolve(out)), "--out"); // the checkpoint itself is saved atomically at the end
  const lab = await flex.lab({ preset, seed });
  const evalWindows = intFlag(args.flags["eval-windows"], "eval-windows", 1);
  const taskItems = intFlag(args.flags["task-items"], "task-items", 1);
  // Everything that changes the weights or the card's numbers; --out only says where.
  const command = [
    "flexolmo train-public",
    `--preset ${preset}`,
    `--steps ${steps}`,
    `--eval-every ${evalEvery}`,
    `--seed ${seed}`,
    ...(evalWindows !== undefined ? [`--eval-windows ${evalWindows}`] : []),
    ...(taskItems !== undefined ? [`--task-items ${taskItems}`] : []),
  ].join(" ");
  const progress = progressFor(io, { label: "train-public", unit: "steps", total: steps });
  const log = (line: string) => progress.log(line);
  log(`${command}\n  ${lab.backend.summary}; writing ${out}`);
  progress.update(0); // this run counts from step 0: the rate and ETA start here
  return withInterrupt(io, async (signal) => {
    const r = await buildPublicModel(lab, {
      steps,
      evalEvery,
      evalWindows: evalWindows ?? 16,
      taskItems,
      out,
      command,
      log,
      onProgress: (done) => progress.update(done),
      signal,
    }).finally(() => progress.finish());
    if (args.flags.json) printJson(io, r);
    else {
      const tasks = r.tasks.map((t) => `${t.task} ${(100 * t.accuracy).toFixed(1)} %`).join(", ");
      io.stdout(`test perplexity: ${Object.entries(r.test).map(([d, p]) => `${d} ${p}`).join(", ")}\ntoy tasks (chance 25 %): ${tasks}\n`);
    }
    io.stderr(`wrote ${r.out} in ${r.seconds.toFixed(0)} s\n`);
    return 0;
  }, log);
}

export const command: Command = {
  name: "train-public",
  summary: "Train a public model from scratch and save it with its card (how the shipped one was built)",
  description:
    "Trains the dense public model on the public split with one warm-up + cosine schedule over all steps, evaluating the valid split " +
    "every --eval-every steps, then saves the weights (no optimizer state) with a card: the command, the learning curve, test perplexities " +
    "and toy-task accuracies. Deterministic for a seed on one machine. Writes to data/public-<preset> unless --out says otherwise.",
  positionals: [],
  flags: [
    studyFlags.preset(),
    { name: "steps", type: "int", metavar: "N", help: "training steps (default 3000)" },
    { name: "eval-every", type: "int", metavar: "N", help: "evaluate the valid split every N steps (default steps / 6)" },
    studyFlags.seed(),
    studyFlags.evalWindows(),
    { name: "task-items", type: "int", metavar: "N", help: "items per toy task in the card (default 48)" },
    { name: "out", type: "string", metavar: "DIR", help: "output folder (default data/public-<preset>, the shipped model's place)" },
    studyFlags.json("the card's numbers (curve, test perplexities, toy tasks)"),
  ],
  examples: ["flexolmo train-public --preset cpu --steps 3000", "flexolmo train-public --preset tiny --steps 50 --out /tmp/pub"],
  needsBackend: true,
  run,
};
