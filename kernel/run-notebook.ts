/**
 * Execute notebooks headlessly through a real Jupyter client (nbclient), e.g. every tutorial in CI:
 *
 *     node dist/kernel/run-notebook.js [--html] [--allow-errors] [--timeout S] [--out DIR] a.ipynb b.ipynb
 *
 * Exits non-zero on the first failing notebook and prints the failing cell's error (nbclient's
 * CellExecutionError text: the cell source, ename, evalue and traceback). By default it installs
 * our kernel spec into a temporary JUPYTER_PATH first, so no prior `kernel:install` is needed.
 *
 * Requirements: Debian's python3-nbclient, jupyter-client and jupyter-nbconvert (for --html), run
 * with /usr/bin/python3 (set FLEXOLMO_PYTHON to use another interpreter that has them).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseScriptArgs, type ScriptSpec, UsageError } from "../lib/cli/args";
import { installKernelSpec, KERNEL_NAME } from "./install";

export const DEFAULT_PYTHON = "/usr/bin/python3";

export function pythonPath(): string {
  return process.env.FLEXOLMO_PYTHON || DEFAULT_PYTHON;
}

/** Whether `python` can run nbclient (and nbconvert). Tests use this to skip with a reason. */
export function checkJupyter(python = pythonPath()): { ok: boolean; nbconvert: boolean; reason?: string } {
  const r = spawnSync(python, ["-c", "import nbclient, nbformat, jupyter_client\ntry:\n import nbconvert; print('nbconvert')\nexcept ImportError: print('-')"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.stderr.trim().split("\n").pop();
    return {
      ok: false,
      nbconvert: false,
      reason: `${python} cannot import nbclient (${why}). Install Debian's python3-nbclient jupyter-client jupyter-nbconvert, or set FLEXOLMO_PYTHON.`,
    };
  }
  return { ok: true, nbconvert: r.stdout.trim() === "nbconvert" };
}

// The Python side. Arguments arrive as one JSON object; the result is the last stdout line, as JSON.
const RUNNER_PY = String.raw`
import json, os, sys, time, tempfile
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

a = json.loads(sys.argv[1])
nb = nbformat.read(a["input"], as_version=4)
t0 = time.monotonic()
marks = {}

def cell_timeout(cell):
    # Per-cell override: metadata {"flexolmo": {"timeout": seconds}} (e.g. an interrupt test).
    return cell.get("metadata", {}).get("flexolmo", {}).get("timeout", a["timeout"])

client = NotebookClient(
    nb,
    kernel_name=a["kernel"],
    timeout=a["timeout"],
    timeout_func=cell_timeout,
    interrupt_on_timeout=a["interruptOnTimeout"],
    allow_errors=a["allowErrors"],
    startup_timeout=a["startupTimeout"],
    record_timing=True,
    resources={"metadata": {"path": a["cwd"]}},
    on_notebook_start=lambda notebook: marks.setdefault("ready", time.monotonic() - t0),
)
result = {"ok": True}
try:
    client.execute()
except CellExecutionError as e:
    result = {"ok": False, "error": str(e)}
except Exception as e:
    result = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
result["seconds"] = time.monotonic() - t0
result["kernelReadySeconds"] = marks.get("ready")

def write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)

write_atomic(a["output"], nbformat.writes(nb))
if a.get("html"):
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(nb)
    write_atomic(a["html"], body)
print(json.dumps(result))
`;

export interface RunNotebookOptions {
  /** Where the executed notebook is written (default: <tmp>/<name>.ipynb). Never the input itself unless asked. */
  output?: string;
  /** Also export HTML (nbconvert) to this path. */
  html?: string;
  /** Kernel folder (default: the notebook's folder, as Jupyter does). */
  cwd?: string;
  /** Kernel spec name (default "flexolmo-lab"). */
  kernel?: string;
  /** Directory put first on JUPYTER_PATH; default: a fresh temp dir with our kernel spec installed. */
  jupyterPath?: string;
  /** Per-cell timeout in seconds (default 120); cells can override it in metadata.flexolmo.timeout. */
  timeout?: number;
  /** Interrupt the kernel (SIGINT) when a cell times out, then keep going (default false: fail). */
  interruptOnTimeout?: boolean;
  /** Keep running after a cell error (nbclient allow_errors; default false). */
  allowErrors?: boolean;
  /** Seconds to wait for the kernel to start (default 60). */
  startupTimeout?: number;
  /** Extra environment for the kernel (e.g. FLEXOLMO_BACKEND). */
  env?: NodeJS.ProcessEnv;
  python?: string;
}

export interface NotebookRun {
  ok: boolean;
  /** nbclient's error text for the failing cell (or why the run failed). */
  error?: string;
  output: string;
  html?: string;
  /** The executed notebook (nbformat 4 JSON). */
  notebook: { cells: NotebookCell[]; metadata: Record<string, unknown> };
  seconds: number;
  /** Seconds from starting the client to the kernel answering kernel_info (start-to-ready). */
  kernelReadySeconds: number | null;
}

export interface NotebookCell {
  cell_type: string;
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: NotebookOutput[];
  execution_count?: number | null;
}

export interface NotebookOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** A minimal nbformat-4 notebook for our kernel from cell sources (with optional per-cell metadata). */
export function makeNotebook(cells: (string | { source: string; metadata?: Record<string, unknown> })[]): object {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: KERNEL_NAME, display_name: "FlexOlmo Lab (TypeScript)", language: "typescript" },
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
    },
    cells: cells.map((c, i) => {
      const { source, metadata } = typeof c === "string" ? { source: c, metadata: {} } : { source: c.source, metadata: c.metadata ?? {} };
      return { id: `cell-${i}`, cell_type: "code", source, metadata, outputs: [], execution_count: null };
    }),
  };
}

