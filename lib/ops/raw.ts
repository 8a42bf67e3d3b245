/**
 * Raw access to a backend's tensor memory, for the few kernels we write ourselves.
 *
 * TF.js kernels receive `TensorInfo`s ({dataId, shape, dtype}) and a backend object. The two
 * backends we write kernels for store data differently:
 *  - `cpu`:  `backend.data.get(dataId).values` is a plain JS typed array.
 *  - `wasm`: `backend.dataIdMap.get(dataId)` gives a byte offset into the wasm heap; the C++ side
 *            knows the same buffer under a small integer id (`register_tensor`).
 * These are internal fields of TF.js 4.22 (pinned in package.json); every use goes through this
 * file so a TF.js upgrade has one place to fix. We never mutate a buffer we did not just create.
 */
import type * as tf from "@tensorflow/tfjs-core";

export type TensorInfo = { dataId: object; shape: number[]; dtype: tf.DataType };

/** The subset of the wasm backend we use. */
export interface WasmBackendLike {
  wasm: {
    HEAPU8: Uint8Array;
    cwrap: (name: string, ret: null | string, args: string[]) => (...a: unknown[]) => unknown;
    tfjs: { registerTensor: (id: number, size: number, offset: number) => void; disposeData: (id: number) => void };
  };
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number; shape: number[]; dtype: string } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** The subset of the cpu backend we use. */
export interface CpuBackendLike {
  data: { get(dataId: object): { values: Float32Array | Int32Array | Uint8Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array | Int32Array): TensorInfo;
  readSync(dataId: object): Float32Array | Int32Array | Uint8Array;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The batch shape of a batched matMul's output, or undefined when the two batch shapes cannot be
 * combined. Supported: equal batch shapes, or one side has a single matrix. (TF.js's general
 * broadcast of multi-axis batch shapes is not supported by the stock wasm kernel either.)
 */
export function broadcastBatch(outerA: number[], outerB: number[]): number[] | undefined {
  const batchA = sizeOf(outerA), batchB = sizeOf(outerB);
  if (batchA === batchB && outerA.join() === outerB.join()) return outerA;
  if (batchA === 1) return outerB;
  if (batchB === 1) return outerA;
  if (batchA === batchB && outerA.length !== outerB.length) return outerA.length >= outerB.length ? outerA : outerB;
  return undefined;
}

/** A Float32Array/Int32Array view of a wasm tensor (no copy). Re-create after any allocation: the heap may grow and move. */
export function wasmView(backend: WasmBackendLike, info: TensorInfo): Float32Array | Int32Array {
  const { memoryOffset } = backend.dataIdMap.get(info.dataId);
  const buf = backend.wasm.HEAPU8.buffer;
  const n = sizeOf(info.shape);
  if (info.dtype === "float32") return new Float32Array(buf, memoryOffset, n);
  if (info.dtype === "int32") return new Int32Array(buf, memoryOffset, n);
  throw new Error(`wasmView: unsupported dtype ${info.dtype}`);
}

/** Like wasmView, but bool tensors too (as Uint8Array 0/1). */
export function wasmViewAny(backend: WasmBackendLike, info: TensorInfo): Float32Array | Int32Array | Uint8Array {
  if (info.dtype === "bool") {
    const { memoryOffset } = backend.dataIdMap.get(info.dataId);
    return new Uint8Array(backend.wasm.HEAPU8.buffer, memoryOffset, sizeOf(info.shape));
  }
  return wasmView(backend, info);
}

/** The cpu backend's typed array for any numeric dtype, bool as Uint8Array (no copy). */
export function cpuValuesAny(backend: CpuBackendLike, info: TensorInfo): Float32Array | Int32Array | Uint8Array {
  return backend.data.get(info.dataId).values;
}

/** The cpu backend's own typed array for a tensor (no copy). */
export function cpuValues(backend: CpuBackendLike, info: TensorInfo): Float32Array | Int32Array {
  const v = backend.data.get(info.dataId).values;
  if (v instanceof Float32Array || v instanceof Int32Array) return v;
  // bool tensors are stored as Uint8Array; read them as int32 (copy).
  return Int32Array.from(v);
}
