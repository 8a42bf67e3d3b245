/**
 * Small, guarded patches to tslab 1.0.22's internals (node_modules/tslab/dist/*.js).
 *
 * What tslab does, and what we change (each patch replaces one function):
 *
 * 1. executor.js `createExecutor(rootDir, convs, console)`: the executor reports through the
 *    `console` it is given: `console.log(value)` for a cell's last expression, `console.error(e)`
 *    for a thrown value, `console.error("%s%d:%d - %s", ...)` per TypeScript diagnostic. We wrap
 *    that console: a last value with a `Symbol.for("Jupyter.display")` method is sent as an
 *    `execute_result` carrying every MIME type (otherwise tslab's console.log is kept), and errors
 *    are captured instead of printed. We also wrap `interrupt()` so the kernel can first ask
 *    training to stop at a step boundary (see preload.ts).
 * 2. jupyter.js `JupyterHandlerImpl.prototype.handleExecute`: tslab replies `status: "error"` with
 *    no ename/evalue/traceback, publishes no `error` message, and after any error aborts every
 *    request that arrives within 200 ms. Ours publishes `execute_input` and `error`, replies with
 *    full error content, and aborts only requests already queued when the error happened, and only
 *    if the client asked for it (`stop_on_error`, the Jupyter protocol's flag, as ipykernel does),
 *    printing why in each skipped cell.
 * 3. jupyter.js `ZmqServer.prototype.handleExecute`: identical to tslab's, plus a `send(msgType,
 *    content)` function handed to the handler so it can publish `execute_result`, `error` and
 *    `execute_input` on IOPub.
 *
 * Everything else (ZMQ, completion, inspection, tslab's own `display`/`newDisplay`) is untouched.
 * Before patching we check the version and that the internals still look as described; if not,
 * we leave tslab alone and say so (the kernel still works, with tslab's plain behaviour).
 */
import fs from "node:fs";
import path from "node:path";
import { format } from "node:util";
import type { ErrorContent } from "./errors";
import { diagnosticsContent, errorContent } from "./errors";

export const SUPPORTED_TSLAB = "1.0.22";
const DISPLAY = Symbol.for("Jupyter.display");
/** tslab's diagnostic format string (executor.js printDiagnostics). */
const DIAGNOSTIC_FORMAT = "%s%d:%d - %s";

type Send = (msgType: string, content: Record<string, unknown>) => void;
type WriteStream = (name: "stdout" | "stderr", text: string) => void;

/** What the preload plugs into the patched kernel. */
export interface KernelHooks {
  /** Before each cell runs (reset the abort signal; print the backend once). */
  beforeCell(io: { writeStream: WriteStream; count: number }): Promise<void>;
  /** After each cell, whatever happened. */
  afterCell(): void;
  /** On SIGINT. `abandon()` is tslab's interrupt: it makes the running cell return at once. */
  onInterrupt(abandon: () => void, cellRunning: boolean): void;
  /** Stack frames matching these are hidden from tracebacks. */
  hideFrames: RegExp[];
}

export interface PatchReport {
  tslabVersion: string;
  applied: boolean;
  /** Why nothing was patched, or version caveats. */
  warnings: string[];
}

/** The running cell, while one runs (cells run one at a time). */
interface CellState {
  count: number;
  send: Send;
  writeStream: WriteStream;
  thrown?: { value: unknown };
  diagnostics: string[];
  pending: Promise<void>[];
}

let cell: CellState | undefined;

/** Text snippets of tslab's compiled sources that our patches depend on. */
const EXPECTED: Record<string, string[]> = {
  "executor.js": ["function createExecutor(rootDir, convs, console)", "console.log(ret);", "console.error(e);", `console.error("${DIAGNOSTIC_FORMAT}"`, "function interrupt()"],
  "jupyter.js": [
    "async handleExecute(req, writeStream, writeDisplayData)",
    "async handleExecuteImpl(req, writeStream, writeDisplayData)",
    "exports.lastWriteDisplayData = writeDisplayData;",
    "async handleExecute(sock, msg)",
    'process.stdout.write = this.createWriteToIopub("stdout", writeStream);',
  ],
};

function checkSources(distDir: string): string[] {
  const problems: string[] = [];
  for (const [file, snippets] of Object.entries(EXPECTED)) {
    let text = "";
    try {
      text = fs.readFileSync(path.join(distDir, file), "utf8");
    } catch (e) {
      problems.push(`cannot read ${file}: ${(e as Error).message}`);
      continue;
    }
    for (const s of snippets) if (!text.includes(s)) problems.push(`${file} no longer contains \`${s}\``);
  }
  return problems;
}

