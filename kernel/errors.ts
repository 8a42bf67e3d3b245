/**
 * Jupyter error content (`ename`, `evalue`, `traceback`) for what went wrong in a cell.
 *
 * tslab prints a failing cell's exception with console.error and replies `status: "error"` with no
 * ename/evalue/traceback, so clients show a bare "<Error>:". The preload collects the thrown value
 * (or the TypeScript diagnostics) instead and turns it into proper content with these functions.
 */
import { inspect } from "node:util";

export interface ErrorContent {
  ename: string;
  evalue: string;
  /** Lines as Jupyter expects them (ANSI colours allowed; front ends join them with newlines). */
  traceback: string[];
}

const RED = "\x1b[0;31m";
const RESET = "\x1b[0m";

/** tslab's message for a cell abandoned by an interrupt (executor.ts, `interrupted`). */
export const TSLAB_INTERRUPT_MESSAGE = "Interrupted asynchronously";

/**
 * Stack frames worth showing: the cell's own frames (renamed from vm's "evalmachine.<anonymous>")
 * and library frames; tslab's and the preload's frames and Node internals are noise.
 */
function usefulFrames(stack: string, hide: RegExp[]): string[] {
  return stack
    .split("\n")
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => !/\(node:|at node:|\(internal\//.test(l)) // Node's own modules (vm, internal/...)
    .filter((l) => !hide.some((re) => re.test(l)))
    // Line:column of a cell frame point into tslab's transpiled JavaScript (imports and exports are
    // rewritten, so lines shift unpredictably); showing them would mislead, so cell frames say "<cell>".
    .map((l) => l.replace(/evalmachine\.<anonymous>(:\d+:\d+)?/g, "<cell>"));
}

function header(ename: string, evalue: string): string {
  return `${RED}${ename}${RESET}: ${evalue}`;
}

/**
 * Error content for a thrown value. `hide` removes stack frames by pattern (the kernel passes
 * tslab's and its own directories).
 */
export function errorContent(thrown: unknown, hide: RegExp[] = []): ErrorContent {
  if (thrown instanceof Error && thrown.message === TSLAB_INTERRUPT_MESSAGE) {
    const evalue =
      "the cell was stopped by a kernel interrupt before it finished; work it started (promises, timers) may still be running";
    return { ename: "Interrupted", evalue, traceback: [header("Interrupted", evalue)] };
  }
  if (thrown instanceof Error) {
    const ename = thrown.name || thrown.constructor?.name || "Error";
    const evalue = thrown.message;
    const traceback = [header(ename, evalue), ...usefulFrames(thrown.stack ?? "", hide)];
    // Error.cause chains (e.g. "could not load checkpoint" caused by an ENOENT) are often the real story.
    let cause: unknown = (thrown as { cause?: unknown }).cause;
    for (let depth = 0; cause !== undefined && depth < 5; depth++) {
      if (cause instanceof Error) {
        traceback.push(`Caused by: ${cause.name}: ${cause.message}`, ...usefulFrames(cause.stack ?? "", hide));
        cause = (cause as { cause?: unknown }).cause;
      } else {
        traceback.push(`Caused by: ${inspect(cause, { depth: 1 })}`);
        break;
      }
    }
    return { ename, evalue, traceback };
  }
  const evalue = inspect(thrown, { depth: 2 });
  return { ename: "Error", evalue, traceback: [header("Error", evalue), "(a non-Error value was thrown, so there is no stack trace)"] };
}

/** Error content for TypeScript compile errors; each diagnostic is "line:col - message". */
export function diagnosticsContent(diagnostics: string[]): ErrorContent {
  const n = diagnostics.length;
  const evalue = n === 1 ? diagnostics[0] : `${diagnostics[0]} (and ${n - 1} more error${n > 2 ? "s" : ""})`;
  return {
    ename: "TSError",
    evalue,
    traceback: [header("TSError", `the cell did not compile (${n} error${n === 1 ? "" : "s"}); nothing was run`), ...diagnostics],
  };
}
