/**
 * Pieces shared by the long-running commands (pipeline, compare, reproduce, train-public): flag
 * parsing for step counts and domain lists, `--json` output, and a Ctrl-C that stops the whole run
 * at the next step boundary and exits 130.
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
  json: (what: string): FlagSpec => ({ name: "json", type: "boolean", help: `print ${what} as one JSON document on stdout instead of tables (progress and logs stay on stderr)` }),
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

/** The exit code of a run stopped by Ctrl-C: 128 + SIGINT (2), what shells report for it. */
export const EXIT_INTERRUPTED = 130;

/**
 * Run `f` with an AbortSignal that the first Ctrl-C aborts. The commands stop the whole run on it:
 * the training call in progress ends at its next step boundary, no later stage starts, and whatever
 * results they write say they are incomplete. Whatever `f` then returns or throws, the exit code is
 * 130, so a script or a shell sees an interrupted run, not a finished one. A second Ctrl-C gets
 * Node's default: the process ends at once.
 */
export async function withInterrupt(io: CliIO, f: (signal: AbortSignal) => Promise<number>, log: (line: string) => void = (l) => io.stderr(`${l}\n`)): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => {
    log("interrupt: stopping at the next step boundary; no later stage will run (Ctrl-C again to kill)");
    controller.abort();
    process.off("SIGINT", onSigint);
  };
  process.on("SIGINT", onSigint);
  try {
    const code = await f(controller.signal);
    return controller.signal.aborted ? EXIT_INTERRUPTED : code;
  } catch (e) {
    if (!controller.signal.aborted) throw e;
    // What stopped: e.g. train-public's "interrupted at step 40 of 3000; nothing was saved".
    log(`interrupted: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_INTERRUPTED;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

/** Print `value` as one JSON document on stdout (`--json`): the results, nothing else. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + "\n");
}
