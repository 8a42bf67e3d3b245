/**
 * A kernel-wide AbortSignal, so that "interrupt the kernel" stops training at a step boundary.
 *
 * Training code passes `kernelAbortSignal()` to its loop (e.g. `trainer.steps(n, { signal })`) and
 * checks `signal.aborted` between steps, so the model is never left half-updated. The kernel preload
 * resets the signal at the start of every cell and aborts it on SIGINT (Jupyter's "interrupt").
 *
 * Outside the kernel nobody aborts it, so the same training code runs unchanged in scripts and tests.
 * State lives on a global symbol so that every copy of this module (the preload's and the notebook's)
 * shares one controller.
 */

interface SignalState {
  controller: AbortController;
  /** True once code in the current cell asked for the signal: it promised to stop at a boundary. */
  claimed: boolean;
}

const STATE_KEY = Symbol.for("flexolmo-lab.kernelSignal");

function state(): SignalState {
  const g = globalThis as { [STATE_KEY]?: SignalState };
  return (g[STATE_KEY] ??= { controller: new AbortController(), claimed: false });
}

/** The signal for the running cell. Aborted when the user interrupts the kernel. */
export function kernelAbortSignal(): AbortSignal {
  const s = state();
  s.claimed = true;
  return s.controller.signal;
}

/** Start a fresh, un-aborted signal (the kernel calls this before each cell). Old signals stay aborted. */
export function resetKernelAbortSignal(): void {
  const s = state();
  s.controller = new AbortController();
  s.claimed = false;
}

/** The error a stopped loop should report: `name` is "AbortError", like fetch's. */
export function interruptError(message = "Interrupted: the kernel received an interrupt (SIGINT)"): Error {
  const e = new Error(message);
  e.name = "AbortError";
  return e;
}

/**
 * Abort the current signal. Returns whether code in this cell had claimed it (and so will stop on
 * its own at the next step boundary), which lets the kernel wait for it instead of abandoning the cell.
 */
export function abortKernelSignal(reason: unknown = interruptError()): { claimed: boolean } {
  const s = state();
  if (!s.controller.signal.aborted) s.controller.abort(reason);
  return { claimed: s.claimed };
}
