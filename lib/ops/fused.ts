/**
 * Fused kernels for the two elementwise-heavy pieces of a training step, for cpu and wasm:
 *
 *  - RMSNorm over the last axis (`FlexRmsNorm`) and its two gradients. Composed from TF.js ops, one
 *    RMSNorm is 6 kernels forward and ~15 backward, each a full pass over [N, C] plus per-op
 *    overhead; the model has 4 per layer (QK-norm ×2, two post-norms) plus the final one.
 *      y_j = x_j · r · w_j,  r = 1/√(mean_j x_j² + eps)
 *      dx_k = r·w_k·dy_k − x_k · r³/C · Σ_j dy_j w_j x_j,   dw_j = Σ_rows dy_j · x_j · r
 *  - The AdamW update (`FlexAdamW`): ~12 elementwise kernels per tensor become one pass that
 *    returns (w, m, v). Same formula as adamw.ts; frozen (mask = 0) elements are copied unchanged.
 *
 * Arithmetic runs in float64 per element and is stored as float32, so results can differ from
 * the composite float32 versions in the last bit; the composite versions remain the fallback on
 * backends without these kernels (tfjs-node) and the reference in the tests.
 */
import * as tf from "../tf";
import { cpuValuesAny, CpuBackendLike, sizeOf, TensorInfo, WasmBackendLike, wasmViewAny } from "./raw";
import { KArgs, registerCpuWasm } from "./register";

export const RMSNORM = "FlexRmsNorm";
export const RMSNORM_GRAD_X = "FlexRmsNormGradX";
export const RMSNORM_GRAD_W = "FlexRmsNormGradW";
export const ADAMW = "FlexAdamW";

type Arr = Float32Array | Int32Array | Uint8Array;

// ---- loops (shared by both backends) ----

function rmsForward(x: Float32Array, w: Float32Array, y: Float32Array, rows: number, c: number, eps: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * c;
    let ss = 0;
    for (let j = 0; j < c; j++) ss += x[o + j] * x[o + j];
    const r = 1 / Math.sqrt(ss / c + eps);
    for (let j = 0; j < c; j++) y[o + j] = x[o + j] * r * w[j];
  }
}

function rmsGradX(dy: Float32Array, x: Float32Array, w: Float32Array, dx: Float32Array, rows: number, c: number, eps: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * c;
    let ss = 0, s = 0;
    for (let j = 0; j < c; j++) {
      ss += x[o + j] * x[o + j];
      s += dy[o + j] * w[j] * x[o + j];
    }
    const r = 1 / Math.sqrt(ss / c + eps);
    const k = (r * r * r * s) / c;
    for (let j = 0; j < c; j++) dx[o + j] = r * w[j] * dy[o + j] - x[o + j] * k;
  }
}

function rmsGradW(dy: Float32Array, x: Float32Array, dw: Float32Array, rows: number, c: number, eps: number): void {
  const acc = new Float64Array(c);
  for (let i = 0; i < rows; i++) {
    const o = i * c;
    let ss = 0;
    for (let j = 0; j < c; j++) ss += x[o + j] * x[o + j];
    const r = 1 / Math.sqrt(ss / c + eps);
    for (let j = 0; j < c; j++) acc[j] += dy[o + j] * x[o + j] * r;
  }
  dw.set(acc);
}

// Typed as Float32Array on purpose: one array type per loop keeps V8's element access monomorphic
// (a loop that has seen Float32Array and Uint8Array arguments runs several times slower).
function adamwLoop(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, mask: Uint8Array | undefined, wo: Float32Array, mo: Float32Array, vo: Float32Array, a: tf.NamedAttrMap): void {
  const lr = Number(a.lr), b1 = Number(a.beta1), b2 = Number(a.beta2), eps = Number(a.eps), wd = Number(a.weightDecay), t = Number(a.t);
  const decay = 1 - lr * wd, stepSize = lr / (1 - Math.pow(b1, t)), invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(b2, t));
  const c1 = 1 - b1, c2 = 1 - b2;
  const n = w.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    mo[i] = mi;
    vo[i] = vi;
    wo[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
  }
  if (mask) {
    // Frozen elements: restore exactly (weights, and moments, which stay 0 from the start).
    for (let i = 0; i < n; i++) {
      if (mask[i]) continue;
      wo[i] = w[i];
      mo[i] = m[i];
      vo[i] = v[i];
    }
  }
}

// ---- kernel plumbing: one function per kernel, parameterised by how to view/allocate ----

interface Io {
  view(t: TensorInfo): Arr;
  alloc(shape: number[]): { info: TensorInfo; data: Float32Array; finish(): TensorInfo };
}

function wasmIo(backend: WasmBackendLike): Io {
  return {
    view: (t) => wasmViewAny(backend, t),
    alloc: (shape) => {
      const info = backend.makeOutput(shape, "float32");
      // NB: views of the inputs must be taken after all allocations (the heap can move); callers
      // allocate every output first, then view.
      return { info, get data() { return wasmViewAny(backend, info) as Float32Array; }, finish: () => info };
    },
  };
}

