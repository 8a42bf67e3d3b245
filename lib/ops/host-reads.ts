/**
 * Where the engine may read tensors back to the host in the middle of a forward or training step.
 *
 * On cpu, wasm and tfjs-node a tensor's values live in host memory (or one cheap copy away), so the
 * MoE reads router probabilities to pick each token's top-k and sizes each expert's batch from them
 * (the sparse dispatch: an expert computes only on its own tokens). On the webgpu backend a read is
 * a round trip that waits for every queued kernel, and a *synchronous* read works only through the
 * browser's OffscreenCanvas, which Node does not have. There the engine keeps routing on the device
 * (tf.topk → one-hot mask → every included expert on every token, weighted) and reads once per step,
 * asynchronously (lib/train/trainer.ts).
 *
 * FLEXOLMO_ROUTING=device forces the device path on any backend (the tests compare it with the host
 * path on cpu); FLEXOLMO_ROUTING=host forces the host path (it fails on webgpu under Node).
 */
import * as tf from "../tf";

export type RoutingPlace = "host" | "device";

/** The routing place for the active backend (see the file comment). */
export function routingPlace(): RoutingPlace {
  const env = process.env.FLEXOLMO_ROUTING;
  if (env === "device" || env === "host") return env;
  if (env !== undefined && env !== "" && env !== "auto") throw new Error(`FLEXOLMO_ROUTING must be "host", "device" or "auto" (got ${JSON.stringify(env)})`);
  return tf.getBackend() === "webgpu" ? "device" : "host";
}

/**
 * A tensor's values if they can be had without waiting on a device: always on host backends; on
 * webgpu only while the values still sit in host memory (a tensor made from a JS array and not yet
 * uploaded, or one already read back). Undefined otherwise. Reads tfjs-backend-webgpu's tensor map,
 * an internal (4.22) — if its shape changes we return undefined, which only skips a check.
 */
export function valuesIfOnHost(t: tf.Tensor): tf.TypedArray | undefined {
  if (tf.getBackend() !== "webgpu") return t.dataSync();
  const be = tf.engine().backend as unknown as { tensorMap?: { get(id: unknown): { values?: tf.TypedArray | null } | undefined } };
  const values = be.tensorMap?.get(t.dataId)?.values;
  return values ?? undefined;
}

/**
 * Make these tensors' values readable on the host without a stall: on webgpu, read each one back
 * (asynchronously) once; tfjs-backend-webgpu then keeps the host copy, so later synchronous reads
 * (hashes, saving, invariant checks) are served from it. A no-op on host backends.
 */
export async function readBack(tensors: tf.Tensor[]): Promise<void> {
  if (tf.getBackend() !== "webgpu") return;
  await Promise.all(tensors.map((t) => (t.isDisposed ? undefined : t.data())));
}

/** The part of tfjs-backend-webgpu 4.22's WebGPUBackend that `keepHostCopies` patches. */
interface WebgpuBackendInternals {
  tensorMap: { get(id: unknown): { values?: unknown; resource?: unknown } | undefined };
  uploadToGPU(dataId: unknown): void;
  flexKeepsHostCopies?: boolean;
}

/**
 * tfjs-backend-webgpu drops a tensor's host values when it first uploads them to the GPU. Keep them:
 * tensors made from host data (weights loaded from a checkpoint, frozen public weights, batches) then
 * stay readable synchronously — what the coordination invariant's hashes and saving need — at the
 * cost of one host copy of data the process had in host memory anyway. Results of GPU kernels are
 * not affected (they have no host values until read back). Reaches into the backend's internals
 * (pinned at 4.22.0, an exact peer dependency); if they are not there, nothing is patched and the
 * callers' `readBack` still works.
 */
export function keepHostCopies(backend: unknown): boolean {
  const be = backend as Partial<WebgpuBackendInternals>;
  if (!be || typeof be.uploadToGPU !== "function" || !be.tensorMap) return false;
  if (be.flexKeepsHostCopies) return true;
  const upload = be.uploadToGPU.bind(be);
  const map = be.tensorMap;
  be.uploadToGPU = (dataId: unknown) => {
    const d = map.get(dataId);
    const values = d?.values;
    upload(dataId);
    if (d && values != null && d.values == null && d.resource != null) d.values = values;
  };
  be.flexKeepsHostCopies = true;
  return true;
}
