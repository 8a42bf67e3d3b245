/**
 * Kernels we (re-)register for the wasm backend, because the stock ones are slow or missing.
 *
 * 1. `BatchMatMul`. The stock wasm kernel sends a matMul to XNNPACK only when it is a plain 2-D
 *    product: batch 1 and no transpose flags (tfjs-backend-wasm `batch_mat_mul_impl.cc`). Every
 *    other case (transposeA/B set, or a batch of matrices, i.e. attention's per-head products)
 *    falls into a naive triple loop at ~1 GFLOP/s, against ~13 GFLOP/s for XNNPACK on one core.
 *    Our kernel keeps every call on the fast path:
 *      - a transpose flag becomes an explicit Transpose of that operand first (O(size), cheap
 *        next to the O(M·K·N) product);
 *      - a batch of B matrices becomes B XNNPACK calls on *views*: we register temporary C++
 *        tensor ids that point into the middle of the input/output buffers (no copies), call the
 *        stock 2-D entry point on each, then unregister them (which also frees XNNPACK's cached
 *        operator for that view).
 * 2. `UnsortedSegmentSum` (missing on wasm) lives in segment-sum.ts, with the cpu one.
 *
 * 3. `Identity` and `Cast`. The stock wasm kernels always copy the buffer, even for a cast to the
 *    same dtype. TF.js's gradient of `mul` casts both operands to float32 (a no-op for us), so every
 *    multiply in the backward pass paid two full copies (~70 ms per training step at the `cpu`
 *    preset). Tensors are immutable, so like the cpu backend we return the same buffer with its
 *    reference count raised; a real dtype change still converts into a new buffer.
 *
 * 4. `Slice` and `SplitV`. The stock wasm Slice starts with `backend.readSync(x)`, which copies
 *    the *whole* input out of the heap on every call; SplitV calls it once per piece. Ours copies
 *    only the selected runs, straight from a heap view.
 *
 * All are exact re-implementations of the op's semantics; `test/ops` compares them with the cpu
 * backend's kernels.
 */
import * as tf from "../tf";
import { batchMatMulBlas, nativeMatMul } from "./blas";
import { broadcastBatch, sizeOf, TensorInfo, WasmBackendLike, wasmView } from "./raw";

type BmmFn = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, ta: number, tb: number, outId: number) => void;

// One cwrap'ed C++ entry point per wasm module instance (a new backend instance gets a new module).
const bmmFns = new WeakMap<object, BmmFn>();
function bmmFn(backend: WasmBackendLike): BmmFn {
  let fn = bmmFns.get(backend.wasm);
  if (!fn) {
    fn = backend.wasm.cwrap("BatchMatMul", null, ["number", "array", "number", "number", "array", "number", "number", "number", "number"]) as unknown as BmmFn;
    bmmFns.set(backend.wasm, fn);
  }
  return fn;
}

const shapeBytes = (s: number[]) => new Uint8Array(new Int32Array(s).buffer);

/** Explicitly transpose the last two axes of a wasm tensor using the stock Transpose kernel. */
function transposeLast2(backend: WasmBackendLike, x: TensorInfo): TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  const k = tf.getKernel("Transpose", "wasm");
  if (!k) throw new Error("wasm Transpose kernel is not registered (is @tensorflow/tfjs-backend-wasm loaded?)");
  return k.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
}

function batchMatMulWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  let a = args.inputs.a as TensorInfo;
  let b = args.inputs.b as TensorInfo;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  if (a.dtype !== "float32" || b.dtype !== "float32") throw new Error(`BatchMatMul (wasm): only float32 is supported (got ${a.dtype} × ${b.dtype})`);
  if (a.shape.length < 2 || b.shape.length < 2) throw new Error(`BatchMatMul (wasm): inputs must have rank ≥ 2 (got [${a.shape}] and [${b.shape}])`);

  const temps: TensorInfo[] = [];
  if (transposeA) a = transposeLast2(backend, a), temps.push(a);
  if (transposeB) b = transposeLast2(backend, b), temps.push(b);

  const ra = a.shape.length, rb = b.shape.length;
  const M = a.shape[ra - 2], K = a.shape[ra - 1], K2 = b.shape[rb - 2], N = b.shape[rb - 1];
  if (K !== K2) {
    temps.forEach((t) => backend.disposeData(t.dataId));
    throw new Error(`Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${args.inputs.a!.shape} and ${args.inputs.b!.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA), batchB = sizeOf(outerB);
  const outer = broadcastBatch(outerA, outerB);
  if (!outer) {
    temps.forEach((t) => backend.disposeData(t.dataId));
    throw new Error(`BatchMatMul (wasm): cannot broadcast batch shapes [${outerA}] and [${outerB}]`);
  }
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outer, M, N], "float32");
  if (M * N > 0) {
    const bmm = bmmFn(backend);
    const aInfo = backend.dataIdMap.get(a.dataId), bInfo = backend.dataIdMap.get(b.dataId), oInfo = backend.dataIdMap.get(out.dataId);
    const aShape = shapeBytes([1, M, K]), bShape = shapeBytes([1, K, N]);
    if (K === 0) {
      new Float32Array(backend.wasm.HEAPU8.buffer, oInfo.memoryOffset, batch * M * N).fill(0);
    } else if (batch === 1) {
      bmm(aInfo.id, aShape, 3, bInfo.id, bShape, 3, 0, 0, oInfo.id);
    } else {
      const reg = backend.wasm.tfjs.registerTensor, unreg = backend.wasm.tfjs.disposeData;
      for (let i = 0; i < batch; i++) {
        // Fresh ids for the views: XNNPACK caches a packed operator per B id, so ids must never repeat
        // while a view is alive; unregistering drops the cached operator again.
        const ia = backend.dataIdNextNumber++, ib = backend.dataIdNextNumber++, io = backend.dataIdNextNumber++;
        reg(ia, M * K, aInfo.memoryOffset + (batchA === 1 ? 0 : i * M * K * 4));
        reg(ib, K * N, bInfo.memoryOffset + (batchB === 1 ? 0 : i * K * N * 4));
        reg(io, M * N, oInfo.memoryOffset + i * M * N * 4);
        bmm(ia, aShape, 3, ib, bShape, 3, 0, 0, io);
        unreg(ia);
        unreg(ib);
        unreg(io);
      }
    }
  }
  temps.forEach((t) => backend.disposeData(t.dataId));
  return out;
}

/** Share the input buffer (refcount +1) instead of copying it. */
function identityWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const backend = args.backend as WasmBackendLike & { incRef(dataId: object): void };
  const x = args.inputs.x as TensorInfo;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function castWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike & { incRef(dataId: object): void; typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array };
  const x = args.inputs.x as TensorInfo;
  const dtype = args.attrs?.dtype as tf.DataType;
  if (dtype === x.dtype) return identityWasm(args);
  if (x.dtype === "string" || dtype === "string" || x.dtype === "complex64" || dtype === "complex64") throw new Error(`Cast (wasm): ${x.dtype} → ${dtype} is not supported`);
  // Same as the stock kernel: typed-array `set` converts numerically (bool/int → float, float → int truncates).
  const out = backend.makeOutput(x.shape, dtype);
  const src = backend.typedArrayFromHeap(x);
  if (dtype === "bool") {
    const o = backend.typedArrayFromHeap(out);
    for (let i = 0; i < src.length; i++) o[i] = src[i] !== 0 ? 1 : 0;
  } else backend.typedArrayFromHeap(out).set(src);
  return out;
}

/** Copy x[begin : begin+size] (any rank) into out, one innermost contiguous run at a time. */
function sliceInto(x: Float32Array | Int32Array, shape: number[], begin: number[], size: number[], out: Float32Array | Int32Array): void {
  const r = shape.length;
  if (r === 0) {
    out[0] = x[0];
    return;
  }
  const strides = new Array<number>(r);
  strides[r - 1] = 1;
  for (let d = r - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  const run = size[r - 1];
  const rows = sizeOf(size) / Math.max(1, run);
  if (run === 0 || rows === 0) return;
  const idx = new Array<number>(Math.max(0, r - 1)).fill(0);
  for (let row = 0; row < rows; row++) {
    let src = begin[r - 1];
    for (let d = 0; d < r - 1; d++) src += (begin[d] + idx[d]) * strides[d];
    out.set(x.subarray(src, src + run), row * run);
    for (let d = r - 2; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

function sliceWasmInfo(backend: WasmBackendLike, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (sizeOf(size) > 0) sliceInto(wasmView(backend, x), x.shape, begin, size, wasmView(backend, out));
  return out;
}

const stockSlice: { cfg?: tf.KernelConfig } = {};

function sliceWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as TensorInfo;
  if (x.dtype !== "float32" && x.dtype !== "int32") return stockSlice.cfg!.kernelFunc(args as never) as TensorInfo;
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, args.attrs!.begin as number[], args.attrs!.size as number[]);
  return sliceWasmInfo(backend, x, begin, size);
}

function splitVWasm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x as TensorInfo;
  const axis = tf.util.parseAxisParam(args.attrs!.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs!.numOrSizeSplits as number[] | number, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((sz) => {
    const size = x.shape.slice();
    size[axis] = sz;
    const piece = x.dtype === "float32" || x.dtype === "int32" ? sliceWasmInfo(backend, x, begin.slice(), size) : (stockSlice.cfg!.kernelFunc({ inputs: { x }, backend, attrs: { begin: begin.slice(), size } } as never) as TensorInfo);
    begin[axis] += sz;
    return piece;
  });
}

let installed = false;

/** Which groups of wasm kernels to install (all by default; the benchmark's ablation turns some off). */
export interface WasmKernelChoice {
  matMul?: boolean; // BatchMatMul on XNNPACK
  nativeMatMul?: boolean; // BatchMatMul on the native BLAS when it loads (lib/ops/blas.ts); wins over matMul
  copies?: boolean; // Identity, Cast
  slice?: boolean; // Slice, SplitV
}

/** Register the wasm kernels above (idempotent). Loads the wasm backend package first so ours win. */
export function installWasmKernels(choice: WasmKernelChoice = {}): boolean {
  if (installed) return true;
  try {
    // Requiring the package registers its stock kernels; ours must be registered after them.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    require("@tensorflow/tfjs-backend-wasm");
  } catch {
    return false; // no wasm package: nothing to patch
  }
  stockSlice.cfg = tf.getKernel("Slice", "wasm");
  const useBlas = choice.nativeMatMul !== false && nativeMatMul().available;
  const groups: Array<[boolean, Array<[string, unknown]>]> = [
    [choice.slice !== false, [["Slice", sliceWasm], ["SplitV", splitVWasm]]],
    [choice.matMul !== false || useBlas, [["BatchMatMul", useBlas ? batchMatMulBlas : batchMatMulWasm]]],
    [choice.copies !== false, [["Identity", identityWasm], ["Cast", castWasm]]],
  ];
  for (const [on, kernels] of groups) {
    if (!on) continue;
    for (const [kernelName, kernelFunc] of kernels) {
      if (tf.getKernel(kernelName, "wasm")) tf.unregisterKernel(kernelName, "wasm");
      tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as tf.KernelFunc });
    }
  }
  installed = true;
  return true;
}
