/**
 * `UnsortedSegmentSum` kernels for cpu and wasm: out[s] = Σ_{i : ids[i] = s} x[i].
 *
 * It is the gradient of `tf.gather` (embedding lookup, the MoE's row gathers) and the MoE's
 * scatter-add. wasm has no such kernel at all, and the cpu backend's builds one equal/multiply/sum
 * pass *per segment*: O(numSegments · N · C), 0.8 s for one embedding gradient with a 4096-token
 * vocabulary even at N = 32. One pass over the rows is O(N · C).
 */
import * as tf from "../tf";
import { cpuValues, CpuBackendLike, sizeOf, TensorInfo, WasmBackendLike, wasmView } from "./raw";
import { KArgs, registerCpuWasm } from "./register";

function geometry(args: KArgs): { x: TensorInfo; ids: TensorInfo; numSegments: number; nIds: number; inner: number; outShape: number[] } {
  const x = args.inputs.x as TensorInfo;
  const ids = args.inputs.segmentIds as TensorInfo;
  const numSegments = Number(args.attrs?.numSegments);
  if (x.dtype !== "float32" && x.dtype !== "int32") throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  if (ids.dtype !== "int32") throw new Error(`UnsortedSegmentSum: segmentIds must be int32 (got ${ids.dtype})`);
  if (!Number.isInteger(numSegments) || numSegments < 0) throw new Error(`UnsortedSegmentSum: numSegments must be an integer ≥ 0 (got ${numSegments})`);
  // segmentIds' shape is a prefix of x's shape: each id covers `inner` contiguous elements.
  const nIds = sizeOf(ids.shape);
  const inner = nIds === 0 ? 0 : sizeOf(x.shape) / nIds;
  return { x, ids, numSegments, nIds, inner, outShape: [numSegments, ...x.shape.slice(ids.shape.length)] };
}

function loop(xv: ArrayLike<number>, iv: ArrayLike<number>, o: Float32Array | Int32Array, nIds: number, inner: number, numSegments: number): void {
  o.fill(0);
  for (let i = 0; i < nIds; i++) {
    const s = iv[i];
    if (s < 0 || s >= numSegments) continue; // TF semantics: out-of-range ids are dropped
    const src = i * inner, dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xv[src + j];
  }
}

function segmentSumWasm(args: KArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const g = geometry(args);
  const out = backend.makeOutput(g.outShape, g.x.dtype);
  // Views only after makeOutput: the allocation may have grown (and moved) the heap.
  loop(wasmView(backend, g.x), wasmView(backend, g.ids), wasmView(backend, out), g.nIds, g.inner, g.numSegments);
  return out;
}

function segmentSumCpu(args: KArgs): TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const g = geometry(args);
  const size = sizeOf(g.outShape);
  const o = g.x.dtype === "int32" ? new Int32Array(size) : new Float32Array(size);
  loop(cpuValues(backend, g.x), cpuValues(backend, g.ids), o, g.nIds, g.inner, g.numSegments);
  return backend.makeTensorInfo(g.outShape, g.x.dtype, o);
}

let installed = false;
export function installSegmentSum(): void {
  if (installed) return;
  registerCpuWasm("UnsortedSegmentSum", { cpu: segmentSumCpu, wasm: segmentSumWasm }, "replace");
  installed = true;
}
