/**
 * Backend selection: the fastest TF.js backend that actually works on this machine.
 *
 * Order tried: tfjs-node-gpu (CUDA) → tfjs-node (native CPU) → wasm (SIMD, single-threaded in Node)
 * → cpu (pure JS). `FLEXOLMO_BACKEND=<name>` forces one; a forced backend that fails is an error,
 * not a silent fallback, because a user who asks for the GPU wants to know they did not get it.
 *
 * Why the native backends usually fail: `@tensorflow/tfjs-node(-gpu)` download libtensorflow from
 * outside the npm registry in their install script. Where that download is impossible npm drops the
 * optional dependency and `require` throws MODULE_NOT_FOUND; we record that exact message.
 */
import * as tf from "@tensorflow/tfjs";
import { installOps } from "./ops";

export const BACKEND_NAMES = ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** The error that made us skip this backend, verbatim (first line), or why it was not tried. */
  reason?: string;
  ms: number;
}

export interface BackendReport {
  /** The backend in use. */
  name: BackendName;
  /** TF.js's own name for it (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Whether the math runs on a GPU. */
  gpu: boolean;
  /** True when FLEXOLMO_BACKEND or an explicit argument chose it. */
  forced: boolean;
  /** Every backend considered, in order, with the reason each one was skipped. */
  attempts: BackendAttempt[];
  /** Backend flags worth knowing (wasm SIMD / threads). */
  flags: Record<string, boolean>;
  /** One-line summary, e.g. "wasm (SIMD, 1 thread) — skipped tfjs-node-gpu: Cannot find module …". */
  summary: string;
}

let current: BackendReport | undefined;
let inFlight: Promise<BackendReport> | undefined;
// Our registered kernels and gradients (lib/ops) go in as soon as any backend is active.
const installHooks: Array<() => void> = [() => void installOps()];

/**
 * Register a function to run once a backend is active (e.g. registering custom kernels and
 * gradients for it). Runs immediately if a backend is already initialised.
 */
export function onBackendReady(hook: () => void): void {
  installHooks.push(hook);
  if (current) hook();
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].trim();
}

function parseBackendName(raw: string, source: string): BackendName {
  const name = raw.trim().toLowerCase();
  const aliases: Record<string, BackendName> = { gpu: "tfjs-node-gpu", cuda: "tfjs-node-gpu", node: "tfjs-node", tensorflow: "tfjs-node" };
  const resolved = (aliases[name] ?? name) as BackendName;
  if (!(BACKEND_NAMES as readonly string[]).includes(resolved)) {
    throw new Error(
      `Unknown backend "${raw}" (from ${source}). Valid names: ${BACKEND_NAMES.join(", ")} ` +
        `(aliases: gpu, cuda, node). Unset FLEXOLMO_BACKEND to choose automatically.`,
    );
  }
  return resolved;
}

/** Try to make `name` the active TF.js backend. Throws with the precise reason when it cannot. */
async function tryBackend(name: BackendName): Promise<void> {
  switch (name) {
    case "tfjs-node-gpu":
    case "tfjs-node": {
      // Requiring the package registers the "tensorflow" backend on the shared tf engine
      // (npm dedupes @tensorflow/tfjs when versions match, so it is the same engine).
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      require(name === "tfjs-node-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node");
      if (!(await tf.setBackend("tensorflow"))) throw new Error("tf.setBackend('tensorflow') returned false");
      return;
    }
    case "wasm": {
      require("@tensorflow/tfjs-backend-wasm");
      if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false (wasm binary failed to load)");
      return;
    }
    case "cpu": {
      if (!(await tf.setBackend("cpu"))) throw new Error("tf.setBackend('cpu') returned false");
      // The cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js… install
      // tfjs-node" on first use. Our backend report already says why tfjs-node is absent, and where
      // it cannot install the advice only confuses; `firstUse` is the flag that gates that message.
      const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
      if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
      return;
    }
  }
}

