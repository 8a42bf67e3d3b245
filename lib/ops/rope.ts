/**
 * Rotary position embedding as one registered kernel, `FlexRope`, with its gradient.
 *
 * HF convention (rotate_half): for each head, with the head's vector split in halves x₁, x₂ and
 * per-position angles a_i = pos · θ^(−2i/hd), i < hd/2:
 *     y₁ = x₁·cos a − x₂·sin a
 *     y₂ = x₂·cos a + x₁·sin a
 * This is a rotation, so its gradient is the inverse rotation (same formula with −sin): the kernel
 * takes `inverse` and the gradient calls the kernel again with `inverse` flipped.
 *
 * Why a kernel: composed from TF.js ops, rotate_half needs a slice/reverse + concat + 2 multiplies
 * + add per call and as many on the way back; on wasm `Reverse` alone cost ~9 ms per call at the
 * `cpu` preset (16 calls per step). A single pass over the [N, nH·hd] projection is ~1 ms.
 * Backends without the kernel (tfjs-node) use the composite version in `ropeComposite`.
 */
import * as tf from "../tf";
import { cpuValues, CpuBackendLike, TensorInfo, WasmBackendLike, wasmView } from "./raw";
import { KArgs, registerCpuWasm } from "./register";

export const ROPE = "FlexRope";

/**
 * x [R, W] with rows ordered (b, t), W = nHeads·hd; cos/sin [T, hd/2]. Writes y (same shape).
 * Pure loop shared by both backends.
 */
function ropeLoop(x: ArrayLike<number>, cos: ArrayLike<number>, sin: ArrayLike<number>, y: Float32Array, rows: number, width: number, hd: number, t: number, inverse: boolean): void {
  const half = hd / 2;
  const sgn = inverse ? -1 : 1;
  for (let r = 0; r < rows; r++) {
    const pos = r % t;
    const tb = pos * half;
    const rb = r * width;
    for (let h = 0; h < width; h += hd) {
      const o = rb + h;
      for (let i = 0; i < half; i++) {
        const c = cos[tb + i], s = sgn * sin[tb + i];
        const x1 = x[o + i], x2 = x[o + half + i];
        y[o + i] = x1 * c - x2 * s;
        y[o + half + i] = x2 * c + x1 * s;
      }
    }
  }
}

function attrsOf(args: KArgs, x: TensorInfo): { hd: number; t: number; inverse: boolean; rows: number; width: number } {
  const hd = Number(args.attrs?.headDim), t = Number(args.attrs?.seqLen);
  const [rows, width] = x.shape;
  if (x.shape.length !== 2 || width % hd !== 0 || rows % t !== 0) throw new Error(`FlexRope: x must be [B*T, nHeads*headDim] (got [${x.shape}], headDim ${hd}, T ${t})`);
  return { hd, t, inverse: Boolean(args.attrs?.inverse), rows, width };
}

function ropeWasm(args: KArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, cos, sin } = args.inputs as Record<string, TensorInfo>;
  const a = attrsOf(args, x);
  const out = backend.makeOutput(x.shape, "float32");
  ropeLoop(wasmView(backend, x), wasmView(backend, cos), wasmView(backend, sin), wasmView(backend, out) as Float32Array, a.rows, a.width, a.hd, a.t, a.inverse);
  return out;
}

function ropeCpu(args: KArgs): TensorInfo {
  const backend = args.backend as CpuBackendLike;
  const { x, cos, sin } = args.inputs as Record<string, TensorInfo>;
  const a = attrsOf(args, x);
  const y = new Float32Array(a.rows * a.width);
  ropeLoop(cpuValues(backend, x), cpuValues(backend, cos), cpuValues(backend, sin), y, a.rows, a.width, a.hd, a.t, a.inverse);
  return backend.makeTensorInfo(x.shape, "float32", y);
}

let installed = false;
export function installRope(): void {
  if (installed) return;
  registerCpuWasm(ROPE, { cpu: ropeCpu, wasm: ropeWasm }, "ifAbsent");
  tf.registerGradient({
    kernelName: ROPE,
    inputsToSave: ["cos", "sin"],
    gradFunc: (dy, saved, attrs) => {
      const [cos, sin] = saved;
      return {
        x: () => tf.engine().runKernel(ROPE, { x: dy as tf.Tensor, cos, sin } as unknown as tf.NamedTensorMap, { ...attrs, inverse: !attrs.inverse }) as tf.Tensor,
        cos: () => tf.zerosLike(cos),
        sin: () => tf.zerosLike(sin),
      };
    },
  });
  installed = true;
}

/** cos/sin tables [T, hd/2] as float32 (angles in float64, then rounded; HF computes them in float32 — ≤ 1 ulp apart). */
export function ropeAngles(t: number, hd: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = hd / 2;
  const cos = new Float32Array(t * half), sin = new Float32Array(t * half);
  for (let pos = 0; pos < t; pos++) {
    for (let i = 0; i < half; i++) {
      const invFreq = Math.fround(1 / Math.pow(theta, (2 * i) / hd));
      const ang = pos * invFreq;
      cos[pos * half + i] = Math.cos(ang);
      sin[pos * half + i] = Math.sin(ang);
    }
  }
  return { cos, sin };
}

/** Composite RoPE from TF.js ops (any backend): y = x·cos + rotate_half(x)·sin, rotate_half = cat(−x₂, x₁). */
function ropeComposite(x: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D, t: number, hd: number): tf.Tensor2D {
  const [rows, width] = x.shape;
  const nH = width / hd, b = rows / t, half = hd / 2;
  const x5 = tf.reshape(x, [b, t, nH, 2, half]); // [B, T, nH, 2, hd/2]
  const [x1, x2] = tf.split(x5, 2, 3); // each [B, T, nH, 1, hd/2]
  const c = tf.reshape(cos, [1, t, 1, 1, half]); // broadcast over B, heads
  const s = tf.reshape(sin, [1, t, 1, 1, half]);
  const y1 = tf.sub(tf.mul(x1, c), tf.mul(x2, s));
  const y2 = tf.add(tf.mul(x2, c), tf.mul(x1, s));
  return tf.reshape(tf.concat([y1, y2], 3), [rows, width]); // [B*T, nH*hd]
}

/**
 * Apply RoPE to a flat projection x [B*T, nHeads*hd] (rows ordered (b, t)); cos/sin [T, hd/2].
 * Uses the kernel where registered, the composite elsewhere (same math).
 */
export function rope(x: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D, t: number, hd: number): tf.Tensor2D {
  if (tf.getKernel(ROPE, tf.getBackend())) {
    return tf.engine().runKernel(ROPE, { x, cos, sin } as unknown as tf.NamedTensorMap, { headDim: hd, seqLen: t, inverse: false }) as tf.Tensor2D;
  }
  return ropeComposite(x, cos, sin, t, hd);
}

/** Exposed for tests: the composite path regardless of backend. */
export const ropeReference = ropeComposite;
