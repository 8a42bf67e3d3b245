/**
 * What "interrupt the kernel" (SIGINT) does to the running cell.
 *
 * tslab's own interrupt makes the cell's await return at once, but whatever the cell started (a
 * training loop) keeps running in the background, and could be half-way through a step. We prefer
 * to ask first: the kernel-wide AbortSignal is aborted, and if code in this cell holds that signal
 * (it promised to stop at a step boundary) we let it finish on its own. We abandon the cell the
 * tslab way only when nobody holds the signal, on a second interrupt, or when no boundary comes
 * within the grace period.
 */

export interface InterruptPolicyOptions {
  /** How long a cell holding the signal gets to reach its next step boundary. */
  graceMs: number;
  /** Abort the kernel signal; report whether the running cell holds it. */
  abortSignal: () => { claimed: boolean };
  log: (msg: string) => void;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export interface InterruptPolicy {
  cellStarted(): void;
  cellEnded(): void;
  /** `abandon` is tslab's interrupt (the cell returns at once with an "Interrupted" error). */
  onInterrupt(abandon: () => void, cellRunning: boolean): void;
}

export function createInterruptPolicy(opts: InterruptPolicyOptions): InterruptPolicy {
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
  let interrupts = 0;
  let timer: unknown;
  const stopTimer = () => {
    if (timer !== undefined) clearTimer(timer);
    timer = undefined;
  };
  return {
    cellStarted() {
      interrupts = 0;
      stopTimer();
    },
    cellEnded() {
      stopTimer();
    },
    onInterrupt(abandon, cellRunning) {
      const { claimed } = opts.abortSignal();
      interrupts++;
      if (!cellRunning || !claimed || interrupts > 1) {
        stopTimer();
        abandon();
        return;
      }
      opts.log("interrupt: stopping at the next step boundary (interrupt again to abandon the cell now).");
      timer = setTimer(() => {
        timer = undefined;
        opts.log(`no step boundary within ${opts.graceMs / 1000} s; abandoning the cell.`);
        abandon();
      }, opts.graceMs);
    },
  };
}
