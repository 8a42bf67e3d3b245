/**
 * Pieces shared by the long-running commands (pipeline, compare): flag parsing for step counts and
 * domain lists, and a Ctrl-C that stops at the next step boundary instead of killing the process.
 */
import { UsageError } from "./args";
import type { CliIO } from "./registry";

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