function cpuIo(backend: CpuBackendLike): Io {
  return {
    view: (t) => cpuValuesAny(backend, t),
    alloc: (shape) => {
      const data = new Float32Array(sizeOf(shape));
      return { info: undefined as unknown as TensorInfo, data, finish: () => backend.makeTensorInfo(shape, "float32", data) };
    },
  };
}

function ioFor(args: KArgs, kind: "cpu" | "wasm"): Io {
  return kind === "wasm" ? wasmIo(args.backend as WasmBackendLike) : cpuIo(args.backend as CpuBackendLike);
}

function rmsNormKernel(kind: "cpu" | "wasm") {
  return (args: KArgs): TensorInfo => {
    const io = ioFor(args, kind);
    const { x, w } = args.inputs as Record<string, TensorInfo>;
    const [rows, c] = [sizeOf(x.shape) / x.shape[x.shape.length - 1], x.shape[x.shape.length - 1]];
    const out = io.alloc(x.shape);
    rmsForward(io.view(x) as Float32Array, io.view(w) as Float32Array, out.data, rows, c, Number(args.attrs?.eps));
    return out.finish();
  };
}

function rmsGradXKernel(kind: "cpu" | "wasm") {
  return (args: KArgs): TensorInfo => {
    const io = ioFor(args, kind);
    const { dy, x, w } = args.inputs as Record<string, TensorInfo>;
    const c = x.shape[x.shape.length - 1], rows = sizeOf(x.shape) / c;
    const out = io.alloc(x.shape);
    rmsGradX(io.view(dy) as Float32Array, io.view(x) as Float32Array, io.view(w) as Float32Array, out.data, rows, c, Number(args.attrs?.eps));
    return out.finish();
  };
}

function rmsGradWKernel(kind: "cpu" | "wasm") {
  return (args: KArgs): TensorInfo => {
    const io = ioFor(args, kind);
    const { dy, x } = args.inputs as Record<string, TensorInfo>;
    const c = x.shape[x.shape.length - 1], rows = sizeOf(x.shape) / c;
    const out = io.alloc([c]);
    rmsGradW(io.view(dy) as Float32Array, io.view(x) as Float32Array, out.data, rows, c, Number(args.attrs?.eps));
    return out.finish();
  };
}

function adamwKernel(kind: "cpu" | "wasm") {
  return (args: KArgs): TensorInfo[] => {
    const io = ioFor(args, kind);
    const { w, g, m, v, mask } = args.inputs as Record<string, TensorInfo | undefined> as Record<string, TensorInfo>;
    const wo = io.alloc(w.shape), mo = io.alloc(w.shape), vo = io.alloc(w.shape);
    for (const [k, t] of Object.entries({ w, g, m, v })) if (t.dtype !== "float32") throw new Error(`FlexAdamW: ${k} must be float32 (got ${t.dtype})`);
    if (mask && mask.dtype !== "bool") throw new Error(`FlexAdamW: mask must be bool (got ${mask.dtype})`);
    const f = (t: TensorInfo) => io.view(t) as Float32Array;
    adamwLoop(f(w), f(g), f(m), f(v), mask ? (io.view(mask) as Uint8Array) : undefined, wo.data, mo.data, vo.data, args.attrs ?? {});
    return [wo.finish(), mo.finish(), vo.finish()];
  };
}

let installed = false;
export function installFused(): void {
  if (installed) return;
  for (const [name, make] of [
    [RMSNORM, rmsNormKernel],
    [RMSNORM_GRAD_X, rmsGradXKernel],
    [RMSNORM_GRAD_W, rmsGradWKernel],
    [ADAMW, adamwKernel],
  ] as const) {
    registerCpuWasm(name, { cpu: make("cpu"), wasm: make("wasm") }, "ifAbsent");
  }
  tf.registerGradient({
    kernelName: RMSNORM,
    inputsToSave: ["x", "w"],
    gradFunc: (dy, saved, attrs) => {
      const [x, w] = saved;
      const run = (name: string, inputs: Record<string, tf.Tensor>) => tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;
      return { x: () => run(RMSNORM_GRAD_X, { dy: dy as tf.Tensor, x, w }), w: () => run(RMSNORM_GRAD_W, { dy: dy as tf.Tensor, x }) };
    },
  });
  installed = true;
}

/** True when the active backend has the fused kernels. */
export function hasFused(): boolean {
  return Boolean(tf.getKernel(RMSNORM, tf.getBackend()));
}

/** RMSNorm over the last axis with the fused kernel (caller checks hasFused()). */
export function rmsNormFused(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  return tf.engine().runKernel(RMSNORM, { x, w } as unknown as tf.NamedTensorMap, { eps }) as tf.Tensor;
}

/** One AdamW update with the fused kernel (caller checks hasFused()). Returns new w, m, v. */
export function adamwFused(w: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, hp: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number }, t: number, mask?: tf.Tensor): { w: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
  const inputs: Record<string, tf.Tensor> = { w, g, m, v };
  if (mask) inputs.mask = mask;
  const [w2, m2, v2] = tf.engine().runKernel(ADAMW, inputs as unknown as tf.NamedTensorMap, { ...hp, t }) as tf.Tensor[];
  return { w: w2, m: m2, v: v2 };
}
