/**
 * Register the "FlexOlmo Lab (TypeScript)" Jupyter kernel.
 *
 *     node dist/kernel/install.js                       # per-user (default)
 *     node dist/kernel/install.js --prefix DIR          # DIR/share/jupyter/kernels/flexolmo-lab
 *     node dist/kernel/install.js --jupyter-path DIR    # DIR/kernels/flexolmo-lab (put DIR on JUPYTER_PATH)
 *
 * We write the kernel spec ourselves instead of running `tslab install`, which needs the Jupyter
 * Python package just to copy a JSON file. kernel.json holds absolute paths (this Node binary,
 * tslab's entry point, our preload), so the kernel works from any notebook folder; re-run the
 * installer after moving the checkout or switching Node versions.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { packageRoot } from "../lib/util/package";
import { parseArgs as parseCliArgs, scriptHelp, type ScriptSpec, UsageError } from "../lib/cli/args";
import { logoPng, logoSvg } from "./logo";

export const KERNEL_NAME = "flexolmo-lab";
export const DISPLAY_NAME = "FlexOlmo Lab (TypeScript)";

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: "typescript";
  /** SIGINT is how our preload learns about "interrupt" (training stops at a step boundary). */
  interrupt_mode: "signal";
  metadata: Record<string, unknown>;
}

export type InstallTarget = { kind: "user" } | { kind: "prefix"; dir: string } | { kind: "jupyter-path"; dir: string };

/** The package root (the folder with package.json): one finder for the whole package. */
export { packageRoot };

/** kernel.json for the package at `root`. Throws with what to do when a piece is missing. */
export function kernelSpec(root = packageRoot()): KernelSpec {
  const preload = path.join(root, "dist", "kernel", "preload.js");
  if (!fs.existsSync(preload)) {
    throw new Error(`The kernel preload ${preload} does not exist. Build first: npm run build (or npx tsc -p tsconfig.json).`);
  }
  let tslabDir: string;
  try {
    tslabDir = path.dirname(require.resolve("tslab/package.json", { paths: [root] }));
  } catch {
    throw new Error(`tslab is not installed for ${root}. Run npm install (tslab is a dependency of flexolmo-lab).`);
  }
  const tslabBin = path.join(tslabDir, "bin", "tslab");
  if (!fs.existsSync(tslabBin)) throw new Error(`tslab's entry point ${tslabBin} is missing; reinstall tslab (npm install).`);
  return {
    argv: [process.execPath, "--require", preload, tslabBin, "kernel", "--config-path", "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "signal",
    metadata: { "flexolmo-lab": { packageRoot: root, tslab: tslabDir } },
  };
}

/** Jupyter's per-user data directory (jupyter_core.paths.jupyter_data_dir). */
export function userDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  const home = os.homedir();
  if (platform === "darwin") return path.join(home, "Library", "Jupyter");
  if (platform === "win32") return path.join(env.APPDATA ?? path.join(home, "AppData", "Roaming"), "jupyter");
  return path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "jupyter");
}

/** The kernelspec folder for a target. */
export function kernelDir(target: InstallTarget, name = KERNEL_NAME): string {
  switch (target.kind) {
    case "user":
      return path.join(userDataDir(), "kernels", name);
    case "prefix":
      return path.join(path.resolve(target.dir), "share", "jupyter", "kernels", name);
    case "jupyter-path":
      return path.join(path.resolve(target.dir), "kernels", name);
  }
}

/**
 * Write the kernelspec folder atomically: build it next to the destination, then swap it in with
 * renames, so a half-written spec never replaces a working one.
 */
export function installKernelSpec(target: InstallTarget, root = packageRoot(), name = KERNEL_NAME): { dir: string; spec: KernelSpec } {
  const spec = kernelSpec(root);
  const dir = kernelDir(target, name);
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${name}.tmp-`));
  try {
    fs.writeFileSync(path.join(tmp, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
    fs.writeFileSync(path.join(tmp, "logo-svg.svg"), logoSvg());
    fs.writeFileSync(path.join(tmp, "logo-32x32.png"), logoPng(32));
    fs.writeFileSync(path.join(tmp, "logo-64x64.png"), logoPng(64));
    const old = fs.existsSync(dir) ? `${tmp}-old` : undefined;
    if (old) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { dir, spec };
}

export const SPEC: ScriptSpec = {
  prog: "node dist/kernel/install.js",
  summary: `Register the "${DISPLAY_NAME}" Jupyter kernel (one target; default --user).`,
  flags: [
    { name: "user", type: "boolean", help: `install for this user (default): ${path.join(userDataDir(), "kernels", KERNEL_NAME)}` },
    { name: "prefix", type: "string", metavar: "DIR", help: `install into DIR/share/jupyter/kernels/${KERNEL_NAME} (e.g. a virtualenv's prefix)` },
    { name: "jupyter-path", type: "string", metavar: "DIR", help: `install into DIR/kernels/${KERNEL_NAME}; then run Jupyter with JUPYTER_PATH=DIR` },
  ],
};

/** Parse the installer's arguments (throws UsageError). Exported for tests. */
export function parseArgs(args: string[]): InstallTarget | "help" {
  const p = parseCliArgs(args, SPEC.flags, []);
  if (p.help) return "help";
  const targets: InstallTarget[] = [];
  if (p.flags.user) targets.push({ kind: "user" });
  for (const flag of ["prefix", "jupyter-path"] as const) {
    const dir = p.flags[flag] as string | undefined;
    if (dir === undefined) continue;
    // `--prefix --user` would make "--user" the folder: almost certainly a forgotten DIR.
    if (dir === "" || dir.startsWith("--")) throw new UsageError(`--${flag} needs a directory argument (got "${dir}")`);
    targets.push(flag === "prefix" ? { kind: "prefix", dir } : { kind: "jupyter-path", dir });
  }
  if (targets.length > 1) throw new UsageError("Choose one of --user, --prefix DIR, --jupyter-path DIR (got more than one).");
  return targets[0] ?? { kind: "user" };
}

function main(): void {
  try {
    const target = parseArgs(process.argv.slice(2));
    if (target === "help") {
      process.stdout.write(scriptHelp(SPEC));
      return;
    }
    const { dir, spec } = installKernelSpec(target);
    console.log(`Installed the "${spec.display_name}" kernel spec in ${dir}`);
    console.log(`  ${spec.argv.join(" ")}`);
    if (target.kind === "jupyter-path") console.log(`Jupyter finds it when JUPYTER_PATH includes ${path.resolve(target.dir)}.`);
    console.log("Check with: jupyter kernelspec list");
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${SPEC.prog}: ${e.message}\nRun '${SPEC.prog} --help' for usage.`);
      process.exitCode = 2; // a usage error, as the flexolmo CLI reports one
      return;
    }
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}

if (require.main === module) main();
