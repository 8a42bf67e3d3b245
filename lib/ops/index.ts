/**
 * Registered kernels and gradients that make training fast on wasm and correct everywhere.
 *
 * `installOps()` is called once when a backend initialises (lib/backend.ts) and again, as a
 * no-op, by the model's forward pass, so the model never runs without it. It is idempotent and
 * safe on every backend: kernels are registered per backend *name* (cpu, wasm), gradients globally.
 * On tfjs-node (backend "tensorflow") only the gradient override applies; our custom ops fall back
 * to composite TF.js ops there.
 */
import { installCrossEntropyKernels } from "./cross-entropy";
import { installGradients } from "./gradients";
import { installFused } from "./fused";
import { installGather } from "./gather";
import { installRope } from "./rope";
import { installSegmentSum } from "./segment-sum";
import { installWasmKernels } from "./wasm-kernels";
import { nativeMatMul } from "./blas";

/**
 * The individual fixes, by name. All are installed by default; `skip` (or the env var
 * FLEXOLMO_OPS_SKIP="a,b") leaves some out so the benchmark can measure what each one buys.
 * Skipping never breaks the model: every custom op has a composite fallback, except that wasm
 * cannot train without `segmentSum` (it has no UnsortedSegmentSum kernel at all).
 */
export const OP_FIXES = ["nativeMatMul", "wasmMatMul", "matMulGrad", "wasmCopies", "wasmSlice", "segmentSum", "gather", "crossEntropy", "rope", "fused"] as const;
export type OpFix = (typeof OP_FIXES)[number];

export interface OpsReport {
  /** The wasm backend package loaded and our wasm kernels were registered (those not skipped). */
  wasmKernels: boolean;
  /** BatchMatMul on wasm runs on the native BLAS (lib/ops/blas.ts); `nativeMatMul()` says why not. */
  nativeMatMul: boolean;
  /** Fixes installed / skipped. */
  installed: OpFix[];
  skipped: OpFix[];
}

let report: OpsReport | undefined;

function parseSkip(raw: string | undefined): OpFix[] {
  if (!raw) return [];
  const names = raw.split(",").map((x) => x.trim()).filter(Boolean);
  for (const n of names) {
    if (!(OP_FIXES as readonly string[]).includes(n)) throw new Error(`FLEXOLMO_OPS_SKIP: unknown fix "${n}". Valid names: ${OP_FIXES.join(", ")}`);
  }
  return names as OpFix[];
}

/** Install the kernels and gradients (idempotent: the first call decides what is installed). */
export function installOps(opts: { skip?: OpFix[] } = {}): OpsReport {
  if (report) return report;
  const skip = new Set<OpFix>([...(opts.skip ?? []), ...parseSkip(process.env.FLEXOLMO_OPS_SKIP)]);
  const on = (f: OpFix) => !skip.has(f);
  const native = on("nativeMatMul") && nativeMatMul().available;
  const wasmKernels = installWasmKernels({ nativeMatMul: native, matMul: on("wasmMatMul"), copies: on("wasmCopies"), slice: on("wasmSlice") });
  if (on("matMulGrad")) installGradients({ flags: native });
  if (on("crossEntropy")) installCrossEntropyKernels();
  if (on("rope")) installRope();
  if (on("segmentSum")) installSegmentSum();
  if (on("gather")) installGather();
  if (on("fused")) installFused();
  const installed = OP_FIXES.filter((f) => on(f) && (f !== "nativeMatMul" || native));
  report = { wasmKernels, nativeMatMul: wasmKernels && native, installed, skipped: OP_FIXES.filter((f) => !installed.includes(f)) };
  return report;
}

export { softmaxCrossEntropy } from "./cross-entropy";
export { batchMatMulGradFunc, batchMatMulGradFuncFlags } from "./gradients";
export { rope, ropeAngles, ropeReference } from "./rope";
export { adamwFused, hasFused, rmsNormFused } from "./fused";
export { nativeMatMul, setBlasThreads } from "./blas";
export { stopGradient } from "./stop-gradient";
export type { NativeMatMulStatus } from "./blas";
export { keepHostCopies, readBack, routingPlace, valuesIfOnHost } from "./host-reads";
export type { RoutingPlace } from "./host-reads";
export { topkMask } from "./topk-mask";
export { installWebgpuFixes } from "./webgpu-fixes";