/** A JSON-safe copy of a bundle, or an error message saying what is wrong with it. */
function cleanBundle(b: unknown): { data: Record<string, unknown> } | { problem: string } {
  if (typeof b !== "object" || b === null || Array.isArray(b)) return { problem: `it returned ${typeof b}, not a MIME bundle object` };
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b)) if (v !== undefined) data[k] = v;
  if (typeof data["text/plain"] !== "string") return { problem: 'the bundle has no "text/plain" string' };
  try {
    return { data: JSON.parse(JSON.stringify(data)) as Record<string, unknown> };
  } catch (e) {
    return { problem: `the bundle is not JSON-serialisable (${(e as Error).message})` };
  }
}

/**
 * Send `value` as the cell's execute_result if it renders itself. Returns false when it does not
 * (the caller then prints it as tslab would).
 */
function sendRichResult(value: unknown, c: CellState): boolean {
  if (typeof value !== "object" && typeof value !== "function") return false;
  if (value === null) return false;
  const method = (value as { [DISPLAY]?: unknown })[DISPLAY];
  if (typeof method !== "function") return false;
  const emit = (bundle: unknown): boolean => {
    const clean = cleanBundle(bundle);
    if ("problem" in clean) {
      c.writeStream("stderr", `[flexolmo-lab] could not display the cell's value: ${clean.problem}; showing it as text.\n`);
      return false;
    }
    c.send("execute_result", { execution_count: c.count, data: clean.data, metadata: {} });
    return true;
  };
  let bundle: unknown;
  try {
    bundle = (method as () => unknown).call(value);
  } catch (e) {
    c.writeStream("stderr", `[flexolmo-lab] the value's display method threw (${(e as Error).message ?? e}); showing it as text.\n`);
    return false;
  }
  if (bundle && typeof (bundle as PromiseLike<unknown>).then === "function") {
    // An async display method: the reply waits for it (see handleExecute), so the output lands in this cell.
    c.pending.push(
      Promise.resolve(bundle).then(
        (b) => void emit(b),
        (e) => c.writeStream("stderr", `[flexolmo-lab] the value's display method failed: ${(e as Error)?.message ?? e}\n`),
      ),
    );
    return true;
  }
  return emit(bundle);
}

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * Apply the patches to the tslab installed at `tslabDir`. Must run before tslab's main.js starts
 * the kernel (i.e. from a `--require` preload).
 */
