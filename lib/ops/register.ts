/**
 * Registering our cpu and wasm kernels: the one loop every custom op in lib/ops runs at install.
 *
 * Kernels are registered per backend *name*, so this works before either backend initialises.
 * What to do with a kernel already registered under the name differs by op, and is the `mode`:
 *  - "ifAbsent": our own kernel name (FlexRope, FlexXentGrad); an existing one is ours from an
 *    earlier install and is left as is.
 *  - "replace":  a stock TF.js kernel we replace outright (or add, where the backend has none).
 *  - "wrap":     a stock kernel we replace only where it exists, keeping it in `stock` for the
 *    calls we delegate back to it, and keeping its setup (wasm: the cwrap of its C++ entry point)
 *    and dispose functions, which those delegated calls need.
 */
import * as tf from "../tf";

/** The arguments TF.js passes a kernel function. */
export type KArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

export type RegisterMode = "ifAbsent" | "replace" | "wrap";

/** Our kernel functions, typed on their own argument shapes; TF.js's KernelFunc type is wider. */
type OurKernel = (args: never) => unknown;

export function registerCpuWasm(
  kernelName: string,
  kernels: { cpu: OurKernel; wasm: OurKernel },
  mode: RegisterMode,
  stock?: Map<string, tf.KernelConfig>,
): void {
  for (const backendName of ["cpu", "wasm"] as const) {
    const kernelFunc = kernels[backendName] as unknown as tf.KernelFunc;
    const existing = tf.getKernel(kernelName, backendName);
    if (mode === "ifAbsent") {
      if (!existing) tf.registerKernel({ kernelName, backendName, kernelFunc });
    } else if (mode === "replace") {
      if (existing) tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({ kernelName, backendName, kernelFunc });
    } else {
      if (!existing) continue;
      stock?.set(backendName, existing);
      tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({ kernelName, backendName, kernelFunc, setupFunc: existing.setupFunc, disposeFunc: existing.disposeFunc });
    }
  }
}
