/**
 * Backend selection: the fastest TF.js backend that actually works on this machine.
 *
 * Order tried (the first that works wins):
 *   1. tfjs-node-gpu — libtensorflow with CUDA/cuDNN kernels: the fastest route on an NVIDIA GPU.
 *   2. webgpu        — Dawn (the `webgpu` npm package) + @tensorflow/tfjs-backend-webgpu: any GPU
 *                      with a Vulkan (Linux), Metal (macOS) or D3D12 (Windows) driver. Generic WGSL
 *                      kernels are slower than cuDNN's, so it comes after tfjs-node-gpu; a GPU still
 *                      beats every CPU route at the `gpu` preset's sizes (an assumption until
 *                      bench/gpu measures it), so it comes before them.
 *   3. tfjs-node     — libtensorflow on the CPU (multi-threaded Eigen).
 *   4. wasm          — XNNPACK with SIMD, single-threaded in Node.
 *   5. cpu           — pure JS, always works.
 * `FLEXOLMO_BACKEND=<name>` forces one; a forced backend that fails is an error, not a silent
 * fallback, because a user who asks for the GPU wants to know they did not get it.
 *
 * The GPU packages are opt-in: `@tensorflow/tfjs-node-gpu`, `webgpu` and `@tensorflow/tfjs-backend-webgpu`
 * are optional peer dependencies, which a plain `npm install` never installs, and `@tensorflow/tfjs-node`
 * is not declared at all. Each is loaded here only when its route is tried; when it is absent
 * `require` throws MODULE_NOT_FOUND and the report says which package to install (`notInstalledHint`).
 * Why tfjs-node(-gpu) is not a default: its install script downloads libtensorflow from outside the
 * npm registry; docs/gpu.md says how to install it from a mirror.
 *
 * WebGPU specifics (details in docs/gpu.md):
 *  - Nothing of it is loaded unless the route is tried. We first resolve (not load) the two
 *    packages, then on Linux look for the Vulkan loader (libvulkan.so.1) on disk, so a machine
 *    without either skips the route in well under a millisecond and without Dawn's warnings.
 *  - CPU adapters (Mesa's llvmpipe/lavapipe, SwiftShader, Dawn's null backend) are rejected: they
 *    are slower than wasm. `FLEXOLMO_WEBGPU_SOFTWARE=1` accepts the CPU rasterisers (the tests use
 *    llvmpipe through Dawn's OpenGL ES backend to exercise the real route on a GPU-less machine).
 *    `FLEXOLMO_WEBGPU_FLAGS` passes Dawn flags (comma-separated, e.g. `backend=vulkan,adapter=NVIDIA`).
 *  - After a failed `tf.setBackend("webgpu")` TF.js keeps "webgpu" registered at a higher priority
 *    than cpu/wasm, and the next op that initialises a backend by priority fails. So on every
 *    failure we remove the webgpu backend from the registry and the caller sets the next backend
 *    explicitly.
 *  - tfjs-backend-webgpu can read GPU data synchronously (`dataSync`) only through the browser's
 *    OffscreenCanvas, which Node does not have. The engine never needs it: on webgpu the MoE routes
 *    on the device and a training step reads its numbers once, asynchronously (lib/ops/host-reads.ts);
 *    tensors made from host data keep their host copy (`keepHostCopies`). The report still says
 *    whether a synchronous read works (`syncReads`), for the user's own code.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "./tf";
import { installOps, installWebgpuFixes, keepHostCopies, nativeMatMul } from "./ops";

export const BACKEND_NAMES = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** The error that made us skip this backend, verbatim (first line), or why it was not tried. */
  reason?: string;
  ms: number;
}

/** The WebGPU adapter in use (webgpu backend only), from Dawn's GPUAdapterInfo. */
export interface WebgpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** "core" WebGPU, or "compatibility" (OpenGL ES-class adapters; fewer storage buffers per shader). */
  featureLevel: "core" | "compatibility";
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader): accepted only with FLEXOLMO_WEBGPU_SOFTWARE=1. */
  software: boolean;
  /** Whether `dataSync()` of a GPU-resident tensor works (training and sparse MoE routing need it). */
  syncReads: boolean;
  /** Why synchronous reads fail, verbatim (first line). */
  syncReadError?: string;
  /** Dawn flags the adapter was requested with (FLEXOLMO_WEBGPU_FLAGS). */
  dawnFlags: string[];
}