/** Execute one notebook. Resolves (never rejects for cell errors): check `ok` and `error`. */
export async function runNotebook(input: string, opts: RunNotebookOptions = {}): Promise<NotebookRun> {
  const python = opts.python ?? pythonPath();
  const abs = path.resolve(input);
  if (!fs.existsSync(abs)) throw new Error(`Notebook ${abs} does not exist.`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-nb-"));
  let jupyterPath = opts.jupyterPath;
  if (!jupyterPath) {
    jupyterPath = path.join(scratch, "jupyter");
    installKernelSpec({ kind: "jupyter-path", dir: jupyterPath });
  }
  const output = path.resolve(opts.output ?? path.join(scratch, path.basename(abs)));
  const args = {
    input: abs,
    output,
    html: opts.html ? path.resolve(opts.html) : undefined,
    cwd: path.resolve(opts.cwd ?? path.dirname(abs)),
    kernel: opts.kernel ?? KERNEL_NAME,
    timeout: opts.timeout ?? 120,
    interruptOnTimeout: opts.interruptOnTimeout ?? false,
    allowErrors: opts.allowErrors ?? false,
    startupTimeout: opts.startupTimeout ?? 60,
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    JUPYTER_PATH: [jupyterPath, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter),
    // Keep connection files out of the user's runtime dir, and silence jupyter_core's platformdirs notice.
    JUPYTER_RUNTIME_DIR: path.join(scratch, "runtime"),
    JUPYTER_PLATFORM_DIRS: "1",
  };
  const t0 = performance.now();
  const fail = (message: string): never => {
    fs.rmSync(scratch, { recursive: true, force: true }); // nothing useful was produced
    throw new Error(message);
  };
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(python, ["-c", RUNNER_PY, JSON.stringify(args)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", (e) => resolve({ code: null, stdout: "", stderr: `Could not start ${python}: ${e.message}. ${checkJupyter(python).reason ?? ""}` }));
    p.on("close", (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  const last = stdout.trim().split("\n").pop() ?? "";
  let result: { ok: boolean; error?: string; seconds?: number; kernelReadySeconds?: number | null };
  try {
    result = JSON.parse(last);
  } catch {
    return fail(`The notebook runner (${python}) exited with code ${code} without a result.\n${stderr.trim().split("\n").slice(-20).join("\n")}`);
  }
  const notebook = JSON.parse(fs.readFileSync(output, "utf8")) as NotebookRun["notebook"];
  fs.rmSync(path.join(scratch, "runtime"), { recursive: true, force: true });
  try {
    fs.rmdirSync(scratch); // only succeeds when empty, i.e. when the caller chose every output path
  } catch {
    // it holds the executed notebook or the temporary kernel spec: keep it
  }
  return {
    ok: result.ok,
    error: result.error,
    output,
    html: args.html,
    notebook,
    seconds: result.seconds ?? (performance.now() - t0) / 1000,
    kernelReadySeconds: result.kernelReadySeconds ?? null,
  };
}

/** Text of a stream output or text/plain payload (nbformat stores multi-line text as a list). */
export function joinText(t: unknown): string {
  return Array.isArray(t) ? t.join("") : typeof t === "string" ? t : "";
}

export const SPEC: ScriptSpec = {
  prog: "node dist/kernel/run-notebook.js",
  summary: "Execute notebooks through a real Jupyter client (nbclient) with the FlexOlmo Lab kernel, and save the executed copies.",
  positionals: [{ name: "NOTEBOOK.ipynb", help: "notebooks to run, in order", variadic: true }],
  flags: [
    { name: "html", type: "boolean", help: "also export each executed notebook as HTML" },
    { name: "allow-errors", type: "boolean", help: "keep going past a cell that raises" },
    { name: "timeout", type: "number", metavar: "S", help: "seconds per cell (positive)" },
    { name: "out", type: "string", metavar: "DIR", help: "folder for the executed notebooks (default: a new temporary folder)" },
  ],
};

async function main(): Promise<void> {
  const { files, opts, html, outDir } = parseScriptArgs(process.argv.slice(2), SPEC, (p) => {
    const timeout = p.flags.timeout as number | undefined;
    if (timeout !== undefined && !(timeout > 0)) throw new UsageError(`--timeout needs a positive number of seconds (got ${timeout})`);
    const o: RunNotebookOptions = {};
    if (p.flags["allow-errors"]) o.allowErrors = true;
    if (timeout !== undefined) o.timeout = timeout;
    return { files: p.positionals, opts: o, html: Boolean(p.flags.html), outDir: p.flags.out as string | undefined };
  });
  const check = checkJupyter();
  if (!check.ok) throw new Error(check.reason);
  const out = outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "flexolmo-executed-"));
  fs.mkdirSync(out, { recursive: true });
  const jupyterPath = path.join(out, ".jupyter");
  installKernelSpec({ kind: "jupyter-path", dir: jupyterPath });
  for (const f of files) {
    const base = path.basename(f, ".ipynb");
    const run = await runNotebook(f, {
      ...opts,
      jupyterPath,
      output: path.join(out, `${base}.ipynb`),
      html: html ? path.join(out, `${base}.html`) : undefined,
    });
    if (!run.ok) {
      console.error(`FAILED ${f} after ${run.seconds.toFixed(1)} s\n${run.error}`);
      process.exitCode = 1;
      return;
    }
    console.log(`ok ${f}: ${run.seconds.toFixed(1)} s (kernel ready in ${run.kernelReadySeconds?.toFixed(1)} s) → ${run.output}${run.html ? `, ${run.html}` : ""}`);
  }
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(e.message);
    process.exitCode = 1;
  });
}
