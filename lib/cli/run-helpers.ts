/**
 * Pieces shared by the long-running commands (pipeline, compare): flag parsing for step counts and
 * domain lists, and a Ctrl-C that stops at the next step boundary instead of killing the process.
 */
import { FileError, makeDirs } from "../util/fs";
import { FlagSpec, UsageError } from "./args";
import type { CliIO } from "./registry";

/** The model/training sizes both study commands offer; each maps them to its own step budgets. */
export const PRESETS = ["tiny", "cpu", "gpu"] as const;
export type Preset = (typeof PRESETS)[number];

/** `--preset`, by default gpu on a GPU backend, else cpu. The backend is imported only here, when the command runs. */
export async function presetFlag(v: unknown): Promise<Preset> {
  const { backendReport } = await import("../backend");
  return ((v as string | undefined) ?? (backendReport()?.gpu ? "gpu" : "cpu")) as Preset;
}

/**
 * `--out`, by default runs/<command>-<preset>, created now: a path that cannot hold the results
 * (a file, a read-only disk, /proc where Node's recursive mkdir spins forever) fails in a second
 * with the reason, not after an hour of training.
 */
export function outFlag(v: unknown, command: string, preset: Preset): string {
  const out = (v as string | undefined) ?? `runs/${command}-${preset}`;
  return prepareOutDir(out, "--out");
}

/** Create an output folder (and its parents) safely; a refusal is a usage error naming the flag. */
export function prepareOutDir(dir: string, flag: string): string {
  try {
    makeDirs(dir);
  } catch (e) {
    if (e instanceof FileError) throw new UsageError(`${flag} ${dir}: ${e.message}`);
    throw e;
  }
  return dir;
}

/**
 * The flag specs the study commands share. They are functions of what differs (which domains the
 * list names, the command's name in the default output directory) so that `--help` reads the same.
 */
export const studyFlags = {
  preset: (): FlagSpec => ({ name: "preset", type: "string", choices: PRESETS, help: "model/training size (default: gpu on a GPU backend, else cpu)" }),
  domains: (what: string): FlagSpec => ({ name: "domains", type: "string", metavar: "LIST", help: `${what} domains, comma-separated (default math,code)` }),
  publicFrom: (): FlagSpec => ({ name: "public", type: "string", choices: ["shipped", "scratch"], help: "public model: the shipped pretrained one (default where it fits the preset: cpu) or a new one from scratch" }),
  publicSteps: (): FlagSpec => ({ name: "public-steps", type: "int", metavar: "N", help: "public-model steps: from scratch (preset default), or more on top of the shipped model (default 0)" }),
  evalWindows: (): FlagSpec => ({ name: "eval-windows", type: "int", metavar: "N", help: "evaluation windows per domain (preset default)" }),
  seed: (): FlagSpec => ({ name: "seed", type: "int", metavar: "S", help: "seed for everything (default 0)" }),
  recipe: (): FlagSpec => ({ name: "recipe", type: "string", choices: ["paper", "lab"], help: "FlexOlmo recipe: paper (as published) or lab (router calibration on public text with a router margin loss, β₀ = −3, k = 2; docs/recipes.md). Default lab" }),
  out: (command: string): FlagSpec => ({ name: "out", type: "string", metavar: "DIR", help: `output directory (default runs/${command}-<preset>)` }),
};

/** An integer flag ≥ `min`, or undefined when absent. */
export function intFlag(v: unknown, flag: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new UsageError(`--${flag} must be an integer ≥ ${min} (got ${String(v)})`);
  return v;
}

/** `--domains a,b` as a list (default given), refusing an empty one. */
export function domainsFlag(v: unknown, fallback: string): string[] {
  const domains = ((v as string | undefined) ?? fallback).split(",").map((s) => s.trim()).filter(Boolean);
  if (domains.length === 0) throw new UsageError("--domains needs at least one closed domain, e.g. --domains math,code");
  return domains;
}

/**
 * Run `f` with an AbortSignal that the first Ctrl-C aborts (training stops after the current step
 * and the partial results are still written); a second Ctrl-C gets Node's default: exit.
 */
export async function withInterrupt<T>(io: CliIO, f: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    io.stderr("\ninterrupt: stopping after the current step (Ctrl-C again to kill)\n");
    controller.abort();
    process.off("SIGINT", onSigint);
  };
  process.on("SIGINT", onSigint);
  try {
    return await f(controller.signal);
  } finally {
    process.off("SIGINT", onSigint);
  }
}