export interface BackendReport {
  /** The backend in use. */
  name: BackendName;
  /** TF.js's own name for it (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Whether the math runs on a GPU (a software WebGPU adapter does not count). */
  gpu: boolean;
  /** True when FLEXOLMO_BACKEND or an explicit argument chose it. */
  forced: boolean;
  /** Every backend considered, in order, with the reason each one was skipped. */
  attempts: BackendAttempt[];
  /** Backend flags worth knowing (wasm SIMD / threads; webgpu syncReads / software). */
  flags: Record<string, boolean>;
  /** The WebGPU adapter, when the webgpu backend is in use. */
  adapter?: WebgpuAdapterReport;
  /** One-line summary, e.g. "wasm (SIMD, 1 thread) — skipped tfjs-node-gpu (not installed), …". */
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
  const aliases: Record<string, BackendName> = { gpu: "tfjs-node-gpu", cuda: "tfjs-node-gpu", node: "tfjs-node", tensorflow: "tfjs-node", dawn: "webgpu" };
  const resolved = (aliases[name] ?? name) as BackendName;
  if (!(BACKEND_NAMES as readonly string[]).includes(resolved)) {
    throw new Error(
      `Unknown backend "${raw}" (from ${source}). Valid names: ${BACKEND_NAMES.join(", ")} ` +
        `(aliases: gpu, cuda, node, dawn). Unset FLEXOLMO_BACKEND to choose automatically.`,
    );
  }
  return resolved;
}

// ---------------------------------------------------------------------------------------------
// WebGPU route
// ---------------------------------------------------------------------------------------------

/** The slice of the WebGPU API we touch (the project compiles without the DOM / @webgpu types). */
interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  requestDevice(descriptor?: unknown): Promise<unknown>;
}
interface GpuLike {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}
/** What `require("webgpu")` gives: a GPU factory taking Dawn flags, and the WebGPU globals. */
export interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
type DawnLoader = () => Promise<DawnModule>;

/** Real dynamic import (TypeScript's CommonJS output would turn `import()` into `require`). */
const importEsm = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<unknown>;

const loadDawnFromNpm: DawnLoader = async () => {
  try {
    // webgpu@0.6 is an ES module; Node ≥ 20.19 loads it with require(), which keeps this synchronous.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require("webgpu") as DawnModule;
  } catch (e) {
    if ((e as { code?: string }).code !== "ERR_REQUIRE_ESM") throw e;
    return (await importEsm("webgpu")) as DawnModule; // older Node 20: a real dynamic import
  }
};
let dawnLoader: DawnLoader = loadDawnFromNpm;
let dawnLoaderIsReal = true;
/** One Dawn instance per flag set, created on first use. */
const gpus = new Map<string, GpuLike>();
/** tfjs-backend-webgpu's backend factory, captured once so the backend can be re-registered after a failure. */
let webgpuFactory: (() => Promise<tf.KernelBackend>) | undefined;
/** tfjs-backend-webgpu registers itself at priority 3 (above wasm 2 and cpu 1); we keep that. */
const WEBGPU_PRIORITY = 3;

/** Test hooks. `setDawnLoader` swaps the `webgpu` package for a stand-in (undefined restores it). */
export const webgpuTesting = {
  setDawnLoader(loader: DawnLoader | undefined): void {
    dawnLoader = loader ?? loadDawnFromNpm;
    dawnLoaderIsReal = loader === undefined;
    gpus.clear();
  },
};

function dawnFlagsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.FLEXOLMO_WEBGPU_FLAGS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Dawn flags that pick a non-Vulkan backend (then the Vulkan loader is not needed). */
function dawnAvoidsVulkan(flags: string[]): boolean {
  return flags.some((f) => /^backend=(?!vulkan)/i.test(f));
}

/**
 * Directories the dynamic loader searches for a library, in the order ld.so uses (approximately):
 * LD_LIBRARY_PATH, the directories named in /etc/ld.so.conf(.d), then the usual system directories.
 */
