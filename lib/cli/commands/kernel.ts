/**
 * `flexolmo kernel install`: register the "FlexOlmo Lab (TypeScript)" Jupyter kernel.
 *
 * The same kernel spec as `npm run kernel:install` (kernel/install.ts writes it), for people who
 * installed the package from npm: they have the `flexolmo` bin but no checkout to run npm scripts in.
 * The spec points at this installed copy (its Node, tslab and dist/kernel/preload.js), so re-run it
 * after moving or reinstalling the package or switching Node versions.
 */
import * as path from "node:path";
import { type ParsedArgs, UsageError, suggest } from "../args";
import type { CliIO, Command } from "../registry";

const ACTIONS = ["install"] as const;

async function run(args: ParsedArgs, io: CliIO): Promise<number> {
  const action = args.positionals[0];
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`unknown action "${action}": the kernel command has ${ACTIONS.map((a) => `"${a}"`).join(", ")}${suggest(action, [...ACTIONS])}`);
  }
  const f = args.flags;
  const chosen = [f.user ? "--user" : undefined, f.prefix !== undefined ? "--prefix" : undefined, f["jupyter-path"] !== undefined ? "--jupyter-path" : undefined].filter(Boolean);
  if (chosen.length > 1) throw new UsageError(`choose one of --user, --prefix DIR, --jupyter-path DIR (got ${chosen.join(" and ")})`);
  for (const name of ["prefix", "jupyter-path"] as const) {
    if (f[name] === "") throw new UsageError(`--${name} needs a directory (got an empty string)`);
  }

  const { installKernelSpec } = await import("../../../kernel/install");
  type Target = Parameters<typeof installKernelSpec>[0];
  const target: Target =
    f.prefix !== undefined ? { kind: "prefix", dir: f.prefix as string } : f["jupyter-path"] !== undefined ? { kind: "jupyter-path", dir: f["jupyter-path"] as string } : { kind: "user" };
  const { dir, spec } = installKernelSpec(target);
  const lines = [`Installed the "${spec.display_name}" kernel spec in ${dir}`, `  ${spec.argv.join(" ")}`];
  if (target.kind === "jupyter-path") lines.push(`Jupyter finds it when JUPYTER_PATH includes ${path.resolve(target.dir)}.`);
  if (target.kind === "prefix") lines.push(`Jupyter finds it when it runs from the environment at ${path.resolve(target.dir)} (or with JUPYTER_PATH=${path.join(path.resolve(target.dir), "share", "jupyter")}).`);
  lines.push("Check with: jupyter kernelspec list");
  io.stdout(lines.join("\n") + "\n");
  return 0;
}

export const command: Command = {
  name: "kernel",
  summary: "Register the FlexOlmo Lab Jupyter kernel (tslab with the API preloaded): flexolmo kernel install",
  description:
    "Writes kernel.json (absolute paths to this Node, tslab and the package's kernel preload) and the logos\n" +
    "into a Jupyter kernels folder, replacing an earlier spec atomically. Without a flag it installs for\n" +
    "your user (Jupyter's data directory; JUPYTER_DATA_DIR overrides it). Re-run after moving or\n" +
    "reinstalling the package or switching Node versions.",
  positionals: [{ name: "ACTION", help: "install (the only action)" }],
  flags: [
    { name: "user", type: "boolean", help: "install for this user (the default)" },
    { name: "prefix", type: "string", metavar: "DIR", help: "install into DIR/share/jupyter/kernels/flexolmo-lab (e.g. a virtualenv's prefix)" },
    { name: "jupyter-path", type: "string", metavar: "DIR", help: "install into DIR/kernels/flexolmo-lab; then run Jupyter with JUPYTER_PATH=DIR" },
  ],
  examples: ["flexolmo kernel install", "flexolmo kernel install --prefix \"$VIRTUAL_ENV\"", "flexolmo kernel install --jupyter-path ~/jupyter && JUPYTER_PATH=~/jupyter jupyter lab"],
  run,
};
