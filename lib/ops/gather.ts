/**
 * Row gathers, the MoE dispatch's workhorse: `GatherV2` kernels for cpu and wasm, and a lean
 * gradient for `UnsortedSegmentSum` (whose gradient is itself a gather).
 *
 * Why: the stock wasm GatherV2 computes a strided index per *element* (~50 ns each); gathering
 * [N·k, C] rows for the sparse expert dispatch cost ~0.5 s per training step in the 8-expert top-4
 * benchmark. Copying whole slices with `TypedArray.set` is ~20× faster. The stock gradient of
 * UnsortedSegmentSum guards against negative ids with a `logicalAnd` against a ones tensor of the
 * full gathered shape and a `where` (another ~0.4 s per step there); we read the (small) id vector
 * once and only pay for that when an id really is negative.
 *
 * Only `batchDims = 0` is handled here; other calls go to the stock kernel.
 */
import * as tf from "../tf";
import { cpuValues, CpuBackendLike, sizeOf, TensorInfo, WasmBackendLike, wasmView } from "./raw";
import { KArgs, registerCpuWasm } from "./register";
import { valuesIfOnHost } from "./host-reads";

interface GatherGeom {
  outer: number; // product of x.shape[:axis]
  dim: number; // x.shape[axis]
  inner: number; // product of x.shape[axis+1:]
  nIdx: number;
  outShape: number[];
}

function geometry(x: TensorInfo, indices: TensorInfo, axisAttr: number): GatherGeom {
  const axis = axisAttr < 0 ? axisAttr + x.shape.length : axisAttr;
  const outer = sizeOf(x.shape.slice(0, axis)), dim = x.shape[axis], inner = sizeOf(x.shape.slice(axis + 1));
  return { outer, dim, inner, nIdx: sizeOf(indices.shape), outShape: [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)] };
}

/** out[o, i, :] = x[o, idx[i], :], with a clear error for an out-of-range index (as the stock kernels). */
function gatherLoop(x: Float32Array | Int32Array, idx: Float32Array | Int32Array, out: Float32Array | Int32Array, g: GatherGeom): void {
  for (let i = 0; i < g.nIdx; i++) {
    const v = idx[i];
    if (!(v >= 0 && v < g.dim)) throw new Error(`GatherV2: the index value ${v} is not in [0, ${g.dim - 1}]`);
  }
  const { outer, dim, inner, nIdx } = g;
  for (let o = 0; o < outer; o++) {
    const xb = o * dim * inner, ob = o * nIdx * inner;
    for (let i = 0; i < nIdx; i++) {
      const src = xb + idx[i] * inner;
      out.set(x.subarray(src, src + inner), ob + i * inner);
    }
  }
}

const stock = new Map<string, tf.KernelConfig>();

function gatherWasm(args: KArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, indices } = args.inputs as Record<string, TensorInfo>;
  if (Number(args.attrs?.batchDims ?? 0) !== 0 || (x.dtype !== "float32" && x.dtype !== "int32")) return stock.get("wasm")!.kernelFunc(args as never) as TensorInfo;
  const g = geometry(x, indices, Number(args.attrs?.axis ?? 0));
  const out = backend.makeOutput(g.outShape, x.dtype);
  if (sizeOf(g.outShape) > 0) gatherLoop(wasmView(backend, x), wasmView(backend, indices), wasmView(backend, out), g);
  return out;
}

function gatherCpu(args: KArgs): TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const { x, indices } = args.inputs as Record<string, TensorInfo>;
  if (Number(args.attrs?.batchDims ?? 0) !== 0 || (x.dtype !== "float32" && x.dtype !== "int32")) return stock.get("cpu")!.kernelFunc(args as never) as TensorInfo;
  const g = geometry(x, indices, Number(args.attrs?.axis ?? 0));
  const out = x.dtype === "int32" ? new Int32Array(sizeOf(g.outShape)) : new Float32Array(sizeOf(g.outShape));
  if (out.length > 0) gatherLoop(cpuValues(backend, x), cpuValues(backend, indices), out, g);
  return backend.makeTensorInfo(g.outShape, x.dtype, out);
}

let installed = false;
export function installGather(): void {
  if (installed) return;
  registerCpuWasm("GatherV2", { cpu: gatherCpu, wasm: gatherWasm }, "wrap", stock);
  tf.registerGradient({
    kernelName: "UnsortedSegmentSum",
    inputsToSave: ["segmentIds"],
    gradFunc: (dy, saved) => {
      const ids = saved[0];
      return {
        x: () => {
          const g = dy as tf.Tensor;
          // Ids on a device that cannot be read without a stall (webgpu) take the general path below.
          const v = valuesIfOnHost(ids);
          let allValid = v !== undefined;
          if (v) for (let i = 0; i < v.length; i++) if (v[i] < 0) allValid = false;
          if (allValid) return tf.gather(g, ids);
          // Negative ids were dropped in the forward pass: their rows get zero gradient.
          return tf.tidy(() => {
            const clipped = tf.maximum(ids, tf.scalar(0, "int32"));
            const keep = tf.cast(tf.greaterEqual(ids, 0), "float32");
            const gathered = tf.gather(g, clipped);
            const k = tf.reshape(keep, [...keep.shape, ...new Array(gathered.rank - keep.rank).fill(1)]);
            return tf.mul(gathered, k);
          });
        },
      };
    },
  });
  installed = true;
}