export function librarySearchDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = (env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  const confFiles = ["/etc/ld.so.conf"];
  try {
    for (const f of fs.readdirSync("/etc/ld.so.conf.d")) if (f.endsWith(".conf")) confFiles.push(path.join("/etc/ld.so.conf.d", f));
  } catch {
    // no ld.so.conf.d: only the defaults below
  }
  for (const f of confFiles) {
    let text = "";
    try {
      text = fs.readFileSync(f, "utf-8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const l = line.replace(/#.*/, "").trim();
      if (l && !l.startsWith("include")) dirs.push(l);
    }
  }
  dirs.push("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib");
  return [...new Set(dirs)];
}

/** Path of `name` (e.g. libvulkan.so.1) in the first directory that has it, or undefined. */
export function findLibrary(name: string, dirs: string[]): string | undefined {
  for (const d of dirs) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|software rasterizer/i;

function adapterText(info: Record<string, unknown> | undefined, key: string): string {
  const v = info?.[key];
  return typeof v === "string" ? v : "";
}

function adapterLabel(a: Pick<WebgpuAdapterReport, "vendor" | "device" | "description" | "architecture">): string {
  return [a.vendor, a.device, a.description].filter(Boolean).join(" / ") || a.architecture || "unnamed adapter";
}

/** Make Dawn visible where tfjs-backend-webgpu looks: `navigator.gpu` and the GPU* globals. */
function exposeToTfjs(dawn: DawnModule, gpu: GpuLike, featureLevel: "core" | "compatibility"): void {
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals ?? {})) if (!(k in g)) g[k] = v;
  // tfjs asks for { powerPreference }; a compatibility-only adapter must also be asked for by level.
  const shim = {
    requestAdapter: (opts: Record<string, unknown> = {}) => gpu.requestAdapter(featureLevel === "core" ? opts : { ...opts, featureLevel }),
    getPreferredCanvasFormat: () => "rgba8unorm",
  };
  const nav = g.navigator as Record<string, unknown> | undefined;
  // Node ≥ 21 has a global `navigator` without `gpu`; Node 20 has none.
  if (nav) Object.defineProperty(nav, "gpu", { value: shim, configurable: true, writable: true });
  else Object.defineProperty(g, "navigator", { value: { gpu: shim }, configurable: true, writable: true });
}

/** Load tfjs-backend-webgpu once (it registers "webgpu" only if navigator.gpu exists) and keep its factory. */
function webgpuBackendFactory(): () => Promise<tf.KernelBackend> {
  if (webgpuFactory) return webgpuFactory;
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require("@tensorflow/tfjs-backend-webgpu");
  const f = tf.findBackendFactory("webgpu") as (() => Promise<tf.KernelBackend>) | null;
  if (!f) throw new Error("@tensorflow/tfjs-backend-webgpu did not register a 'webgpu' backend (it was loaded before navigator.gpu existed)");
  webgpuFactory = f;
  return f;
}

/** The active TF.js backend's name without initialising one (tf.getBackend() would). */
function activeTfBackend(): string | null {
  return (tf.engine() as unknown as { backendName: string | null }).backendName ?? null;
}

/**
 * Forget the webgpu backend so TF.js cannot fall into it by priority, and go back to the backend
 * that was active before (if any), so that ops keep working even when no other route follows.
 */
async function dropWebgpu(before: string | null): Promise<void> {
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  if (before && before !== "webgpu" && activeTfBackend() !== before) await tf.setBackend(before);
}

/**
 * Does the adapter compute? 64×64 inputs are above tfjs-backend-webgpu's CPU hand-off threshold
 * (1000 elements), so the product really runs on the GPU: ones · ones = 64 everywhere, which a
 * do-nothing adapter would fail. Read asynchronously, as the engine reads.
 */
async function probeArithmetic(): Promise<string | undefined> {
  const out = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])));
  try {
    const v = await out.data();
    if (v[0] !== 64 || v[v.length - 1] !== 64) return `wrong result from a GPU matMul (ones·ones gave ${v[0]}, expected 64)`;
    return undefined;
  } catch (e) {
    return firstLine(e);
  } finally {
    out.dispose();
  }
}

/**
 * Can a GPU-resident tensor be read synchronously? Reported only: the engine never needs it (it
 * reads asynchronously; lib/ops/host-reads.ts). Under Node it fails (no OffscreenCanvas).
 */
