/**
 * Matrix products on the machine's BLAS, for the wasm backend.
 *
 * Why: the wasm backend runs on one thread with 128-bit SIMD; its best matMul (XNNPACK) reaches
 * ~15-20 GFLOP/s here, while OpenBLAS's sgemm uses every core and the full vector width (≈ 130
 * GFLOP/s on this project's 2-core CI machine). matMul is ~75 % of a training step, so this one
 * kernel is most of the available speed-up.
 *
 * How: native/blas.c is a ~150-line Node-API addon built at `npm install` with the system C compiler
 * (native/build.js). It receives a Float32Array over the wasm heap plus element offsets and runs
 * `cblas_sgemm` in place — no copies; transposes and broadcast batches are BLAS arguments, so the
 * transposed products of the backward pass cost nothing extra. The BLAS is dlopen'ed at first use
 * (libopenblas.so.0, or FLEXOLMO_BLAS_LIB).
 *
 * When it is off: no addon (no compiler or Node headers at install, or FLEXOLMO_NO_NATIVE=1), no
 * BLAS library at run time, or FLEXOLMO_OPS_SKIP=nativeMatMul. Then the XNNPACK kernel in
 * wasm-kernels.ts runs, and `nativeMatMul()` says why, for the backend report.
 *
 * Results differ from XNNPACK's in the last bits (another summation order), so runs on the two
 * kernels are not bit-identical; each is deterministic on its own (OpenBLAS splits work over rows
 * and columns, never over the summed axis).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type * as tf from "@tensorflow/tfjs-core";
import { packageRoot } from "../util/package";
import { broadcastBatch, sizeOf, TensorInfo, WasmBackendLike } from "./raw";

interface BlasAddon {
  sgemm(heap: Float32Array, aOff: number, bOff: number, cOff: number, batch: number, strideA: number, strideB: number, m: number, n: number, k: number, transA: number, transB: number): void;
  info(): { library: string; threads: number; config: string; coretypeHint: string };
  setThreads(n: number): void;
}

export interface NativeMatMulStatus {
  /** The BLAS kernel can run (addon built and a BLAS library loaded). */
  available: boolean;
  /** e.g. "OpenBLAS 0.3.21 … SkylakeX", with the library file name. */
  library?: string;
  threads?: number;
  /** Why it is not available, and what to do about it. */
  reason?: string;
  addonPath: string;
}

let addon: BlasAddon | undefined;
let status: NativeMatMulStatus | undefined;

/** Load the addon and the BLAS once; never throws (the reason goes into the status). */
export function nativeMatMul(): NativeMatMulStatus {
  if (status) return status;
  const root = packageRoot();
  const addonPath = path.join(root, "native", "build", "flexolmo_blas.node");
  if (!fs.existsSync(addonPath)) {
    let why = "the native addon was not built";
    try {
      const s = JSON.parse(fs.readFileSync(path.join(root, "native", "build", "status.json"), "utf8")) as { reason?: string };
      if (s.reason) why += `: ${s.reason}`;
    } catch {
      why += " (run `node native/build.js` in the package folder)";
    }
    return (status = { available: false, reason: why, addonPath });
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const a = require(addonPath) as BlasAddon;
    const info = a.info(); // loads the BLAS; throws with dlopen's message if none
    addon = a;
    const config = info.config || info.library;
    return (status = { available: true, library: `${config} (${info.library})`, threads: info.threads, addonPath });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return (status = {
      available: false,
      reason: `${msg.split("\n")[0]} — install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0) or point FLEXOLMO_BLAS_LIB at a CBLAS library`,
      addonPath,
    });
  }
}

/** BatchMatMul for the wasm backend on the native BLAS. Same semantics as tf.matMul (float32). */
export function batchMatMulBlas(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const a = args.inputs.a as TensorInfo;
  const b = args.inputs.b as TensorInfo;
  const tA = Boolean(args.attrs?.transposeA), tB = Boolean(args.attrs?.transposeB);
  if (a.dtype !== "float32" || b.dtype !== "float32") throw new Error(`BatchMatMul (BLAS): only float32 is supported (got ${a.dtype} × ${b.dtype})`);
  const ra = a.shape.length, rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`BatchMatMul (BLAS): inputs must have rank ≥ 2 (got [${a.shape}] and [${b.shape}])`);
  // op(A) is [M, K], op(B) is [K, N].
  const M = tA ? a.shape[ra - 1] : a.shape[ra - 2], K = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const K2 = tB ? b.shape[rb - 1] : b.shape[rb - 2], N = tB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== K2) {
    throw new Error(`Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${tA} and transposeB=${tB} must match.`);
  }
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA), batchB = sizeOf(outerB);
  const outer = broadcastBatch(outerA, outerB);
  if (!outer) throw new Error(`BatchMatMul (BLAS): cannot broadcast batch shapes [${outerA}] and [${outerB}]`);
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outer, M, N], "float32");
  if (batch * M * N === 0) return out;
  // After makeOutput: the heap may have grown (a new ArrayBuffer), so the view is taken now.
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  const off = (t: TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset / 4; // bytes → float32 elements (offsets are 4-aligned)
  addon!.sgemm(heap, off(a), off(b), off(out), batch, batchA === 1 ? 0 : M * K, batchB === 1 ? 0 : K * N, M, N, K, tA ? 1 : 0, tB ? 1 : 0);
  return out;
}

/** For tests and the benchmark: set the BLAS thread count (OpenBLAS only; no-op elsewhere). */
export function setBlasThreads(n: number): void {
  if (!nativeMatMul().available) throw new Error(`setBlasThreads: the native matMul is not available (${status!.reason})`);
  addon!.setThreads(n);
}