export function patchTslab(tslabDir: string, hooks: KernelHooks): PatchReport {
  const pkg = JSON.parse(fs.readFileSync(path.join(tslabDir, "package.json"), "utf8")) as { version: string };
  const report: PatchReport = { tslabVersion: pkg.version, applied: false, warnings: [] };
  const distDir = path.join(tslabDir, "dist");
  const problems = checkSources(distDir);
  if (problems.length) {
    report.warnings.push(
      `tslab ${pkg.version}'s internals differ from ${SUPPORTED_TSLAB}, which the flexolmo-lab kernel patches were written for ` +
        `(${problems.join("; ")}). Rich results, error tracebacks and graceful interrupts are OFF; plain tslab behaviour is kept. ` +
        `Install tslab@${SUPPORTED_TSLAB} (npm install --save-exact tslab@${SUPPORTED_TSLAB}) or update kernel/tslab-patch.ts.`,
    );
    return report;
  }
  if (pkg.version !== SUPPORTED_TSLAB) {
    report.warnings.push(`tslab ${pkg.version} found; the kernel patches were written for ${SUPPORTED_TSLAB} (its internals still match, so they are applied).`);
  }
  const executorMod = require(path.join(distDir, "executor.js")) as any;
  const jupyterMod = require(path.join(distDir, "jupyter.js")) as any;

  // --- 1. executor: capture the last value and errors; wrap interrupt ---------------------------
  const originalCreateExecutor = executorMod.createExecutor as (...a: any[]) => any;
  executorMod.createExecutor = function (rootDir: string, convs: unknown, console: { log: (...a: any[]) => void; error: (...a: any[]) => void }) {
    const wrapped = {
      log: (...args: any[]) => {
        if (cell && args.length === 1 && sendRichResult(args[0], cell)) return;
        console.log(...args);
      },
      error: (...args: any[]) => {
        if (cell && args[0] === DIAGNOSTIC_FORMAT) {
          // args: format, fileName prefix, line, column, message (executor.js printDiagnostics)
          cell.diagnostics.push(format(...args));
          return;
        }
        if (cell && args.length === 1) {
          cell.thrown = { value: args[0] };
          return;
        }
        console.error(...args);
      },
    };
    const executor = originalCreateExecutor(rootDir, convs, wrapped);
    const abandon = executor.interrupt.bind(executor) as () => void;
    executor.interrupt = () => hooks.onInterrupt(abandon, cell !== undefined);
    return executor;
  };

  // --- 2. handler: proper replies, no silent aborts ---------------------------------------------
  const Handler = jupyterMod.JupyterHandlerImpl;
  Handler.prototype.handleExecute = async function (this: any, req: any, writeStream: WriteStream, writeDisplayData: unknown, send?: Send) {
    const sendIopub: Send = send ?? (() => undefined);
    this.__flexolmo ??= { queue: Promise.resolve(), enqueued: 0, abortUpTo: 0 };
    const q = this.__flexolmo as { queue: Promise<unknown>; enqueued: number; abortUpTo: number };
    const id = ++q.enqueued;
    const run = async (): Promise<Record<string, unknown>> => {
      if (id <= q.abortUpTo) {
        writeStream("stderr", "[flexolmo-lab] not run: an earlier cell failed while this one was queued (stop_on_error).\n");
        return { status: "aborted" };
      }
      // As tslab does: route this process's stdout/stderr to the cell, and point display() at it.
      process.stdout.write = this.createWriteToIopub("stdout", writeStream);
      process.stderr.write = this.createWriteToIopub("stderr", writeStream);
      jupyterMod.lastWriteDisplayData = writeDisplayData;
      const count = ++this.execCount;
      sendIopub("execute_input", { code: req.code, execution_count: count });
      const state: CellState = { count, send: sendIopub, writeStream, diagnostics: [], pending: [] };
      cell = state;
      let ok = false;
      let failure: ErrorContent | undefined;
      try {
        await hooks.beforeCell({ writeStream, count });
        ok = (await this.executor.execute(req.code)) === true;
        await Promise.all(state.pending);
      } catch (e) {
        failure = errorContent(e, hooks.hideFrames); // tslab itself failed (e.g. a converter crash)
      } finally {
        cell = undefined;
        hooks.afterCell();
      }
      if (ok && !failure) return { status: "ok", execution_count: count, user_expressions: {}, payload: [] };
      failure ??= state.diagnostics.length
        ? diagnosticsContent(state.diagnostics)
        : state.thrown
          ? errorContent(state.thrown.value, hooks.hideFrames)
          : { ename: "Error", evalue: "the cell failed (see its output)", traceback: ["Error: the cell failed (see its output)"] };
      sendIopub("error", { ...failure });
      if (req.stop_on_error !== false) q.abortUpTo = q.enqueued; // only requests queued before now
      return { status: "error", execution_count: count, ...failure };
    };
    const result = q.queue.then(run, run);
    q.queue = result.catch(() => undefined);
    try {
      return await result;
    } catch (e) {
      // Unreachable in practice (run catches everything); keep the kernel answering regardless.
      console.error("[flexolmo-lab] unexpected error in handleExecute:", e);
      return { status: "error", ename: "InternalError", evalue: String(e), traceback: [String(e)] };
    }
  };

  // --- 3. server: give the handler a way to publish any IOPub message ---------------------------
  const Server = jupyterMod.ZmqServer;
  Server.prototype.handleExecute = async function (this: any, sock: unknown, msg: any) {
    const send: Send = (msgType, content) => {
      const m = msg.createReply();
      m.header.msg_type = msgType;
      m.content = content;
      m.signAndSend(this.connInfo.key, this.iopub);
    };
    const writeStream: WriteStream = (name, text) => send("stream", { name, text });
    const writeDisplayData = (data: Record<string, unknown>, update: boolean) => send(update ? "update_display_data" : "display_data", data);
    const content = await this.handler.handleExecute(msg.content, writeStream, writeDisplayData, send);
    const reply = msg.createReply();
    reply.header.msg_type = "execute_reply";
    reply.content = content;
    reply.signAndSend(this.connInfo.key, sock);
  };

  report.applied = true;
  return report;
}

/** tslab's current display writer (set per cell), used by the kernel bridge for display_data. */
export function tslabDisplayWriter(tslabDir: string): ((data: Record<string, unknown>, update: boolean) => void) | null {
  const jupyterMod = require(path.join(tslabDir, "dist", "jupyter.js")) as any;
  return jupyterMod.lastWriteDisplayData ?? null;
}
