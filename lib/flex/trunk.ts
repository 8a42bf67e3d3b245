/**
 * Bit-level identity of tensors: the evidence behind FlexOlmo's coordination invariant
 * (docs/method.md §3, §4.1). Owners train against a frozen copy of the public model, so every
 * shared-trunk tensor of every owner must hash equal to the public model's; merge and the owner's
 * own invariant report compare these hashes.
 */
import { createHash } from "node:crypto";
import type * as tf from "@tensorflow/tfjs-core";
import type { ModelParams } from "../model/params";
import { paramEntries } from "../model/params";
import { valuesIfOnHost } from "../ops";

/** sha256 over dtype, shape and the raw little-endian bytes: equal hashes ⇔ bit-identical tensors. */
export function tensorHash(t: tf.Tensor): string {
  return bytesHash(`${t.dtype}:${t.shape.join("x")}:`, hostData(t));
}

/** sha256 over a header and an array's raw bytes (tensorHash's format). */
export function bytesHash(header: string, data: tf.TypedArray): string {
  const h = createHash("sha256");
  h.update(header);
  h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return h.digest("hex");
}

/**
 * A tensor's values for hashing. On GPU backends they must already be on the host: weights made from
 * host data keep a copy, and training reads its weights back after every call (lib/ops/host-reads.ts).
 */
export function hostData(t: tf.Tensor): tf.TypedArray {
  const data = valuesIfOnHost(t);
  if (!data) throw new Error(`a ${t.dtype} [${t.shape}] tensor's values are still on the GPU; read it back first (\`await readBack([t])\` from lib/ops)`);
  return data;
}

/** Row `row` of a 2-D tensor's host values ([C], a view; see hostData): a router row, without a device slice to read back. */
export function hostRow(t: tf.Tensor2D, row: number): tf.TypedArray {
  const c = t.shape[1];
  return hostData(t).subarray(row * c, (row + 1) * c);
}

/** sha256 of a float vector's bytes (a domain embedding, a router row): equal ⇔ bit-identical. */
export function vectorHash(v: Float32Array): string {
  return createHash("sha256").update(Buffer.from(v.buffer, v.byteOffset, v.byteLength)).digest("hex");
}

/** Names of the shared trunk: everything that is not part of the MoE block (router, bias, experts). */
export function isTrunkParam(name: string): boolean {
  return !/\.mlp\./.test(name);
}

/** sha256 of every shared-trunk tensor, keyed by canonical name. */
export function trunkHashes(p: ModelParams): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of paramEntries(p)) if (isTrunkParam(e.name)) out.set(e.name, tensorHash(e.tensor));
  return out;
}

/** One sha256 over every trunk tensor's hash: a public model's fingerprint. */
export function trunkFingerprint(p: ModelParams): string {
  const h = createHash("sha256");
  for (const [name, v] of trunkHashes(p)) h.update(`${name}=${v}\n`);
  return h.digest("hex");
}