function flagsFor(name: BackendName): Record<string, boolean> {
  const flags: Record<string, boolean> = {};
  if (name === "wasm") {
    flags.simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    flags.threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
  }
  return flags;
}

function summarise(name: BackendName, attempts: BackendAttempt[], flags: Record<string, boolean>, forced: boolean): string {
  const detail =
    name === "wasm" ? ` (${flags.simd ? "SIMD" : "no SIMD"}, ${flags.threads ? "threads" : "1 thread"})` : name === "tfjs-node-gpu" ? " (CUDA)" : "";
  // One line: the chosen backend, and the skipped ones with a short reason (full text in `attempts`).
  const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.name} (${/Cannot find module/.test(a.reason ?? "") ? "not installed" : (a.reason ?? "failed").slice(0, 80)})`);
  return `${name}${detail}${forced ? " [forced]" : ""}${skipped.length ? ` — skipped ${skipped.join(", ")}` : ""}`;
}

/**
 * Select and initialise the TF.js backend. Idempotent: a second call with the same preference
 * returns the same report. `prefer` (or FLEXOLMO_BACKEND) forces one backend.
 */
export async function initBackend(prefer?: BackendName | string): Promise<BackendReport> {
  const envRaw = process.env.FLEXOLMO_BACKEND;
  const forcedName =
    prefer !== undefined ? parseBackendName(prefer, "the initBackend argument") : envRaw ? parseBackendName(envRaw, "FLEXOLMO_BACKEND") : undefined;
  if (current && (forcedName === undefined || forcedName === current.name)) return current;
  if (inFlight) {
    await inFlight.catch(() => undefined);
    if (current && (forcedName === undefined || forcedName === current.name)) return current;
  }
  inFlight = select(forcedName);
  try {
    return await inFlight;
  } finally {
    inFlight = undefined;
  }
}

async function select(forcedName: BackendName | undefined): Promise<BackendReport> {
  const order: BackendName[] = forcedName ? [forcedName] : [...BACKEND_NAMES];
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    const t0 = performance.now();
    try {
      await tryBackend(name);
      await tf.ready();
      attempts.push({ name, ok: true, ms: performance.now() - t0 });
      const flags = flagsFor(name);
      current = {
        name,
        tfBackend: tf.getBackend(),
        gpu: name === "tfjs-node-gpu",
        forced: forcedName !== undefined,
        attempts,
        flags,
        summary: summarise(name, attempts, flags, forcedName !== undefined),
      };
      for (const hook of installHooks) hook();
      return current;
    } catch (e) {
      let reason = firstLine(e);
      if ((e as { code?: string }).code === "MODULE_NOT_FOUND" && name.startsWith("tfjs-node")) {
        reason += " (not installed: its install script downloads libtensorflow from outside the npm registry; see README, Backends)";
      }
      attempts.push({ name, ok: false, reason, ms: performance.now() - t0 });
      // After a failed setBackend TF.js may be left pointing at a broken backend; every op would
      // then fail. The next iteration sets another backend explicitly, and if none is left we throw.
    }
  }
  const why = attempts.map((a) => `  - ${a.name}: ${a.reason}`).join("\n");
  if (forcedName) {
    throw new Error(
      `The requested backend "${forcedName}" could not be initialised:\n${why}\n` +
        `Unset FLEXOLMO_BACKEND (or pass no backend) to fall back automatically.`,
    );
  }
  throw new Error(`No TF.js backend could be initialised:\n${why}`);
}

/**
 * Run automatic selection from the top of the list, even when a backend is already active
 * (used after a forced choice, and by tests). FLEXOLMO_BACKEND is ignored here.
 */
export async function selectAutomatically(): Promise<BackendReport> {
  return select(undefined);
}

/** The active backend's report, or undefined before `initBackend` has run. */
export function backendReport(): BackendReport | undefined {
  return current;
}
