/**
 * The FlexOlmo Lab kernel preload. kernel.json starts
 *
 *     node --require <package>/dist/kernel/preload.js <tslab>/bin/tslab kernel --config-path <file>
 *
 * so this file runs inside the kernel process before tslab starts. It
 *  1. makes `import ... from "flexolmo-lab"` (and "@tensorflow/tfjs-core") resolve, with types, from any
 *     notebook folder (./resolve.ts);
 *  2. patches tslab's gaps (./tslab-patch.ts): rich `execute_result` for self-rendering values,
 *     real error replies, no silent aborts;
 *  3. installs the kernel bridge that lib/display uses for display_data / update_display_data;
 *  4. selects the TF.js backend once and prints its summary in the first cell's output;
 *  5. turns SIGINT (Jupyter's "interrupt") into the kernel-wide AbortSignal, so training stops at
 *     the next step boundary with the model intact; a second interrupt, or no boundary within
 *     10 s, abandons the cell the way tslab does.
 * In any process that is not a tslab kernel it does nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { setKernelBridge } from "../lib/display/kernel-bridge";
import { abortKernelSignal, resetKernelAbortSignal } from "../lib/display/kernel-signal";
import { createInterruptPolicy } from "./interrupt";
import type { Forward } from "./resolve";
import { installRuntimeForwarding, installTypeForwarding } from "./resolve";
import type { KernelHooks } from "./tslab-patch";
import { patchTslab, tslabDisplayWriter } from "./tslab-patch";

/** How long a claimed interrupt waits for the training loop's next step boundary before abandoning the cell. */
const INTERRUPT_GRACE_MS = 10_000;

const PACKAGE_ROOT = path.resolve(__dirname, "..", "..");

function log(msg: string): void {
  // Before the first cell this goes to the Jupyter server's console; during a cell, to the cell.
  process.stderr.write(`[flexolmo-lab] ${msg}\n`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The tslab directory of the script being run (argv[1] is <tslab>/bin/tslab), if this is a tslab kernel. */
function tslabKernelDir(): string | undefined {
  const script = process.argv[1];
  if (!script || process.argv[2] !== "kernel") return undefined;
  const dir = path.resolve(path.dirname(fs.realpathSync(script)), "..");
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string };
    return pkg.name === "tslab" ? dir : undefined;
  } catch {
    return undefined;
  }
}

function start(tslabDir: string): void {
  const t0 = performance.now();
  const forwards: Forward[] = [
    { name: "flexolmo-lab", target: PACKAGE_ROOT },
    // The engine our library registers its backend, kernels and gradients on (lib/tf).
    { name: "@tensorflow/tfjs-core", target: path.dirname(require.resolve("@tensorflow/tfjs-core/package.json", { paths: [PACKAGE_ROOT] })) },
  ];
  installRuntimeForwarding(forwards, path.join(tslabDir, "dist", "main.js"));
  const ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [tslabDir] })) as { sys: Parameters<typeof installTypeForwarding>[0] };
  installTypeForwarding(ts.sys, forwards);

  // The backend loads in the background right after tslab has started, so the kernel answers
  // kernel_info quickly; the first cell waits for it.
  let backendLine: Promise<{ ok: boolean; text: string }> | undefined;
  setImmediate(() => {
    backendLine = import("../lib/backend")
      .then((m) => m.initBackend())
      .then(
        (r) => ({ ok: true, text: `FlexOlmo Lab kernel · TF.js backend: ${r.summary}` }),
        (e: Error) => ({ ok: false, text: `FlexOlmo Lab kernel · no TF.js backend could be initialised: ${e.message}` }),
      );
    void backendLine.then((l) => log(`${l.text} (kernel process ready after ${Math.round(performance.now() - t0)} ms)`));
  });

  let printedBackend = false;
  let warnedInCell = false;
  const interrupts = createInterruptPolicy({ graceMs: INTERRUPT_GRACE_MS, abortSignal: () => abortKernelSignal(), log });
  const hooks: KernelHooks = {
    async beforeCell({ writeStream }) {
      resetKernelAbortSignal();
      interrupts.cellStarted();
      if (!printedBackend) {
        printedBackend = true;
        while (!backendLine) await new Promise((r) => setImmediate(r));
        const line = await backendLine;
        writeStream(line.ok ? "stdout" : "stderr", line.text + "\n");
      }
      if (!warnedInCell) {
        warnedInCell = true; // patch caveats (e.g. another tslab version) once, where the user sees them
        for (const w of patch.warnings) writeStream("stderr", `[flexolmo-lab] ${w}\n`);
      }
    },
    afterCell: () => interrupts.cellEnded(),
    onInterrupt: (abandon, cellRunning) => interrupts.onInterrupt(abandon, cellRunning),
    hideFrames: [new RegExp(escapeRe(path.join(tslabDir, "dist"))), new RegExp(escapeRe(path.join(PACKAGE_ROOT, "dist", "kernel")))],
  };
  const patch = patchTslab(tslabDir, hooks);
  for (const w of patch.warnings) log(w);

  setKernelBridge({
    name: `tslab ${patch.tslabVersion} (flexolmo-lab preload${patch.applied ? "" : ", patches NOT applied"})`,
    display(bundle, opts = {}) {
      const write = tslabDisplayWriter(tslabDir);
      if (!write) throw new Error("No notebook output is active yet: display() works once a cell has started running.");
      write({ data: bundle, metadata: {}, transient: opts.displayId ? { display_id: opts.displayId } : {} }, opts.update ?? false);
    },
  });
}

const tslabDir = tslabKernelDir();
if (tslabDir) start(tslabDir);