function probeSyncRead(): string | undefined {
  // The probe is ours: silence tfjs-backend-webgpu's one-time "synchronous reads are slow" warning.
  const be = tf.findBackend("webgpu") as unknown as { hasReadSyncWarned?: boolean } | null;
  if (be && typeof be.hasReadSyncWarned === "boolean") be.hasReadSyncWarned = true;
  const out = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])));
  try {
    out.dataSync();
    return undefined;
  } catch (e) {
    return firstLine(e);
  } finally {
    out.dispose();
  }
}

/**
 * Initialise the webgpu backend. Throws with the precise reason when it cannot; on a failure after
 * TF.js has seen the backend, "webgpu" is removed from the registry before throwing.
 */
async function tryWebgpu(): Promise<WebgpuAdapterReport> {
  const flags = dawnFlagsFromEnv();
  const allowSoftware = process.env.FLEXOLMO_WEBGPU_SOFTWARE === "1";

  // 0. The opt-in packages, resolved but not loaded: where they are absent, installing them is the
  //    first thing to do, whatever else the machine lacks (MODULE_NOT_FOUND gets the npm command).
  if (dawnLoaderIsReal) require.resolve("webgpu");
  require.resolve("@tensorflow/tfjs-backend-webgpu");

  // 1. The Vulkan loader, checked on disk: Dawn dlopens it and, when missing, only prints a warning.
  if (dawnLoaderIsReal && process.platform === "linux" && !dawnAvoidsVulkan(flags)) {
    const dirs = librarySearchDirs();
    if (!findLibrary("libvulkan.so.1", dirs)) {
      throw new Error(
        `libvulkan.so.1 (the Vulkan loader Dawn needs on Linux) is not installed: searched ${dirs.length} library directories ` +
          `(LD_LIBRARY_PATH, /etc/ld.so.conf.d, /usr/lib/…). Install it (Debian/Ubuntu: apt-get install libvulkan1; ` +
          `without root: docs/gpu.md) together with a GPU driver that provides a Vulkan ICD (NVIDIA: nvidia_icd.json + libGLX_nvidia.so.0).`,
      );
    }
  }

  // 2. Dawn itself (the `webgpu` package, an optional peer dependency: a prebuilt dawn.node, nothing to compile).
  const dawn = await dawnLoader();
  const key = flags.join(",");
  let gpu = gpus.get(key);
  if (!gpu) {
    gpu = dawn.create(flags);
    gpus.set(key, gpu);
  }

  // 3. An adapter: core WebGPU first, then compatibility mode (OpenGL ES-class drivers).
  const want = { powerPreference: "high-performance" }; // what tfjs-backend-webgpu asks for
  let featureLevel: "core" | "compatibility" = "core";
  let adapter = await gpu.requestAdapter(want);
  if (!adapter) {
    featureLevel = "compatibility";
    adapter = await gpu.requestAdapter({ ...want, featureLevel });
  }
  const via = flags.length ? ` (Dawn flags: ${flags.join(",")})` : "";
  if (!adapter) {
    throw new Error(
      `Dawn found no WebGPU adapter${via}: no GPU with a working driver is visible. On Linux that means no Vulkan ICD for a GPU ` +
        `(Dawn rejects CPU Vulkan drivers such as Debian's lavapipe; its warnings on stderr say why).`,
    );
  }
  const info = adapter.info;
  const a: WebgpuAdapterReport = {
    vendor: adapterText(info, "vendor"),
    architecture: adapterText(info, "architecture"),
    device: adapterText(info, "device"),
    description: adapterText(info, "description"),
    featureLevel,
    software: false,
    syncReads: false,
    dawnFlags: flags,
  };
  const label = adapterLabel(a);
  if (a.device === "null-backend") throw new Error(`the WebGPU adapter is Dawn's null backend${via}, which computes nothing; remove backend=null from FLEXOLMO_WEBGPU_FLAGS`);
  a.software = info?.isFallbackAdapter === true || adapter.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
  if (a.software && !allowSoftware) {
    throw new Error(`the only WebGPU adapter is a CPU rasteriser ("${label}")${via}, slower than the wasm backend; set FLEXOLMO_WEBGPU_SOFTWARE=1 to use it anyway`);
  }

  // 4. Hand it to TF.js. tfjs-backend-webgpu requests the adapter again through navigator.gpu.
  const before = activeTfBackend();
  exposeToTfjs(dawn, gpu, featureLevel);
  const factory = webgpuBackendFactory();
  if (!tf.findBackendFactory("webgpu")) tf.registerBackend("webgpu", factory, WEBGPU_PRIORITY);
  let ok = false;
  let why = "";
  try {
    ok = await tf.setBackend("webgpu");
  } catch (e) {
    why = `: ${firstLine(e)}`;
  }
  if (!ok) {
    await dropWebgpu(before);
    throw new Error(`tf.setBackend('webgpu') failed on adapter "${label}"${why || " (TF.js printed the cause above)"}`);
  }

  // 5. Host copies of uploaded tensors (lib/ops/host-reads.ts), then the arithmetic, read back
  //    asynchronously as the engine does; whether a synchronous read works is only reported.
  keepHostCopies(tf.backend());
  installWebgpuFixes(); // upstream kernel bugs (lib/ops/webgpu-fixes.ts)
  const err = await probeArithmetic();
  if (err !== undefined) {
    await dropWebgpu(before);
    throw new Error(`WebGPU adapter "${label}" computes wrong results: ${err}`);
  }
  const syncErr = probeSyncRead();
  a.syncReads = syncErr === undefined;
  if (syncErr !== undefined) a.syncReadError = syncErr;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------------------------

/**
 * What to do when a backend's package is missing (MODULE_NOT_FOUND). The GPU packages are optional
 * peer dependencies of flexolmo-lab, so only an explicit install brings them; the exact versions
 * matter because they must share tfjs-core 4.22.0 with the lab.
 */
export function notInstalledHint(name: BackendName): string {
  switch (name) {
    case "tfjs-node-gpu":
      return "not installed: opt in with `npm install @tensorflow/tfjs-node-gpu@4.22.0` (its install script downloads libtensorflow with CUDA 11.2 / cuDNN 8 kernels from outside the npm registry; mirrors: docs/gpu.md)";
    case "tfjs-node":
      return "not installed: opt in with `npm install @tensorflow/tfjs-node@4.22.0` (its install script downloads libtensorflow from outside the npm registry; see docs/gpu.md)";
    case "webgpu":
      return "not installed: opt in with `npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0` (both from npm alone; see docs/gpu.md)";
    case "wasm":
    case "cpu":
      return "a dependency of flexolmo-lab is missing: reinstall it (npm install)";
  }
}

const PROCESS_ERROR_EVENTS = ["uncaughtException", "unhandledRejection"] as const;
/** `process` as a plain emitter: its typed overloads do not take a union of event names. */
const processEvents = process as NodeJS.EventEmitter;

/** The process's 'uncaughtException' and 'unhandledRejection' listeners now. */
function processErrorHandlers(): Record<(typeof PROCESS_ERROR_EVENTS)[number], Function[]> {
  return { uncaughtException: processEvents.listeners("uncaughtException"), unhandledRejection: processEvents.listeners("unhandledRejection") };
}

/**
 * Remove the error listeners added since `before`. The wasm backend's Emscripten glue installs
 * 'uncaughtException' and 'unhandledRejection' listeners that rethrow whatever they get, which
 * turns every later uncaught error into the end of the process: in the Node REPL (which hands a
 * failed line to those listeners as soon as there are any) a typo killed Node. The glue needs
 * them only for its own exit() emulation, which TF.js never calls. Listeners that were there
 * before (a test runner's, the REPL's, the user's) are kept.
 */
function removeHandlersAddedSince(before: ReturnType<typeof processErrorHandlers>): void {
  for (const event of PROCESS_ERROR_EVENTS) {
    for (const h of processEvents.listeners(event)) {
      if (!before[event].includes(h)) processEvents.removeListener(event, h as (...args: unknown[]) => void);
    }
  }
}

/** Try to make `name` the active TF.js backend. Throws with the precise reason when it cannot. */
async function tryBackend(name: BackendName): Promise<WebgpuAdapterReport | undefined> {
  switch (name) {
    case "tfjs-node-gpu":
    case "tfjs-node": {
      // Requiring the package registers the "tensorflow" backend on the shared tf engine: it loads
      // the umbrella @tensorflow/tfjs, whose @tensorflow/tfjs-core npm dedupes with ours (both
      // 4.22.0), and the engine is a process-wide singleton in any case.
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      require(name === "tfjs-node-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node");
      if (!(await tf.setBackend("tensorflow"))) throw new Error("tf.setBackend('tensorflow') returned false");
      return undefined;
    }
    case "webgpu":
      return tryWebgpu();
    case "wasm": {
      const before = processErrorHandlers();
      try {
        require("@tensorflow/tfjs-backend-wasm");
        if (!(await tf.setBackend("wasm"))) throw new Error("tf.setBackend('wasm') returned false (wasm binary failed to load)");
      } finally {
        removeHandlersAddedSince(before);
      }
      return undefined;
    }
    case "cpu": {
      if (!(await tf.setBackend("cpu"))) throw new Error("tf.setBackend('cpu') returned false");
      // The cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js… install
      // tfjs-node" on first use. Our backend report already says why tfjs-node is absent, and where
      // it cannot install the advice only confuses; `firstUse` is the flag that gates that message.
      const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
      if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
      return undefined;
    }
  }
}

function flagsFor(name: BackendName, adapter: WebgpuAdapterReport | undefined): Record<string, boolean> {
  const flags: Record<string, boolean> = {};
  if (name === "wasm") {
    flags.simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
    flags.threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
  }
  if (name === "webgpu" && adapter) {
    flags.syncReads = adapter.syncReads;
    flags.software = adapter.software;
  }
  return flags;
}

function shortReason(reason: string | undefined): string {
  const r = reason ?? "failed";
  const known: Array<[RegExp, string]> = [
    [/Cannot find module/, "not installed"],
    [/^libvulkan\.so\.1 .*not installed/, "no libvulkan1"],
    [/^Dawn found no WebGPU adapter/, "no GPU adapter"],
    [/null backend/, "Dawn null adapter"],
    [/CPU rasteriser/, "CPU adapter only"],
  ];
  for (const [re, short] of known) if (re.test(r)) return short;
  return r.slice(0, 80);
}

/** Fixes named in FLEXOLMO_OPS_SKIP (read here without validating: installOps reports bad names). */
function skippedOps(): string[] {
  return (process.env.FLEXOLMO_OPS_SKIP ?? "").split(",").map((x) => x.trim());
}

function summarise(name: BackendName, attempts: BackendAttempt[], flags: Record<string, boolean>, forced: boolean, adapter?: WebgpuAdapterReport): string {
  let detail = "";
  if (name === "wasm") {
    // matMul (~75 % of a step) may run on the native BLAS on every core (lib/ops/blas.ts); say which.
    const blas = nativeMatMul();
    const mm = blas.available && !skippedOps().includes("nativeMatMul") ? `; matMul on ${blas.library?.match(/OpenBLAS [\d.]+/)?.[0] ?? "native BLAS"}, ${blas.threads} threads` : "";
    detail = ` (${flags.simd ? "SIMD" : "no SIMD"}, ${flags.threads ? "threads" : "1 thread"}${mm})`;
  }
  else if (name === "tfjs-node-gpu") detail = " (CUDA)";
  else if (name === "webgpu" && adapter) {
    detail = ` (${adapterLabel(adapter)}${adapter.software ? ", software" : ""}${adapter.featureLevel === "compatibility" ? ", compatibility mode" : ""}` + `; routing on the device)`;
  }
  // One line: the chosen backend, and the skipped ones with a short reason (full text in `attempts`).
  const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.name} (${shortReason(a.reason)})`);
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
      const adapter = await tryBackend(name);
      await tf.ready();
      attempts.push({ name, ok: true, ms: performance.now() - t0 });
      const flags = flagsFor(name, adapter);
      current = {
        name,
        tfBackend: tf.getBackend(),
        gpu: name === "tfjs-node-gpu" || (name === "webgpu" && adapter !== undefined && !adapter.software),
        forced: forcedName !== undefined,
        attempts,
        flags,
        ...(adapter ? { adapter } : {}),
        summary: summarise(name, attempts, flags, forcedName !== undefined, adapter),
      };
      for (const hook of installHooks) hook();
      return current;
    } catch (e) {
      let reason = firstLine(e);
      if ((e as { code?: string }).code === "MODULE_NOT_FOUND") reason += ` (${notInstalledHint(name)})`;
      attempts.push({ name, ok: false, reason, ms: performance.now() - t0 });
      // After a failed setBackend TF.js may be left pointing at a broken backend; every op would
      // then fail. The next iteration sets another backend explicitly (the webgpu route also removes
      // its registration), and if none is left we throw.
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
